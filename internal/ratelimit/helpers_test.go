package ratelimit

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisURLEnv names the Redis the tests use. CI always sets it, so a missing
// value fails the run instead of silently skipping the Redis tests; only
// `go test -short` skips them.
const redisURLEnv = "BIZMCP_TEST_REDIS_URL"

// testRedisURL returns the test Redis URL, skipping under -short when unset.
func testRedisURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		if testing.Short() {
			tb.Skipf("%s is not set; skipping a Redis test under -short", redisURLEnv)
		}
		tb.Fatalf("%s is not set: these tests need a real Redis, e.g. %s=redis://127.0.0.1:6379/0", redisURLEnv, redisURLEnv)
	}
	return url
}

// newTestClient returns a client for url with go-redis's default timeouts,
// closed when the test ends. Tests on the shared Redis use it: under the
// race detector on a loaded 2-core machine a round trip can take far longer
// than it does in production, and a short timeout there made tests fail on
// load alone.
func newTestClient(tb testing.TB, url string) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(tb, err)
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// newFailFastClient returns a client for url that gives up quickly, closed
// when the test ends. The short timeouts are what lets the Fallback tests
// observe their own dead Redis in milliseconds; the package documentation
// gives the production equivalents.
func newFailFastClient(tb testing.TB, url string) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(tb, err)
	opt.DialTimeout = 200 * time.Millisecond
	opt.DialerRetries = 1
	opt.ReadTimeout = 300 * time.Millisecond
	opt.WriteTimeout = 300 * time.Millisecond
	opt.PoolTimeout = 500 * time.Millisecond
	opt.MaxRetries = -1 // no retries: one failed attempt is enough to fall back
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// uniquePrefix isolates a test's keys on the shared Redis: the test name for
// whoever reads the keys, random bytes so that reruns (-count) start empty.
func uniquePrefix(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return "bizmcp-test:" + tb.Name() + ":" + hex.EncodeToString(b[:]) + ":"
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// redisServer is a redis-server process owned by one test, so the test can
// kill and restart it without disturbing the shared Redis.
type redisServer struct {
	tb   testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// startRedisServer starts redis-server on a free loopback port, without
// persistence (a restart comes back empty, like a lost Redis), and stops it
// when the test ends.
func startRedisServer(tb testing.TB) *redisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server is not on PATH (apt-get install redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(tb, l.Close())

	s := &redisServer{tb: tb, port: port, dir: tb.TempDir()}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

func (s *redisServer) url() string { return "redis://" + s.addr() + "/0" }

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server and waits until it accepts connections.
func (s *redisServer) start() {
	s.tb.Helper()
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	cmd.Dir = s.dir // redis-server may write files in its working directory
	require.NoError(s.tb, cmd.Start())
	s.cmd = cmd

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redis-server on %s did not start: %v", s.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server the way a crash would (SIGKILL, no shutdown).
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
