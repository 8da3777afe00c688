package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizmcp/bizmcp/internal/cli"
	"github.com/stretchr/testify/require"
)

// Server is a bizmcp server started through cli.Run for one test.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	// AdminKey is an admin-scope API key created through the CLI.
	AdminKey string
	// Env is the environment the server was started with.
	Env map[string]string

	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// ServerOption adjusts the server's environment before it starts.
type ServerOption func(env map[string]string)

// WithEnv sets an environment variable of the server.
func WithEnv(name, value string) ServerOption {
	return func(env map[string]string) { env[name] = value }
}

// WithoutRedis starts the server as a single instance.
func WithoutRedis() ServerOption {
	return func(env map[string]string) { delete(env, "REDIS_URL") }
}

// StartServer starts the real server on 127.0.0.1:0 with a fresh database,
// the shared test Redis under a fresh prefix, and an admin key. It stops
// when the test ends, and the test fails if shutdown returns an error.
func StartServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":             DatabaseURL(t),
		"REDIS_URL":                RedisURL(t),
		"REDIS_PREFIX":             Prefix(t),
		"SECRET_KEY":               randomHex(32),
		"HTTP_ADDR":                "127.0.0.1:0",
		"LOG_FORMAT":               "json",
		"LOG_LEVEL":                "debug",
		"KEY_USAGE_FLUSH_INTERVAL": "100ms",
		"SHUTDOWN_TIMEOUT":         "10s",
	}
	for _, o := range opts {
		o(env)
	}
	return startWithEnv(t, env)
}

// StartInstance starts another server on the same database, Redis and
// prefix as s: a second instance of one deployment.
func (s *Server) StartInstance(t testing.TB) *Server {
	t.Helper()
	env := make(map[string]string, len(s.Env))
	for k, v := range s.Env {
		env[k] = v
	}
	other := startWithEnv(t, env)
	return other
}

func startWithEnv(t testing.TB, env map[string]string) *Server {
	t.Helper()
	getenv := func(name string) string { return env[name] }
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Env: env, logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}

	addrc := make(chan string, 1)
	stderr := &lineWatcher{w: s.logs, onLine: func(line []byte) {
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "http server listening" {
			select {
			case addrc <- entry.Addr:
			default:
			}
		}
	}}
	go func() {
		s.done <- cli.Run(ctx, []string{"bizmcp", "serve"}, getenv, io.Discard, stderr)
	}()
	t.Cleanup(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("server shut down with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not shut down within 30s")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
		}
	})
	select {
	case addr := <-addrc:
		s.URL = "http://" + addr
	case err := <-s.done:
		t.Fatalf("server exited before listening: %v\nlog:\n%s", err, s.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not listen within 60s\nlog:\n%s", s.logs.String())
	}
	if s.AdminKey = env["BIZMCP_TEST_ADMIN_KEY"]; s.AdminKey == "" {
		s.AdminKey = CreateKey(t, env, "test admin", "admin")
		env["BIZMCP_TEST_ADMIN_KEY"] = s.AdminKey
	}
	return s
}

// CreateKey creates a key through `bizmcp keys create` and returns it.
func CreateKey(t testing.TB, env map[string]string, name, scopes string, extra ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"bizmcp", "keys", "create", "--name", name, "--scopes", scopes}, extra...)
	if err := cli.Run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("bizmcp keys create: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}

// Logs returns what the server has logged so far (JSON lines).
func (s *Server) Logs() string { return s.logs.String() }

// Stop shuts the server down now and returns what Run returned.
func (s *Server) Stop() error {
	s.cancel()
	err := <-s.done
	s.done <- err // let the cleanup see it too
	return err
}

// Do sends a request with the given API key (none when key is "") and
// returns the response with its body read. t may be the *assert.CollectT of
// an EventuallyWithT: a failed request then fails that tick, not the test.
func (s *Server) Do(t require.TestingT, method, path, key string, body io.Reader, headers ...string) (*http.Response, []byte) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	require.NoError(t, err, "build request")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1] // net/http sends req.Host, not a Host header
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "read body of %s %s", method, path)
	return resp, b
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWatcher copies writes to w and calls onLine for each complete line.
type lineWatcher struct {
	w       io.Writer
	onLine  func([]byte)
	mu      sync.Mutex
	partial []byte
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.onLine(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	return l.w.Write(p)
}
