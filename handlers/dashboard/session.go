package dashboard

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/views"
)

// Session cookie names. Over HTTPS the __Host- prefix makes the browser
// refuse the cookie unless it is Secure, host-only and for the whole site.
const (
	cookieName       = "bizmcp_session"
	secureCookieName = "__Host-bizmcp_session"
)

// secure reports whether the session cookie must be Secure: the request
// came over TLS, or the server's public address is https (behind a proxy
// that terminates TLS).
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(h.deps.PublicURL), "https://")
}

func (h *Handler) cookieName(r *http.Request) string {
	if h.secure(r) {
		return secureCookieName
	}
	return cookieName
}

func (h *Handler) setSessionCookie(c echo.Context, token string, expires time.Time) {
	c.SetCookie(&http.Cookie{
		Name: h.cookieName(c.Request()), Value: token, Path: "/",
		Expires: expires, MaxAge: int(time.Until(expires).Seconds()),
		HttpOnly: true, Secure: h.secure(c.Request()), SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: h.cookieName(c.Request()), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure(c.Request()), SameSite: http.SameSiteLaxMode,
	})
}

type sessionKey struct{}

// sessionOf returns the signed-in session of a request that passed
// requireSession.
func sessionOf(c echo.Context) (auth.Session, bool) {
	s, ok := c.Request().Context().Value(sessionKey{}).(auth.Session)
	return s, ok
}

// lookupSession finds the request's session, if it has a usable one.
func (h *Handler) lookupSession(c echo.Context) (auth.Session, error) {
	ck, err := c.Cookie(h.cookieName(c.Request()))
	if err != nil {
		return auth.Session{}, apperr.E(apperr.Unauthorized, "sign in to use the dashboard")
	}
	return h.deps.Sessions.Lookup(c.Request().Context(), ck.Value)
}

// requireSession lets signed-in operators through and sends everyone else
// to the sign-in page: a browser by a redirect, an htmx request by
// HX-Redirect (so that the login form does not land in the middle of a
// page). A database failure is an error page, not a sign-out.
func (h *Handler) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := h.lookupSession(c)
		if err != nil {
			if !apperr.Is(err, apperr.Unauthorized) {
				return err
			}
			next := c.Request().URL.RequestURI()
			if c.Request().Method != http.MethodGet || isHTMX(c) {
				next = c.Request().Referer()
				if u, perr := parseLocal(next); perr == nil {
					next = u
				} else {
					next = ""
				}
			}
			target := views.URLLoginNext(next)
			if websocket.IsWebSocketUpgrade(c.Request()) {
				return err // a socket cannot follow a redirect: 401
			}
			if isHTMX(c) {
				c.Response().Header().Set(hxRedirect, target)
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.Redirect(http.StatusSeeOther, target)
		}
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), sessionKey{}, sess)))
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// verifyCSRF refuses a state-changing request that does not prove it came
// from the dashboard's own page: a cross-origin browser request
// (http.CrossOriginProtection: Sec-Fetch-Site, Origin), or one without the
// session's token, as a form field or an htmx header. It runs after
// requireSession.
func (h *Handler) verifyCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := h.mw.CheckOrigin(c.Request()); err != nil {
			return err
		}
		sess, ok := sessionOf(c)
		if !ok {
			return apperr.E(apperr.Unauthorized, "sign in to use the dashboard")
		}
		token := c.Request().Header.Get(views.CSRFHeader)
		if token == "" {
			token = c.FormValue(views.CSRFField)
		}
		if !sess.ValidCSRF(token) {
			return apperr.E(apperr.Forbidden, "this request did not come from a current dashboard page (its security token is missing or out of date): reload the page and try again")
		}
		return next(c)
	}
}

// frame is the layout data of a signed-in page.
func frame(c echo.Context, title, nav, live string) views.Frame {
	f := views.Frame{Title: title, Nav: nav, Live: live}
	if s, ok := sessionOf(c); ok {
		f.Session = &views.SessionView{KeyName: s.KeyName, KeyPrefix: s.KeyPrefix, CSRFToken: s.CSRFToken}
	}
	return f
}
