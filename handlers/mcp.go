package handlers

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/mcpserver"
)

// mcpHandler serves the MCP server over Streamable HTTP. The bearer
// middleware only hands the principal that authenticate already verified to
// the SDK (as TokenInfo), so tools see the caller and each session stays
// bound to the key that opened it.
func (s *Server) mcpHandler(server *mcp.Server) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{
		Logger:              s.deps.Logger,
		MaxRequestBodyBytes: s.deps.MaxBodyBytes,
	})
	verify := func(ctx context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
		p, ok := r.Context().Value(principalCtxKey{}).(auth.Principal)
		if !ok {
			return nil, sdkauth.ErrInvalidToken
		}
		return mcpserver.TokenInfo(p), nil
	}
	return sdkauth.RequireBearerToken(verify, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
}

// principalCtxKey carries the principal in the request context, for
// handlers that are plain http.Handlers (the MCP SDK).
type principalCtxKey struct{}

// bearerForMCP passes the verified principal down to the SDK handler, and
// presents an X-API-Key as a bearer token, which is all the SDK reads.
func bearerForMCP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, ok := principalOf(c)
		if !ok {
			return apperr.E(apperr.Unauthorized, "an API key is required")
		}
		req := c.Request()
		if req.Header.Get("Authorization") == "" {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(req.Header.Get("X-API-Key")))
		}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), principalCtxKey{}, p)))
		return next(c)
	}
}

// guardOrigin refuses requests a browser sends on behalf of another site,
// before authentication: a foreign Origin (any method: the MCP GET stream
// counts too), a cross-site fetch without Origin (http.CrossOriginProtection
// reads Sec-Fetch-Site), and a non-local Host on a loopback listener (DNS
// rebinding). Clients that are not browsers send no Origin and pass.
func (s *Server) guardOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopback(local.String()) && !isLoopback(r.Host) && !s.trustedHost(r.Host) {
			return apperr.E(apperr.Forbidden, "Host %q is not this server's: requests to a loopback listener must name localhost (DNS rebinding protection)", apperr.Truncate(r.Host, 100))
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.trustedOrigin(origin, r.Host) {
			return apperr.E(apperr.Forbidden, "cross-origin request from %q refused; set PUBLIC_URL to this server's address if it is served behind a proxy", apperr.Truncate(origin, 100))
		}
		if err := s.crossOrigin.Check(r); err != nil {
			return apperr.E(apperr.Forbidden, "cross-origin request refused: %v", err)
		}
		return next(c)
	}
}

// trustedOrigin accepts the server's own origin (same host as requested) and
// PUBLIC_URL's.
func (s *Server) trustedOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return s.deps.PublicURL != "" && strings.EqualFold(strings.TrimRight(origin, "/"), s.publicOrigin())
}

func (s *Server) trustedHost(host string) bool {
	if s.deps.PublicURL == "" {
		return false
	}
	u, err := url.Parse(s.deps.PublicURL)
	return err == nil && strings.EqualFold(u.Host, host)
}

func (s *Server) publicOrigin() string {
	u, err := url.Parse(s.deps.PublicURL)
	if err != nil {
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
