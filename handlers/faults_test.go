package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// Redis stopped mid-run: requests are still served, rate limited in
// process; the health page says so; Redis coming back is noticed.
func TestRedisStoppedMidRun(t *testing.T) {
	t.Parallel()
	redis := testkit.StartRedisProcess(t)
	srv := testkit.StartServer(t, testkit.WithEnv("REDIS_URL", redis.URL))
	resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	redis.Stop()
	for i := range 5 {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d with Redis down: %s", i, b)
		require.NotEmpty(t, resp.Header.Get("RateLimit-Limit"))
	}
	code, h := getHealth(t, srv)
	require.Equal(t, http.StatusOK, code, "Redis is optional: still serving")
	require.Equal(t, "degraded", h.Status)
	require.Equal(t, "down", h.Components["redis"].Status)
	require.Equal(t, "down", h.Components["rate_limiter"].Status)

	_, metrics := srv.Do(t, http.MethodGet, "/metrics", "", nil)
	require.Regexp(t, `bizmcp_rate_limit_local_fallback_total [1-9]`, string(metrics))
	require.Contains(t, srv.Logs(), "Redis")

	redis.Start()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		srv.Do(c, http.MethodGet, "/api/v1/me", srv.AdminKey, nil) // lets the limiter probe Redis again
		_, h := getHealth(c, srv)
		assert.Equal(c, "ok", h.Status)
	}, 15*time.Second, 200*time.Millisecond)
}

// PostgreSQL stopped mid-run: requests fail fast with 503 and the server
// recovers on its own when the database is back.
func TestPostgresStoppedMidRun(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgresProcess(t)
	conn, err := pgx.Connect(context.Background(), pg.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE DATABASE bizmcp")
	require.NoError(t, err)
	conn.Close(context.Background())

	srv := testkit.StartServer(t, testkit.WithEnv("DATABASE_URL", pg.URL("bizmcp")))
	resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	pg.Stop()
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys", srv.AdminKey, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, "database is unavailable")

	code, h := getHealth(t, srv)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "unavailable", h.Status)
	require.Equal(t, "down", h.Components["database"].Status)

	resp, b = srv.Do(t, http.MethodPost, "/api/v1/admin/keys", srv.AdminKey, strings.NewReader(`{"name":"x","scopes":["read"]}`))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))

	pg.Start()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, b := srv.Do(c, http.MethodGet, "/api/v1/admin/keys", srv.AdminKey, nil)
		assert.Equal(c, http.StatusOK, resp.StatusCode, string(b))
	}, 30*time.Second, 200*time.Millisecond)
	code, _ = getHealth(t, srv)
	require.Equal(t, http.StatusOK, code)
}
