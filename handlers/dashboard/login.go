package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/views"
)

// maxKeyField bounds what the sign-in form's key field may hold: a key is
// 48 characters; anything much longer is not one.
const maxKeyField = 256

func (h *Handler) loginPage(c echo.Context) error {
	// Already signed in: nothing to do here.
	if _, err := h.lookupSession(c); err == nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.render(c, http.StatusOK, views.LoginPage(views.Frame{Title: "Sign in"}, safeNext(c.QueryParam("next")), ""))
}

// login signs in with an admin API key. Attempts are limited per client
// IP; failures are counted and logged without the key.
func (h *Handler) login(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	next := safeNext(c.FormValue("next"))
	refuse := func(status int, outcome, msg string) error {
		h.deps.Metrics.DashboardLogins.WithLabelValues(outcome).Inc()
		h.deps.Logger.WarnContext(ctx, "dashboard sign-in refused", "outcome", outcome, "ip", c.RealIP())
		c.Response().Header().Set("Cache-Control", "no-store")
		return h.render(c, status, views.LoginPage(views.Frame{Title: "Sign in"}, next, msg))
	}
	if err := h.mw.CheckOrigin(req); err != nil {
		h.deps.Metrics.DashboardLogins.WithLabelValues("refused_origin").Inc()
		return err
	}
	res, err := h.deps.Limiter.Allow(ctx, "login:"+c.RealIP(), h.deps.LoginRateLimitPerMinute)
	if err == nil && !res.Allowed {
		c.Response().Header().Set("Retry-After", retryAfterSeconds(res.RetryAfter))
		return refuse(http.StatusTooManyRequests, "rate_limited",
			"Too many sign-in attempts from this address: wait "+res.RetryAfter.Round(time.Second).String()+" and try again.")
	}
	key := strings.TrimSpace(c.FormValue("api_key"))
	if key == "" {
		return refuse(http.StatusBadRequest, "invalid_key", "Enter an admin API key (it starts with bmcp_).")
	}
	if len(key) > maxKeyField {
		return refuse(http.StatusBadRequest, "invalid_key", "That is not an API key: keys are 48 characters starting with bmcp_.")
	}
	sess, token, err := h.deps.Sessions.SignIn(ctx, key)
	switch {
	case apperr.Is(err, apperr.Unauthorized):
		return refuse(http.StatusUnauthorized, "invalid_key", "That key is not valid: it is unknown, expired or revoked.")
	case apperr.Is(err, apperr.Forbidden):
		return refuse(http.StatusForbidden, "not_admin", apperr.MessageOf(err))
	case err != nil:
		return err
	}
	h.deps.Metrics.DashboardLogins.WithLabelValues("ok").Inc()
	h.deps.Logger.InfoContext(ctx, "dashboard sign-in", "key_prefix", sess.KeyPrefix, "session_id", sess.ID, "ip", c.RealIP())
	h.setSessionCookie(c, token, sess.ExpiresAt)
	return c.Redirect(http.StatusSeeOther, next)
}

// logout ends the session on the server, not only in this browser: the
// old cookie is worthless from now on.
func (h *Handler) logout(c echo.Context) error {
	sess, _ := sessionOf(c)
	if err := h.deps.Sessions.SignOut(c.Request().Context(), sess.ID); err != nil {
		return err
	}
	h.clearSessionCookie(c)
	if isHTMX(c) {
		c.Response().Header().Set(hxRedirect, views.URLLogin)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, views.URLLogin)
}

// safeNext keeps a post-sign-in destination only when it is a path on this
// server: never another site (open redirect), never the sign-in page.
func safeNext(next string) string {
	p, err := parseLocal(next)
	if err != nil || p == views.URLLogin || strings.HasPrefix(p, views.URLLogin+"?") {
		return views.URLOverview
	}
	return p
}

var errNotLocal = errors.New("not a local path")

// parseLocal returns raw's path and query when raw is a URL on this server
// (a path, or an absolute URL whose path is kept: the Referer).
func parseLocal(raw string) (string, error) {
	if raw == "" || len(raw) > 2048 {
		return "", errNotLocal
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errNotLocal
	}
	if u.Scheme == "" && u.Host == "" && !strings.HasPrefix(raw, "/") {
		return "", errNotLocal
	}
	if u.Scheme == "" && (strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\")) {
		return "", errNotLocal
	}
	p := u.EscapedPath()
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "", errNotLocal
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}

func retryAfterSeconds(d time.Duration) string {
	s := int(d.Seconds() + 0.999)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
