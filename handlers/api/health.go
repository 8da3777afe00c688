package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/health"
)

// health answers 200 while the database answers (also when Redis is down:
// the server still serves, "degraded"), 503 otherwise.
func (h *Handler) health(c echo.Context) error {
	report := h.deps.Health.Check(c.Request().Context())
	status := http.StatusOK
	if report.Status == health.StatusUnavailable {
		status = http.StatusServiceUnavailable
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, report)
}

// live answers 200 while the process serves HTTP, whatever its dependencies.
func (h *Handler) live(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "alive"})
}
