package views

import "github.com/bizmcp/bizmcp/internal/connect"

// ConnectPage shows how to connect MCP clients, and what they will find.
type ConnectPage struct {
	Frame
	Endpoint  string
	Snippets  []connect.Snippet
	Tools     []CatalogItem
	Resources []CatalogItem
	Prompts   []CatalogItem
	// CatalogError says why the catalogue could not be read, if it could not.
	CatalogError string
}

// CatalogItem is a tool, resource or prompt the server offers.
type CatalogItem struct {
	Name        string
	Description string
}
