package dashboard

import (
	"bytes"
	"context"
	"net/http"

	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/views"
)

// render writes a page, or, for an htmx request that has a fragment to
// show, only the fragment. It renders into a buffer first, so a template
// error becomes a real 500 page instead of half a page.
func (h *Handler) render(c echo.Context, status int, page templ.Component) error {
	return h.renderFor(c, status, page, nil)
}

// renderFor is render with the fragment an htmx request gets instead of the
// whole page.
func (h *Handler) renderFor(c echo.Context, status int, page, fragment templ.Component) error {
	component := page
	if fragment != nil && isHTMX(c) {
		component = fragment
	}
	b, err := renderBytes(c.Request().Context(), component)
	if err != nil {
		return err
	}
	return c.HTMLBlob(status, b)
}

func renderBytes(ctx context.Context, component templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := component.Render(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RenderError renders an error on a dashboard route: a page in the layout
// for a browser, or a notice swapped into the page's #flash region for an
// htmx request (so an error never replaces the element the request
// targeted).
func (h *Handler) RenderError(c echo.Context, status int, title, detail, requestID string) error {
	ctx := c.Request().Context()
	if isHTMX(c) {
		b, err := renderBytes(ctx, views.ErrorNotice(title, detail))
		if err != nil {
			return err
		}
		c.Response().Header().Set(hxRetarget, "#flash")
		c.Response().Header().Set(hxReswap, "innerHTML")
		return c.HTMLBlob(status, b)
	}
	if _, ok := sessionOf(c); !ok && status != http.StatusServiceUnavailable {
		// An error before the session was looked up (an unknown path): show
		// the signed-in layout all the same when the browser has a session.
		if sess, err := h.lookupSession(c); err == nil {
			c.SetRequest(c.Request().WithContext(context.WithValue(ctx, sessionKey{}, sess)))
		}
	}
	b, err := renderBytes(ctx, views.ErrorPage(frame(c, title, "", ""), status, title, detail, requestID))
	if err != nil {
		return err
	}
	return c.HTMLBlob(status, b)
}

// endpoint is the MCP endpoint as clients should reach it: from PUBLIC_URL,
// else from the origin this browser used.
func (h *Handler) endpoint(c echo.Context) string {
	if h.deps.PublicURL != "" {
		return connectEndpoint(h.deps.PublicURL)
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	return connectEndpoint(scheme + "://" + c.Request().Host)
}

// overviewRecentTasks is how many tasks the overview lists.
const overviewRecentTasks = 10

func (h *Handler) overview(c echo.Context) error {
	ctx := c.Request().Context()
	agentPage, err := h.deps.Agents.List(ctx, "", "", "", agentsPageSize)
	if err != nil {
		return err
	}
	tasks, err := h.deps.Tasks.List(ctx, orchestrator.Filter{}, "", overviewRecentTasks)
	if err != nil {
		return err
	}
	st, err := h.deps.Stats.Overview(ctx)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.Overview(views.OverviewPage{
		Frame:  frame(c, "Overview", views.URLOverview, views.URLLiveFor(livePageOverview, nil)),
		Health: h.deps.Health.Check(ctx), Agents: agentPage.Items, Tasks: tasks.Items, Stats: st, Now: time.Now(),
	}))
}
