package dashboard

import "github.com/labstack/echo/v4"

// The htmx request and response headers the dashboard uses, named once.
const (
	hxRequest  = "HX-Request"
	hxRedirect = "HX-Redirect"
	hxRetarget = "HX-Retarget"
	hxReswap   = "HX-Reswap"
)

// isHTMX reports a request made by htmx (which wants a fragment, not a
// page).
func isHTMX(c echo.Context) bool { return c.Request().Header.Get(hxRequest) == "true" }
