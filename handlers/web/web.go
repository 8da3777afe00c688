// Package web is what bizmcp's HTTP surfaces share: the middleware every
// request passes (request id, logging, metrics, panic recovery, body limit,
// API keys, rate limits, Origin checks), the one error handler that maps the
// error vocabulary to problem+json or an HTML page, and request decoding.
// The REST API (handlers/api), the dashboard (handlers/dashboard) and the MCP
// mount (handlers) are built on it and know nothing of each other.
package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
)

// KeyVerifier runs the API key verification chain.
type KeyVerifier interface {
	Verify(ctx context.Context, presented string) (auth.Principal, ratelimit.Result, error)
}

// HTMLErrorRenderer renders an error page for a browser; the dashboard
// provides it so that errors on its routes appear in its layout.
type HTMLErrorRenderer func(c echo.Context, status int, title, detail, requestID string) error

// Config is what the shared middleware is built from.
type Config struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Keys    KeyVerifier
	// IPLimiter limits unauthenticated requests per client IP.
	IPLimiter            ratelimit.Limiter
	IPRateLimitPerMinute int
	MaxBodyBytes         int64
	// PublicURL, when set, is the origin browsers reach the server at
	// (behind a proxy): it is trusted as an Origin and as a Host.
	PublicURL string
}

// Middleware holds the shared middleware and the error handler.
type Middleware struct {
	cfg         Config
	crossOrigin *http.CrossOriginProtection
	htmlErrors  HTMLErrorRenderer
}

// NewMiddleware builds the shared middleware.
func NewMiddleware(cfg Config) *Middleware {
	m := &Middleware{cfg: cfg, crossOrigin: http.NewCrossOriginProtection()}
	if cfg.PublicURL != "" {
		if err := m.crossOrigin.AddTrustedOrigin(m.PublicOrigin()); err != nil {
			cfg.Logger.Warn("PUBLIC_URL is not usable as a trusted origin", "err", err)
		}
	}
	return m
}

// SetHTMLErrors sets how errors on page routes are rendered. Without it,
// every error is problem+json.
func (m *Middleware) SetHTMLErrors(r HTMLErrorRenderer) { m.htmlErrors = r }

// Logger is the server's logger.
func (m *Middleware) Logger() *slog.Logger { return m.cfg.Logger }

// MaxBodyBytes is the request body limit.
func (m *Middleware) MaxBodyBytes() int64 { return m.cfg.MaxBodyBytes }

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated caller. The request
// context is the one place the caller is kept, so Echo handlers and plain
// http.Handlers (the MCP SDK) read it the same way.
func WithPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated caller carried by ctx.
func PrincipalFrom(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	return p, ok
}

// PrincipalOf returns the authenticated caller of the request.
func PrincipalOf(c echo.Context) (auth.Principal, bool) {
	return PrincipalFrom(c.Request().Context())
}
