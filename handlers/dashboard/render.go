package dashboard

import (
	"bytes"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/views"
)

// render writes a templ component. It renders into a buffer first, so a
// template error becomes a real 500 instead of a half-written page.
func (h *Handler) render(c echo.Context, status int, component templ.Component) error {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// RenderError renders an error as a page in the layout.
func (h *Handler) RenderError(c echo.Context, status int, title, detail, requestID string) error {
	var buf bytes.Buffer
	if err := views.ErrorPage(status, title, detail, requestID).Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

func (h *Handler) home(c echo.Context) error {
	return h.render(c, http.StatusOK, views.Home(h.deps.Health.Check(c.Request().Context())))
}
