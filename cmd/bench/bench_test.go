package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as a peer, as the bench binary does:
// the harness starts its peers by running its own executable.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "-serve-peer" {
		if err := servePeer(os.Args[2], os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestShortRun runs every phase at toy sizes against the test PostgreSQL
// and Redis and checks that the report is written with figures in it. It
// checks that the harness works end to end; it asserts no duration.
func TestShortRun(t *testing.T) {
	dbURL, redisURL := os.Getenv("BIZMCP_TEST_DATABASE_URL"), os.Getenv("BIZMCP_TEST_REDIS_URL")
	if dbURL == "" || redisURL == "" {
		t.Fatal("BIZMCP_TEST_DATABASE_URL and BIZMCP_TEST_REDIS_URL are not set: run the tests with `make test`, which starts PostgreSQL and Redis")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bizmcp")
	build := exec.Command("go", "build", "-o", bin, "github.com/bizmcp/bizmcp/cmd/bizmcp")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build bizmcp: %s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"-short", "-bin", bin, "-database-url", dbURL, "-redis-url", redisURL,
		"-out", filepath.Join(dir, "docs"), "-logs", filepath.Join(dir, "logs")}, &stdout, &stderr)
	require.NoError(t, err, "bench output:\n%s", stderr.String())

	raw, err := os.ReadFile(filepath.Join(dir, "docs", "benchmarks.md"))
	require.NoError(t, err)
	report := string(raw)
	require.Contains(t, report, "## Side by side")
	require.Contains(t, report, "## Machine")
	// Every phase left figures: a rate or a latency with its unit.
	require.Regexp(t, regexp.MustCompile(`\| mcp \| .* \| [0-9,.]+ calls/s, p50 [0-9.]+ ms`), report)
	require.Regexp(t, regexp.MustCompile(`\| tasks \| .* \| [0-9,.]+ tasks/s .* \| River no-op jobs, .*: [0-9,.]+ jobs/s`), report)
	require.Regexp(t, regexp.MustCompile("\\| fanout \\| one event to [0-9,]+ `/ws` clients \\| p50 [0-9.]+ ms, p99 [0-9.]+ ms"), report)
	require.Regexp(t, regexp.MustCompile("\\| rows \\| with [0-9,]+ tasks stored: a `/metrics` scrape \\| p50 [0-9.]+ ms, p99 [0-9.]+ ms"), report)
	for _, section := range []string{"## MCP `tools/call`", "## Tasks: REST to `completed`, beside River", "## Fan-out: one event to many WebSocket clients", "## Rows: requests with "} {
		require.Contains(t, report, section)
	}
	charts, err := filepath.Glob(filepath.Join(dir, "docs", "bench", "*.svg"))
	require.NoError(t, err)
	require.NotEmpty(t, charts)
	for _, c := range charts {
		svg, err := os.ReadFile(c)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(svg), "<svg "), "%s is an SVG document", c)
	}
}
