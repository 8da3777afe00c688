package dashboard

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/connect"
	"github.com/bizmcp/bizmcp/views"
)

func connectEndpoint(base string) string { return connect.Endpoint(base) }

func (h *Handler) connectPage(c echo.Context) error {
	endpoint := h.endpoint(c)
	p := views.ConnectPage{
		Frame:    frame(c, "Connect", views.URLConnect, ""),
		Endpoint: endpoint, Snippets: connect.Snippets(endpoint, ""),
	}
	cat, err := h.catalog.get(c.Request().Context())
	if err != nil {
		h.deps.Logger.WarnContext(c.Request().Context(), "could not read the MCP catalogue", "err", err)
		p.CatalogError = "The list of tools, resources and prompts could not be read just now; reload to try again."
	}
	p.Tools, p.Resources, p.Prompts = cat.tools, cat.resources, cat.prompts
	return h.render(c, http.StatusOK, views.Connect(p))
}

// mcpCatalog is what the MCP server offers, read through an in-memory MCP
// session: exactly what a client would list, without a second source of
// truth. It is read once and kept for a minute (a tool may be disabled).
type mcpCatalog struct {
	server *mcp.Server

	mu      sync.Mutex
	at      time.Time
	current catalogItems
}

type catalogItems struct {
	tools, resources, prompts []views.CatalogItem
}

const catalogTTL = time.Minute

func (m *mcpCatalog) get(ctx context.Context) (catalogItems, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.server == nil || (!m.at.IsZero() && time.Since(m.at) < catalogTTL) {
		return m.current, nil
	}
	items, err := m.read(ctx)
	if err != nil {
		return m.current, err
	}
	m.current, m.at = items, time.Now()
	return items, nil
}

func (m *mcpCatalog) read(ctx context.Context) (catalogItems, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	clientT, serverT := mcp.NewInMemoryTransports()
	ss, err := m.server.Connect(ctx, serverT, nil)
	if err != nil {
		return catalogItems{}, err
	}
	defer ss.Close()
	client := mcp.NewClient(&mcp.Implementation{Name: "bizmcp-dashboard", Version: "1"}, nil)
	cs, err := client.Connect(ctx, clientT, nil)
	if err != nil {
		return catalogItems{}, err
	}
	defer cs.Close()
	var out catalogItems
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return catalogItems{}, err
		}
		out.tools = append(out.tools, views.CatalogItem{Name: t.Name, Description: t.Description})
	}
	for r, err := range cs.Resources(ctx, nil) {
		if err != nil {
			return catalogItems{}, err
		}
		out.resources = append(out.resources, views.CatalogItem{Name: r.URI, Description: r.Description})
	}
	for r, err := range cs.ResourceTemplates(ctx, nil) {
		if err != nil {
			return catalogItems{}, err
		}
		out.resources = append(out.resources, views.CatalogItem{Name: r.URITemplate, Description: r.Description})
	}
	for p, err := range cs.Prompts(ctx, nil) {
		if err != nil {
			return catalogItems{}, err
		}
		out.prompts = append(out.prompts, views.CatalogItem{Name: p.Name, Description: p.Description})
	}
	return out, nil
}
