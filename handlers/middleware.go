package handlers

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

const headerRequestID = "X-Request-Id"

// requestID gives every request an id (a well-formed incoming one is kept,
// for tracing through a proxy), echoes it in the response and puts it in the
// context for the logger.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(headerRequestID, id)
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

// accessLog writes one line per request, after the error handler ran so the
// status is the one the client saw.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req := c.Request()
		s.deps.Logger.InfoContext(req.Context(), "http request",
			"method", req.Method, "path", req.URL.Path, "status", c.Response().Status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"bytes", c.Response().Size, "ip", c.RealIP())
		return nil
	}
}

// recoverPanic turns a panic in a handler into a 500 for that request only.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.deps.Logger.ErrorContext(c.Request().Context(), "handler panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = apperr.E(apperr.Internal, "internal error")
			}
		}()
		return next(c)
	}
}

// measure counts requests and their latency by route pattern (never by raw
// path, which would make one series per id).
func (s *Server) measure(next echo.HandlerFunc) echo.HandlerFunc {
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
		s.deps.Metrics.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		s.deps.Metrics.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// limitBody refuses declared oversized bodies at once and caps undeclared
// (chunked) ones while they are read.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.deps.MaxBodyBytes {
			return apperr.E(apperr.TooLarge, "%s", tooLargeDetail(s.deps.MaxBodyBytes))
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, s.deps.MaxBodyBytes)
		}
		return next(c)
	}
}

// ctxPrincipal is the echo.Context key of the authenticated caller.
const ctxPrincipal = "bizmcp.principal"

// principalOf returns the authenticated caller of the request.
func principalOf(c echo.Context) (auth.Principal, bool) {
	p, ok := c.Get(ctxPrincipal).(auth.Principal)
	return p, ok
}

// authenticate runs the key verification chain (exists, active, not expired,
// rate limit) and sets the RateLimit-* headers. Requests without a usable key
// also count against their IP's limit, which bounds the database lookups an
// anonymous client can cause.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		presented, err := presentedKey(req)
		if err == nil {
			var p auth.Principal
			var res ratelimit.Result
			p, res, err = s.deps.Keys.Verify(req.Context(), presented)
			if res.Limit > 0 {
				setRateLimitHeaders(c, res)
			}
			if err == nil {
				c.Set(ctxPrincipal, p)
				return next(c)
			}
			if apperr.Is(err, apperr.RateLimited) {
				s.deps.Metrics.RateLimitRejections.WithLabelValues("api_key").Inc()
				return err
			}
		}
		if apperr.Is(err, apperr.Unauthorized) {
			s.deps.Metrics.AuthFailures.WithLabelValues("401").Inc()
			if limitErr := s.checkIP(c); limitErr != nil {
				return limitErr
			}
		}
		return err
	}
}

// presentedKey extracts the API key from `Authorization: Bearer <key>` or
// `X-API-Key: <key>`.
func presentedKey(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", apperr.E(apperr.Unauthorized, "the Authorization header must be `Bearer <API key>`")
		}
		return strings.TrimSpace(token), nil
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key")), nil
}

// require refuses principals without scope (403). It runs after
// authenticate, so a bad key is a 401 before it can be a 403.
func (s *Server) require(scope auth.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := principalOf(c)
			if !ok {
				return apperr.E(apperr.Unauthorized, "an API key is required")
			}
			if err := p.Require(scope); err != nil {
				s.deps.Metrics.AuthFailures.WithLabelValues("403").Inc()
				return err
			}
			return next(c)
		}
	}
}

// limitByIP applies the per-client-IP limit to unauthenticated routes.
func (s *Server) limitByIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.checkIP(c); err != nil {
			return err
		}
		return next(c)
	}
}

func (s *Server) checkIP(c echo.Context) error {
	res, err := s.deps.IPLimiter.Allow(c.Request().Context(), "ip:"+c.RealIP(), s.deps.IPRateLimitPerMinute)
	if err != nil {
		if c.Request().Context().Err() != nil {
			return err
		}
		// The limiter falls back in process on its own; an error here is
		// a bug, and refusing every anonymous request for it would be worse.
		s.deps.Logger.WarnContext(c.Request().Context(), "IP rate limit check failed; allowing", "err", err)
		return nil
	}
	setRateLimitHeaders(c, res)
	if !res.Allowed {
		s.deps.Metrics.RateLimitRejections.WithLabelValues("ip").Inc()
		return apperr.E(apperr.RateLimited, "too many requests from this address: at most %d per minute; retry in %s", res.Limit, res.RetryAfter.Round(time.Second))
	}
	return nil
}

// setRateLimitHeaders writes the RateLimit-* headers (IETF draft, in
// seconds) and Retry-After on a refusal.
func setRateLimitHeaders(c echo.Context, res ratelimit.Result) {
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
