package handlers

import (
	"io"
	"log/slog"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/metrics"
)

// RouteTable returns every route the server registers, from the real
// route code (routes.go and each surface's routes.go), for tests that must
// cover each of them. The services are left out: only the table is read.
func RouteTable() []*echo.Route {
	s := New(Deps{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: metrics.New(),
		MCP:     mcp.NewServer(&mcp.Implementation{Name: "routes"}, nil),
	})
	return s.echo.Routes()
}
