package main_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
	"github.com/bizmcp/bizmcp/migrations"
)

// binary is the bizmcp executable built once for these tests: they check
// what only a real process shows (exit codes, signals).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bizmcp-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "bizmcp")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build bizmcp: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Dir = t.TempDir() // no stray .env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run bizmcp: %v", err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestBadSecretKeyStopsTheStart(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"missing":     "",
		"short":       "abc123",
		"placeholder": "your-secret-key-change-in-production",
		"changeme":    "changeme",
		"repetitive":  strings.Repeat("a", 64),
	}
	for name, secret := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}
			if secret != "" {
				env = append(env, "SECRET_KEY="+secret)
			}
			r := runBinary(t, env, "serve")
			require.Equal(t, 1, r.code)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			require.Len(t, lines, 2, r.stderr) // the heading and one line for the one problem
			require.Contains(t, lines[1], "SECRET_KEY")
			require.Contains(t, lines[1], "openssl rand -hex 32")
		})
	}
}

func TestEveryConfigProblemOnItsOwnLine(t *testing.T) {
	t.Parallel()
	r := runBinary(t, []string{"LOG_LEVEL=loud", "RATE_LIMIT_PER_MINUTE=-3", "REDIS_URL=http://x"}, "serve")
	require.Equal(t, 1, r.code)
	for _, want := range []string{"DATABASE_URL is required", "SECRET_KEY is missing", `LOG_LEVEL "loud"`, `RATE_LIMIT_PER_MINUTE "-3"`, "REDIS_URL must be"} {
		require.Contains(t, r.stderr, want)
	}
	require.Len(t, strings.Split(strings.TrimSpace(r.stderr), "\n"), 6, r.stderr)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	require.Equal(t, 2, runBinary(t, nil).code)
	r := runBinary(t, nil, "frobnicate")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `unknown command "frobnicate"`)
	r = runBinary(t, nil, "version")
	require.Equal(t, 0, r.code)
	require.True(t, strings.HasPrefix(r.stdout, "bizmcp "), r.stdout)
}

func TestKeysAndMigrateCommands(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=" + testkit.DatabaseURL(t)}

	r := runBinary(t, env, "keys", "create", "--name", "ci", "--scopes", "read,write", "--rate-limit", "42", "--expires-in", "720h")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	key := lines[len(lines)-1]
	require.Regexp(t, `^bmcp_[A-Za-z0-9_-]{43}$`, key, "the key alone on the last line")
	require.Contains(t, r.stdout, "read,write")
	require.Contains(t, r.stdout, "42 requests/minute")

	r = runBinary(t, env, "keys", "create", "--if-no-keys", "--name", "again", "--scopes", "admin")
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stdout, "no second key when one exists")

	r = runBinary(t, env, "keys", "list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "ci")
	require.Contains(t, r.stdout, "active")
	require.NotContains(t, r.stdout, key)
	id := strings.Fields(strings.Split(r.stdout, "\n")[1])[0]

	r = runBinary(t, env, "keys", "revoke", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "Revoked API key "+id)
	r = runBinary(t, env, "keys", "list")
	require.Contains(t, r.stdout, "revoked")

	r = runBinary(t, env, "keys", "revoke", "nope")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "not a key id")
	r = runBinary(t, env, "keys", "revoke", "01234567-89ab-7def-8123-456789abcdef")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "not found")
	r = runBinary(t, env, "keys", "create", "--name", "x", "--scopes", "read,sudo")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "allowed scopes are read, write, admin")

	r = runBinary(t, env, "migrate", "status")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "00001_init.sql")
	require.Contains(t, r.stdout, "applied")
}

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=" + testkit.DatabaseURL(t)}
	// Roll back every migration, one at a time, newest first.
	files, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	slices.Reverse(files) // Glob sorts; the names are zero-padded
	for _, file := range files {
		r := runBinary(t, env, "migrate", "down")
		require.Equal(t, 0, r.code, r.stderr)
		r = runBinary(t, env, "migrate", "status")
		require.Regexp(t, file+` +pending`, r.stdout)
	}
	r := runBinary(t, env, "migrate", "down")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "nothing to roll back")
	r = runBinary(t, env, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "up to date")
	r = runBinary(t, env, "migrate", "sideways")
	require.Equal(t, 2, r.code)
}

// SIGTERM: the server stops accepting, finishes the request in flight, and
// exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	dbURL := testkit.DatabaseURL(t)
	env := []string{"DATABASE_URL=" + dbURL, "SECRET_KEY=" + strings.Repeat("0123456789abcdef", 4), "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json"}
	r := runBinary(t, env, "keys", "create", "--name", "admin", "--scopes", "admin")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	key := lines[len(lines)-1]

	cmd := exec.Command(binary, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	logLines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var entry map[string]any
			t.Log(sc.Text())
			if json.Unmarshal(sc.Bytes(), &entry) == nil {
				logLines <- entry
			}
		}
		close(logLines)
	}()
	addr := waitFor(t, logLines, "http server listening")["addr"].(string)

	body := `{"name":"made during shutdown","scopes":["read"]}`
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/admin/keys HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, key, len(body), body[:10])

	// The server must have accepted the connection and read the headers
	// before the signal, or the connection is still in the listen backlog,
	// which closing the listener resets. Nothing observable tells when that
	// happened, so give it ample time.
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	waitFor(t, logLines, "shutting down: draining in-flight requests")
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 20*time.Millisecond, "new connections are refused once shutdown starts")

	_, err = io.WriteString(conn, body[10:])
	require.NoError(t, err)
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, status, "201 Created")

	waitFor(t, logLines, "http server stopped")
	require.NoError(t, cmd.Wait(), "exit status 0 after a clean shutdown")
}

// TestServeGCTarget: serve runs the collector at GOGC=200 unless the
// environment or .env says otherwise.
func TestServeGCTarget(t *testing.T) {
	t.Parallel()
	base := []string{"DATABASE_URL=" + testkit.DatabaseURL(t), "SECRET_KEY=" + strings.Repeat("0123456789abcdef", 4), "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json"}
	for _, tc := range []struct{ env, want string }{{"", "200"}, {"GOGC=50", "50"}, {"GOGC=off", "-1"}} {
		env := base
		if tc.env != "" {
			env = append(env, tc.env)
		}
		cmd := exec.Command(binary, "serve")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		cmd.Dir = t.TempDir()
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := make(chan map[string]any, 100)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				var entry map[string]any
				if json.Unmarshal(sc.Bytes(), &entry) == nil {
					lines <- entry
				}
			}
			close(lines)
		}()
		got := waitFor(t, lines, "starting bizmcp")["gogc"]
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		require.Equal(t, tc.want, fmt.Sprint(got), "with %q", tc.env)
	}
}

func waitFor(t *testing.T, lines <-chan map[string]any, msg string) map[string]any {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case entry, ok := <-lines:
			if !ok {
				t.Fatalf("server exited before logging %q", msg)
			}
			if entry["msg"] == msg {
				return entry
			}
		case <-timeout:
			t.Fatalf("no %q log line within 60s", msg)
		}
	}
}
