package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

type healthJSON struct {
	Status     string `json:"status"`
	Version    string `json:"version"`
	Mode       string `json:"mode"`
	Components map[string]struct {
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"components"`
}

// getHealth reads /api/v1/health; t may be an EventuallyWithT's *assert.CollectT.
func getHealth(t require.TestingT, srv *testkit.Server) (int, healthJSON) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/health", "", nil)
	var h healthJSON
	require.NoError(t, json.Unmarshal(b, &h), string(b))
	return resp.StatusCode, h
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	code, h := getHealth(t, srv)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", h.Status)
	require.Equal(t, "multi-instance", h.Mode)
	require.Equal(t, "up", h.Components["database"].Status)
	require.Equal(t, "up", h.Components["redis"].Status)
	require.Equal(t, "up", h.Components["task_queue"].Status, h.Components["task_queue"].Detail)
	require.NotContains(t, h.Components, "llm:openai", "no provider configured, none reported")
	require.NotEmpty(t, h.Version)

	single := testkit.StartServer(t, testkit.WithoutRedis())
	code, h = getHealth(t, single)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "single-instance", h.Mode)
	require.Equal(t, "disabled", h.Components["redis"].Status)
	require.Contains(t, h.Components["redis"].Detail, "REDIS_URL is not set")
	// Rate limiting still works in process.
	resp, b := single.Do(t, http.MethodPost, "/api/v1/admin/keys", single.AdminKey, strings.NewReader(`{"name":"one","scopes":["read"],"rate_limit":1}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var k struct{ Key string }
	require.NoError(t, json.Unmarshal(b, &k))
	resp, _ = single.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = single.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

func TestHomePage(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, _ := srv.Do(t, http.MethodGet, "/", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the default client follows the redirect to sign in")
	require.Equal(t, "/login", resp.Request.URL.Path)
	browser := srv.NewFormClient(t)
	browser.SignIn(t, srv.AdminKey)
	resp, b := browser.Get(t, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.Equal(t, "ok", doc.Find(`[data-testid="status"]`).Text())
	require.Equal(t, "up", strings.TrimSpace(doc.Find(`[data-testid="component-database"] td`).First().Text()))

	resp, b = srv.Do(t, http.MethodGet, "/static/app.css", "", nil)
	require.NotEmpty(t, resp.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), "body")

	resp, b = srv.Do(t, http.MethodGet, "/no-such-page", "", nil, "Accept", "text/html")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	doc, err = goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.Equal(t, "Not Found", doc.Find(`[data-testid="error-title"]`).Text())
}

func TestRequestIDOnEveryLogLine(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil, "X-Request-Id", "trace-abc-123")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "trace-abc-123", resp.Header.Get("X-Request-Id"))

	// A hostile id is replaced, not echoed.
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil, "X-Request-Id", "<script>")
	require.NotEqual(t, "<script>", resp.Header.Get("X-Request-Id"))
	require.Len(t, resp.Header.Get("X-Request-Id"), 24)

	found := false
	for _, line := range strings.Split(srv.Logs(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "http request" || entry["path"] != "/api/v1/me" {
			continue
		}
		if entry["request_id"] == "trace-abc-123" {
			found = true
			require.EqualValues(t, 200, entry["status"])
		}
	}
	require.True(t, found, "no access log line with the request id")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil)
	srv.Do(t, http.MethodGet, "/api/v1/me", "", nil)
	resp, b := srv.Do(t, http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body := string(b)
	require.Contains(t, body, `bizmcp_http_requests_total{code="200",method="GET",route="/api/v1/me"} 1`)
	require.Contains(t, body, `bizmcp_http_requests_total{code="401",method="GET",route="/api/v1/me"} 1`)
	require.Contains(t, body, `bizmcp_auth_failures_total{code="401"} 1`)
	require.Contains(t, body, "go_goroutines")
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/nothing-here", srv.AdminKey, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	problem(t, resp, b)
	resp, b = srv.Do(t, http.MethodPut, "/api/v1/admin/keys", srv.AdminKey, nil)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	problem(t, resp, b)
}

func TestLastUsedIsRecorded(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	conn, err := pgx.Connect(context.Background(), srv.Env["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM mcp.api_keys WHERE last_used_at IS NOT NULL").Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 50*time.Millisecond)
}

func dbConn(t *testing.T, srv *testkit.Server) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), srv.Env["DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
