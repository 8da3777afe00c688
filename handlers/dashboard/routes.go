package dashboard

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/static"
)

// Register mounts the dashboard's pages, its static files and its live
// channel.
func (h *Handler) Register(e *echo.Echo) {
	e.GET("/", h.home, h.mw.LimitByIP)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static.FS))))
}
