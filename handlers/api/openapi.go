package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of the REST API. Its
// schemas are checked against real responses in openapi_test.go, so it
// cannot drift from what the server sends.
//
//go:embed openapi/openapi.json
var openAPIDocument []byte

func (h *Handler) openAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
