package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/logging"
	"github.com/bizmcp/bizmcp/views"
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

// statusOf maps the error vocabulary to HTTP statuses, once for the server.
func statusOf(code apperr.Code) int {
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

// handleError is Echo's error handler: it renders any error returned by a
// handler or middleware as problem+json (API, non-browser clients) or as an
// HTML page (browsers on page routes), and logs server-side failures.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, detail := http.StatusInternalServerError, apperr.MessageOf(err)
	var he *echo.HTTPError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		status, detail = http.StatusRequestEntityTooLarge, tooLargeDetail(s.deps.MaxBodyBytes)
	case errors.As(err, &he):
		status = he.Code
		detail = httpErrorDetail(he)
	default:
		status = statusOf(apperr.CodeOf(err))
	}
	req := c.Request()
	ctx := req.Context()
	if status >= 500 {
		s.deps.Logger.ErrorContext(ctx, "request failed", "status", status, "err", err)
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
	case wantsHTML(req):
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(status)
		werr = views.ErrorPage(status, title, detail, requestID).Render(ctx, c.Response())
	default:
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		prob := Problem{Type: "about:blank", Title: title, Status: status, Detail: detail, Instance: req.URL.Path, RequestID: requestID}
		var execErr executionError
		if errors.As(err, &execErr) {
			prob.ExecutionID = execErr.id.String()
		}
		werr = c.JSON(status, prob)
	}
	if werr != nil {
		s.deps.Logger.WarnContext(ctx, "could not write error response", "err", werr)
	}
}

// wantsHTML reports a browser asking for a page outside the API.
func wantsHTML(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasSuffix(r.URL.Path, "/mcp") {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

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

func tooLargeDetail(limit int64) string {
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
