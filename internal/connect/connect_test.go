package connect_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/connect"
)

// Every JSON snippet parses and has the shape its client reads; every
// snippet carries the endpoint and the key (or, for VS Code, a prompt for
// it).
func TestSnippetShapes(t *testing.T) {
	t.Parallel()
	const endpoint = "https://mcp.example.test/mcp"
	const key = "bmcp_" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	snippets := connect.Snippets(endpoint, key)
	ids := map[string]connect.Snippet{}
	for _, s := range snippets {
		ids[s.ID] = s
		require.Contains(t, s.Body, endpoint, s.ID)
		if s.Format == connect.FormatJSON {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(s.Body), &v), s.ID)
		}
	}
	require.Len(t, ids, 6)

	type server struct {
		URL       string            `json:"url"`
		ServerURL string            `json:"serverUrl"`
		Type      string            `json:"type"`
		Headers   map[string]string `json:"headers"`
		Command   string            `json:"command"`
		Args      []string          `json:"args"`
		Env       map[string]string `json:"env"`
	}
	var cursor struct {
		MCPServers map[string]server `json:"mcpServers"`
	}
	require.NoError(t, json.Unmarshal([]byte(ids["cursor"].Body), &cursor))
	require.Equal(t, endpoint, cursor.MCPServers["bizmcp"].URL)
	require.Equal(t, "Bearer "+key, cursor.MCPServers["bizmcp"].Headers["Authorization"])

	var windsurf struct {
		MCPServers map[string]server `json:"mcpServers"`
	}
	require.NoError(t, json.Unmarshal([]byte(ids["windsurf"].Body), &windsurf))
	require.Equal(t, endpoint, windsurf.MCPServers["bizmcp"].ServerURL)
	require.Equal(t, "Bearer "+key, windsurf.MCPServers["bizmcp"].Headers["Authorization"])

	var vscode struct {
		Inputs []struct {
			Type     string `json:"type"`
			ID       string `json:"id"`
			Password bool   `json:"password"`
		} `json:"inputs"`
		Servers map[string]server `json:"servers"`
	}
	require.NoError(t, json.Unmarshal([]byte(ids["vscode"].Body), &vscode))
	require.Len(t, vscode.Inputs, 1)
	require.Equal(t, "promptString", vscode.Inputs[0].Type)
	require.True(t, vscode.Inputs[0].Password)
	srv := vscode.Servers["bizmcp"]
	require.Equal(t, "http", srv.Type)
	require.Equal(t, endpoint, srv.URL)
	require.Equal(t, "Bearer ${input:"+vscode.Inputs[0].ID+"}", srv.Headers["Authorization"])
	require.NotContains(t, ids["vscode"].Body, key, "VS Code keeps the key out of the file")

	var desktop struct {
		MCPServers map[string]server `json:"mcpServers"`
	}
	require.NoError(t, json.Unmarshal([]byte(ids["claude-desktop"].Body), &desktop))
	d := desktop.MCPServers["bizmcp"]
	require.Equal(t, "npx", d.Command)
	require.Contains(t, d.Args, "mcp-remote")
	require.Contains(t, d.Args, endpoint)
	require.Equal(t, "Bearer "+key, d.Env["BIZMCP_AUTH"])

	require.True(t, strings.HasPrefix(ids["claude-code"].Body, "claude mcp add --transport http bizmcp "+endpoint+" --header "))
	require.Contains(t, ids["claude-code"].Body, `'Authorization: Bearer `+key+`'`)
	require.Contains(t, ids["inspector"].Body, "--transport http")
}

func TestSnippetsWithoutKeyUsePlaceholder(t *testing.T) {
	t.Parallel()
	for _, s := range connect.Snippets("http://localhost:8080/mcp", "") {
		if s.ID == "vscode" {
			continue
		}
		require.Contains(t, s.Body, connect.KeyPlaceholder, s.ID)
	}
}

// A hostile endpoint (a PUBLIC_URL with a quote) cannot break out of the
// shell quoting.
func TestShellSnippetsQuote(t *testing.T) {
	t.Parallel()
	s := connect.Snippets("http://x/'; rm -rf ~; '/mcp", "")
	require.Contains(t, s[0].Body, `'http://x/'\''; rm -rf ~; '\''/mcp'`)
}
