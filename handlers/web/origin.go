package web

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// GuardOrigin refuses requests a browser sends on behalf of another site,
// before authentication: a foreign Origin (any method: the MCP GET stream
// and WebSocket upgrades count too), a cross-site request without Origin
// (http.CrossOriginProtection reads Sec-Fetch-Site), and a non-local Host on
// a loopback listener (DNS rebinding). Clients that are not browsers send no
// Origin and pass.
func (m *Middleware) GuardOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := m.CheckOrigin(c.Request()); err != nil {
			return err
		}
		return next(c)
	}
}

// CheckOrigin is GuardOrigin's test, for handlers that check by hand.
func (m *Middleware) CheckOrigin(r *http.Request) error {
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopback(local.String()) && !isLoopback(r.Host) && !m.trustedHost(r.Host) {
		return apperr.E(apperr.Forbidden, "Host %q is not this server's: requests to a loopback listener must name localhost (DNS rebinding protection)", apperr.Truncate(r.Host, 100))
	}
	if origin := r.Header.Get("Origin"); origin != "" && !m.TrustedOrigin(origin, r.Host) {
		return apperr.E(apperr.Forbidden, "cross-origin request from %q refused; set PUBLIC_URL to this server's address if it is served behind a proxy", apperr.Truncate(origin, 100))
	}
	if err := m.crossOrigin.Check(r); err != nil {
		return apperr.E(apperr.Forbidden, "cross-origin request refused: %v", err)
	}
	return nil
}

// TrustedOrigin accepts the server's own origin (same host as requested)
// and PUBLIC_URL's.
func (m *Middleware) TrustedOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return m.cfg.PublicURL != "" && strings.EqualFold(strings.TrimRight(origin, "/"), m.PublicOrigin())
}

func (m *Middleware) trustedHost(host string) bool {
	if m.cfg.PublicURL == "" {
		return false
	}
	u, err := url.Parse(m.cfg.PublicURL)
	return err == nil && strings.EqualFold(u.Host, host)
}

// PublicOrigin is PUBLIC_URL's scheme and host ("" when unset).
func (m *Middleware) PublicOrigin() string {
	u, err := url.Parse(m.cfg.PublicURL)
	if err != nil || m.cfg.PublicURL == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// isLoopback reports whether addr (host or host:port) is a loopback name or
// address.
func isLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
