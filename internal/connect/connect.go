// Package connect writes the configuration a person pastes into an MCP
// client to reach this server: one source of truth for every client the
// dashboard's connect page (and the page that shows a new key) lists.
package connect

import (
	"encoding/json"
	"strings"
)

// KeyPlaceholder stands for the API key in snippets shown without one.
const KeyPlaceholder = "bmcp_YOUR_API_KEY"

// ServerName is the name the snippets register the server under.
const ServerName = "bizmcp"

// Format says how a snippet's body is written.
type Format string

// The formats.
const (
	FormatJSON  Format = "json"
	FormatShell Format = "shell"
)

// Snippet is one client's configuration.
type Snippet struct {
	// ID is a stable, URL-safe name (claude-code, cursor, ...).
	ID     string
	Client string
	// Where says where the text goes.
	Where  string
	Format Format
	Body   string
}

// Snippets returns the configuration of every supported client for the MCP
// endpoint (e.g. https://mcp.example.com/mcp) and key (empty: a placeholder
// the person replaces).
func Snippets(endpoint, key string) []Snippet {
	if key == "" {
		key = KeyPlaceholder
	}
	bearer := "Bearer " + key
	return []Snippet{
		{
			ID: "claude-code", Client: "Claude Code", Format: FormatShell,
			Where: "Run in a terminal; add --scope user to use it in every project.",
			Body:  "claude mcp add --transport http " + ServerName + " " + shellQuote(endpoint) + " --header " + shellQuote("Authorization: "+bearer),
		},
		{
			ID: "cursor", Client: "Cursor", Format: FormatJSON,
			Where: ".cursor/mcp.json in the project (or ~/.cursor/mcp.json for every project).",
			Body: mustJSON(map[string]any{"mcpServers": map[string]any{
				ServerName: map[string]any{"url": endpoint, "headers": map[string]string{"Authorization": bearer}},
			}}),
		},
		{
			ID: "vscode", Client: "VS Code", Format: FormatJSON,
			Where: ".vscode/mcp.json in the workspace. VS Code asks for the key once and stores it securely; it never sits in the file.",
			Body: mustJSON(map[string]any{
				"inputs": []map[string]any{{
					"type": "promptString", "id": "bizmcp-api-key", "description": "bizmcp API key", "password": true,
				}},
				"servers": map[string]any{
					ServerName: map[string]any{"type": "http", "url": endpoint, "headers": map[string]string{"Authorization": "Bearer ${input:bizmcp-api-key}"}},
				},
			}),
		},
		{
			ID: "windsurf", Client: "Windsurf", Format: FormatJSON,
			Where: "~/.codeium/windsurf/mcp_config.json",
			Body: mustJSON(map[string]any{"mcpServers": map[string]any{
				ServerName: map[string]any{"serverUrl": endpoint, "headers": map[string]string{"Authorization": bearer}},
			}}),
		},
		{
			ID: "claude-desktop", Client: "Claude Desktop (through mcp-remote)", Format: FormatJSON,
			Where: "claude_desktop_config.json (Settings → Developer → Edit Config). Needs Node.js; mcp-remote bridges stdio to HTTP.",
			Body: mustJSON(map[string]any{"mcpServers": map[string]any{
				ServerName: map[string]any{
					"command": "npx",
					"args":    []string{"-y", "mcp-remote", endpoint, "--header", "Authorization:${BIZMCP_AUTH}"},
					"env":     map[string]string{"BIZMCP_AUTH": bearer},
				},
			}}),
		},
		{
			ID: "inspector", Client: "MCP Inspector (CLI)", Format: FormatShell,
			Where: "Run in a terminal to list the tools; replace --method to call others (Node.js 22).",
			Body:  "npx @modelcontextprotocol/inspector --cli " + shellQuote(endpoint) + " --transport http --header " + shellQuote("Authorization: "+bearer) + " --method tools/list",
		},
	}
}

// Endpoint returns the MCP endpoint URL for a server reached at base (its
// public URL or the origin a browser used).
func Endpoint(base string) string {
	return strings.TrimRight(base, "/") + "/mcp"
}

func mustJSON(v any) string {
	// Only maps and slices of strings and bools: encoding cannot fail.
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
