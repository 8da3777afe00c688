package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Resource URIs the suite reads.
const (
	staticTextURI   = "test://static-text"
	staticBinaryURI = "test://static-binary"
	templateURI     = "test://template/{id}/data"
)

// staticText is the body of test://static-text.
const staticText = "This is the content of the static text resource."

// addResources registers the fixture resources and the resource template.
func addResources(srv *mcp.Server) {
	srv.AddResource(&mcp.Resource{
		URI:         staticTextURI,
		Name:        "static-text",
		Title:       "Static text",
		Description: "A static text resource for testing",
		MIMEType:    "text/plain",
	}, readStaticText)
	srv.AddResource(&mcp.Resource{
		URI:         staticBinaryURI,
		Name:        "static-binary",
		Title:       "Static binary",
		Description: "A static binary resource (a 1x1 PNG) for testing",
		MIMEType:    "image/png",
	}, readStaticBinary)
	srv.AddResource(&mcp.Resource{
		URI:         WatchedResourceURI,
		Name:        "watched-resource",
		Title:       "Watched resource",
		Description: "A resource clients can subscribe to; WatchResource announces updates",
		MIMEType:    "text/plain",
	}, readWatched)
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: templateURI,
		Name:        "template",
		Title:       "Template",
		Description: "A resource template with parameter substitution",
		MIMEType:    "application/json",
	}, readTemplate)
}

func readStaticText(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: req.Params.URI, MIMEType: "text/plain", Text: staticText},
	}}, nil
}

func readStaticBinary(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	png, err := pngImage()
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: req.Params.URI, MIMEType: "image/png", Blob: png},
	}}, nil
}

func readWatched(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: req.Params.URI, MIMEType: "text/plain", Text: "Watched resource content"},
	}}, nil
}

// templateData is the JSON body of a test://template/{id}/data resource.
type templateData struct {
	ID           string `json:"id"`
	TemplateTest bool   `json:"templateTest"`
	Data         string `json:"data"`
}

// readTemplate serves test://template/{id}/data. The SDK only routes URIs
// that match the template here, but {id} may still be empty or hold a
// slash-free oddity, so the id is taken apart rather than trusted.
func readTemplate(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	rest, ok := strings.CutPrefix(uri, "test://template/")
	id, ok2 := strings.CutSuffix(rest, "/data")
	if !ok || !ok2 || id == "" || strings.Contains(id, "/") {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	body, err := json.Marshal(templateData{ID: id, TemplateTest: true, Data: "Data for ID: " + id})
	if err != nil {
		return nil, fmt.Errorf("encode template resource: %w", err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: uri, MIMEType: "application/json", Text: string(body)},
	}}, nil
}
