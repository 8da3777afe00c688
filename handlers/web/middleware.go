package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/logging"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
)

// HeaderRequestID carries the request id, in and out.
const HeaderRequestID = "X-Request-Id"

// RequestID gives every request an id (a well-formed incoming one is kept,
// for tracing through a proxy), echoes it in the response and puts it in the
// context for the logger.
func (m *Middleware) RequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(HeaderRequestID, id)
		c.SetRequest(c.Request().WithContext(logging.WithRequestID(c.Request().Context(), id)))
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// AccessLog writes one line per request, after the error handler ran so the
// status is the one the client saw.
func (m *Middleware) AccessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req := c.Request()
		m.cfg.Logger.InfoContext(req.Context(), "http request",
			"method", req.Method, "path", req.URL.Path, "status", c.Response().Status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"bytes", c.Response().Size, "ip", c.RealIP())
		return nil
	}
}

// RecoverPanic turns a panic in a handler into a 500 for that request only.
func (m *Middleware) RecoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				m.cfg.Logger.ErrorContext(c.Request().Context(), "handler panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = apperr.E(apperr.Internal, "internal error")
			}
		}()
		return next(c)
	}
}

// Measure counts requests and their latency by route pattern (never by raw
// path, which would make one series per id).
func (m *Middleware) Measure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		method := c.Request().Method
		m.cfg.Metrics.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		m.cfg.Metrics.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// LimitBody refuses declared oversized bodies at once and caps undeclared
// (chunked) ones while they are read.
func (m *Middleware) LimitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > m.cfg.MaxBodyBytes {
			return apperr.E(apperr.TooLarge, "%s", TooLargeDetail(m.cfg.MaxBodyBytes))
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, m.cfg.MaxBodyBytes)
		}
		return next(c)
	}
}

// Authenticate runs the key verification chain (exists, active, not expired,
// rate limit) and sets the RateLimit-* headers. Requests without a usable key
// also count against their IP's limit, which bounds the database lookups an
// anonymous client can cause.
func (m *Middleware) Authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		presented, err := PresentedKey(req)
		if err == nil {
			var p auth.Principal
			var res ratelimit.Result
			p, res, err = m.cfg.Keys.Verify(req.Context(), presented)
			if res.Limit > 0 {
				SetRateLimitHeaders(c, res)
			}
			if err == nil {
				c.SetRequest(req.WithContext(WithPrincipal(req.Context(), p)))
				return next(c)
			}
			if apperr.Is(err, apperr.RateLimited) {
				m.cfg.Metrics.RateLimitRejections.WithLabelValues("api_key").Inc()
				return err
			}
		}
		if apperr.Is(err, apperr.Unauthorized) {
			m.cfg.Metrics.AuthFailures.WithLabelValues("401").Inc()
			if limitErr := m.CheckIP(c); limitErr != nil {
				return limitErr
			}
		}
		return err
	}
}

// PresentedKey extracts the API key from `Authorization: Bearer <key>` or
// `X-API-Key: <key>`.
func PresentedKey(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", apperr.E(apperr.Unauthorized, "the Authorization header must be `Bearer <API key>`")
		}
		return strings.TrimSpace(token), nil
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key")), nil
}

// Require refuses principals without scope (403). It runs after
// authenticate, so a bad key is a 401 before it can be a 403.
func (m *Middleware) Require(scope auth.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := PrincipalOf(c)
			if !ok {
				return apperr.E(apperr.Unauthorized, "an API key is required")
			}
			if err := p.Require(scope); err != nil {
				m.cfg.Metrics.AuthFailures.WithLabelValues("403").Inc()
				return err
			}
			return next(c)
		}
	}
}

// LimitByIP applies the per-client-IP limit to unauthenticated routes.
func (m *Middleware) LimitByIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := m.CheckIP(c); err != nil {
			return err
		}
		return next(c)
	}
}

func (m *Middleware) CheckIP(c echo.Context) error {
	res, err := m.cfg.IPLimiter.Allow(c.Request().Context(), "ip:"+c.RealIP(), m.cfg.IPRateLimitPerMinute)
	if err != nil {
		if c.Request().Context().Err() != nil {
			return err
		}
		// The limiter falls back in process on its own; an error here is
		// a bug, and refusing every anonymous request for it would be worse.
		m.cfg.Logger.WarnContext(c.Request().Context(), "IP rate limit check failed; allowing", "err", err)
		return nil
	}
	SetRateLimitHeaders(c, res)
	if !res.Allowed {
		m.cfg.Metrics.RateLimitRejections.WithLabelValues("ip").Inc()
		return apperr.E(apperr.RateLimited, "too many requests from this address: at most %d per minute; retry in %s", res.Limit, res.RetryAfter.Round(time.Second))
	}
	return nil
}

// SetRateLimitHeaders writes the RateLimit-* headers (IETF draft, in
// seconds) and Retry-After on a refusal.
func SetRateLimitHeaders(c echo.Context, res ratelimit.Result) {
	h := c.Response().Header()
	h.Set("RateLimit-Limit", strconv.Itoa(res.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(res.Remaining, 0)))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(res.ResetAfter)))
	if !res.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(ceilSeconds(res.RetryAfter), 1)))
	}
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
