package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/mcphttp"
	"github.com/bizmcp/bizmcp/internal/mcpserver"
)

// mcpHandler serves the MCP server over Streamable HTTP in both revisions:
// 2026-07-28 statelessly (any instance answers any request) and 2025-11-25
// in sessions (internal/mcphttp routes each request by its version). The
// bearer middleware only hands the principal that authenticate already
// verified to the SDK (as TokenInfo), so tools see the caller, each
// 2025-11-25 session stays bound to the key that opened it, and every 2026
// request is authenticated on its own.
func (s *Server) mcpHandler(server *mcp.Server) http.Handler {
	h := mcphttp.New(server, mcphttp.Options{
		Logger:              s.deps.Logger,
		MaxRequestBodyBytes: s.deps.MaxBodyBytes,
		// A 2026 request lives exactly as long as its POST: when the client
		// goes away, so does the work done for it.
		PropagateRequestCancellation: true,
		// Task status listens end when the server stops instead of holding
		// the drain.
		Stopping: s.deps.API.Stopping,
	})
	verify := func(ctx context.Context, _ string, r *http.Request) (*sdkauth.TokenInfo, error) {
		p, ok := web.PrincipalFrom(r.Context())
		if !ok {
			return nil, sdkauth.ErrInvalidToken
		}
		return mcpserver.TokenInfo(p), nil
	}
	return sdkauth.RequireBearerToken(verify, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
}

// bearerForMCP presents an X-API-Key as a bearer token, which is all the SDK
// reads; the principal authenticate verified is already in the request
// context, where the SDK's verifier finds it.
func bearerForMCP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := web.PrincipalOf(c); !ok {
			return apperr.E(apperr.Unauthorized, "an API key is required")
		}
		req := c.Request()
		if req.Header.Get("Authorization") == "" {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(req.Header.Get("X-API-Key")))
		}
		return next(c)
	}
}
