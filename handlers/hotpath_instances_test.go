package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// Keys are cached in each instance, yet a key revoked on A is refused by B
// in the very next request, over REST and MCP, although B used (and cached)
// it just before.
func TestRevokedKeyRefusedOnOtherInstanceNextRequest(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	k := createKey(t, a, `{"name":"roaming","scopes":["read"]}`)

	for range 2 {
		resp, body := b.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	}
	s := benchMCPSessionT(t, b, k.Key)
	_, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "sales_forecaster", Arguments: map[string]any{"series": []float64{1, 2, 3, 4}}})
	require.NoError(t, err)

	resp, body := a.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+k.ID, a.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	resp, body = b.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	_, err = s.CallTool(context.Background(), &mcp.CallToolParams{Name: "sales_forecaster", Arguments: map[string]any{"series": []float64{1, 2, 3, 4}}})
	require.Error(t, err, "the MCP request is refused with 401")
}

// Tool statuses are held in memory on each instance; disabling a tool on A
// reaches B through the tool.status event, and enabling it again too.
func TestToolStatusReachesOtherInstance(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	body := `{"tool_name":"report_generator","parameters":{"title":"t","sections":[{"heading":"h","content":"c"}]}}`
	run := func(c require.TestingT) int {
		resp, _ := b.Do(c, http.MethodPost, "/api/v1/tools/execute", b.AdminKey, strings.NewReader(body))
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, run(t))

	for _, step := range []struct {
		status string
		want   int
	}{{"disabled", http.StatusConflict}, {"active", http.StatusOK}} {
		resp, raw := a.Do(t, http.MethodPatch, "/api/v1/admin/tools/report_generator", a.AdminKey, strings.NewReader(`{"status":"`+step.status+`"}`))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.Equal(c, step.want, run(c))
		}, 10*time.Second, 20*time.Millisecond, "B follows A's %s", step.status)
	}
}

// benchMCPSessionT is a stateless (2026-07-28) SDK client session on srv.
func benchMCPSessionT(t *testing.T, srv *testkit.Server, key string) *mcp.ClientSession {
	t.Helper()
	return mcpSession(t, srv.URL, "", nil, bearer(key))
}
