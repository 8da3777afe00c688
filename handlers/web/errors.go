package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/logging"
)

// Problem is an RFC 9457 problem document, the body of every API error.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// ExecutionID names the recorded tool execution that failed.
	ExecutionID string `json:"execution_id,omitempty"`
}

// StatusOf maps the error vocabulary to HTTP statuses, once for the server.
func StatusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	case apperr.Canceled:
		return 499 // the client closed the request; it will not read this

	}
	return http.StatusInternalServerError
}

// HandleError is Echo's error handler: it renders any error returned by a
// handler or middleware as problem+json (API, non-browser clients) or as an
// HTML page (browsers on page routes), and logs server-side failures.
func (m *Middleware) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, detail := http.StatusInternalServerError, apperr.MessageOf(err)
	var he *echo.HTTPError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		status, detail = http.StatusRequestEntityTooLarge, TooLargeDetail(m.cfg.MaxBodyBytes)
	case errors.As(err, &he):
		status = he.Code
		detail = httpErrorDetail(he)
	default:
		status = StatusOf(apperr.CodeOf(err))
	}
	req := c.Request()
	ctx := req.Context()
	if status >= 500 {
		m.cfg.Logger.ErrorContext(ctx, "request failed", "status", status, "err", err)
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="bizmcp"`)
	}
	requestID := logging.RequestID(ctx)
	title := http.StatusText(status)
	var werr error
	switch {
	case req.Method == http.MethodHead:
		werr = c.NoContent(status)
	case m.htmlErrors != nil && IsPageRoute(req):
		werr = m.htmlErrors(c, status, title, detail, requestID)
	default:
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		prob := Problem{Type: "about:blank", Title: title, Status: status, Detail: detail, Instance: req.URL.Path, RequestID: requestID}
		var execErr ExecutionError
		if errors.As(err, &execErr) {
			prob.ExecutionID = execErr.ID.String()
		}
		werr = c.JSON(status, prob)
	}
	if werr != nil {
		m.cfg.Logger.WarnContext(ctx, "could not write error response", "err", werr)
	}
}

// IsPageRoute reports whether a request is for the dashboard's pages rather
// than a machine interface (REST, MCP, metrics, static files), whose errors
// stay problem+json whatever the client accepts.
func IsPageRoute(r *http.Request) bool {
	p := r.URL.Path
	for _, prefix := range []string{"/api/", "/mcp", "/conformance/", "/metrics", "/static/"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}

// ExecutionError is a failed tool run that was recorded: the problem
// document names the record.
type ExecutionError struct {
	Err error
	ID  uuid.UUID
}

func (e ExecutionError) Error() string { return e.Err.Error() }
func (e ExecutionError) Unwrap() error { return e.Err }

func httpErrorDetail(he *echo.HTTPError) string {
	switch he.Code {
	case http.StatusNotFound:
		return "no such resource: check the path (the API lives under /api/v1)"
	case http.StatusMethodNotAllowed:
		return "this method is not allowed on this path"
	case http.StatusRequestEntityTooLarge:
		return "the request body is too large"
	}
	if m, ok := he.Message.(string); ok {
		return m
	}
	return http.StatusText(he.Code)
}

// TooLargeDetail says what the body limit is.
func TooLargeDetail(limit int64) string {
	return "the request body exceeds the limit of " + humanBytes(limit) + " (MAX_BODY_BYTES)"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
