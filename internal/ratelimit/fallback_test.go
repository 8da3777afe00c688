package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines contain s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

// The real test: a Redis process of our own, killed mid-test and restarted on
// the same port, with the short client timeouts of newFailFastClient.
func TestFallbackRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if testing.Short() {
		t.Skip("starts and kills its own redis-server; skipped under -short")
	}
	srv := startRedisServer(t)
	rdb := newFailFastClient(t, srv.url())
	logger, logs := newTestLogger()
	var fallbacks atomic.Int64
	f := NewFallback(NewRedis(rdb, uniquePrefix(t)), NewLocal(nil), logger, func() { fallbacks.Add(1) })
	f.probeInterval = 50 * time.Millisecond // recover quickly once Redis is back

	const perMinute = 5
	allow := func(key string) Result {
		t.Helper()
		res, err := f.Allow(ctx, key, perMinute)
		require.NoError(t, err, "Fallback never fails a request")
		return res
	}

	// Healthy: Redis answers.
	require.Equal(t, 4, allow("key").Remaining)
	healthy := allow("key")
	require.Equal(t, 3, healthy.Remaining)
	require.False(t, healthy.Degraded)
	require.Zero(t, fallbacks.Load())
	degraded, err := f.Degraded()
	require.False(t, degraded)
	require.NoError(t, err)
	require.True(t, f.Shared())

	srv.stop()

	// Down: the local limiter answers, with its own (fresh) budget, quickly.
	began := time.Now()
	res := allow("key")
	require.Less(t, time.Since(began), 2*time.Second, "a dead Redis must not hold the request")
	require.True(t, res.Allowed)
	require.Equal(t, 4, res.Remaining, "answered by the local limiter, which has not seen this key")
	require.True(t, res.Degraded, "the caller learns that the shared limiter was not asked")
	require.EqualValues(t, 1, fallbacks.Load())
	degraded, err = f.Degraded()
	require.True(t, degraded)
	require.Error(t, err)

	for range 4 {
		allow("key")
	}
	denied := allow("key")
	require.False(t, denied.Allowed, "the local limiter still limits")
	require.Positive(t, denied.RetryAfter)
	require.EqualValues(t, 6, fallbacks.Load(), "every locally answered request is counted")

	srv.start()

	// Back: within go-redis' redial period (1 s) and our probe interval,
	// Redis answers again. The probe uses its own key so as not to spend
	// the budget checked below.
	require.Eventually(t, func() bool {
		_, err := f.Allow(ctx, "probe", perMinute)
		degraded, _ := f.Degraded()
		return err == nil && !degraded
	}, 10*time.Second, 50*time.Millisecond)
	_, err = f.Degraded()
	require.NoError(t, err)

	before := fallbacks.Load()
	res = allow("key")
	require.True(t, res.Allowed, "the restarted Redis is empty: a fresh budget")
	require.Equal(t, 4, res.Remaining)
	require.Equal(t, before, fallbacks.Load(), "answered by Redis")
	n, err := rdb.Exists(ctx, "rate:"+f.primary.(*Redis).prefix+"key").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the state is in Redis")

	require.Equal(t, 1, logs.count("level=WARN"), "one warning for the outage, not one per request")
	require.Equal(t, 1, logs.count("level=INFO"), "one line for the recovery")
}

// A Redis that hangs (rather than refusing connections) costs one request a
// read timeout per probe interval; every other request is answered locally
// at once.
func TestFallbackRedisHung(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if testing.Short() {
		t.Skip("starts and stops its own redis-server; skipped under -short")
	}
	srv := startRedisServer(t)
	rdb := newFailFastClient(t, srv.url())
	var fallbacks atomic.Int64
	f := NewFallback(NewRedis(rdb, uniquePrefix(t)), NewLocal(nil), nil, func() { fallbacks.Add(1) })
	f.probeInterval = time.Hour // no probe during the test: its timing stays exact

	_, err := f.Allow(ctx, "key", 100)
	require.NoError(t, err)
	require.Zero(t, fallbacks.Load())

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() {
		if srv.cmd != nil {
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	})

	began := time.Now()
	res, err := f.Allow(ctx, "key", 100)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	first := time.Since(began)
	require.GreaterOrEqual(t, first, 250*time.Millisecond, "the first request waits for the read timeout (300 ms)")
	require.Less(t, first, 2*time.Second)
	degraded, err := f.Degraded()
	require.True(t, degraded)
	require.Error(t, err)

	began = time.Now()
	for range 20 {
		_, err := f.Allow(ctx, "key", 100)
		require.NoError(t, err)
	}
	// A request that waited for the hung Redis would take its 300 ms read
	// timeout, 6 s for the 20; answering locally takes milliseconds. The
	// bound is far from both, so load on the machine cannot decide it.
	require.Less(t, time.Since(began), 3*time.Second, "between probes, requests do not wait for Redis")
	require.EqualValues(t, 21, fallbacks.Load())
}

// stubLimiter is a primary that fails on demand. It stands in for Redis only
// where exact call counts and a fake clock matter; the Redis behaviour itself
// is covered against a real server above.
type stubLimiter struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (s *stubLimiter) Allow(ctx context.Context, _ string, perMinute int) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if s.err != nil {
		return Result{}, s.err
	}
	// A Remaining that Local would never give identifies the primary.
	return Result{Allowed: true, Limit: perMinute, Remaining: 1000}, nil
}

func (s *stubLimiter) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *stubLimiter) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestFallbackTransitionsAndProbing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	primary := &stubLimiter{}
	logger, logs := newTestLogger()
	var fallbacks atomic.Int64
	f := NewFallback(primary, NewLocal(clock.Now), logger, func() { fallbacks.Add(1) })

	fromPrimary := func() bool {
		t.Helper()
		res, err := f.Allow(ctx, "key", 100)
		require.NoError(t, err)
		return res.Remaining == 1000
	}

	require.True(t, fromPrimary())
	require.Equal(t, 1, primary.callCount())

	outage := errors.New("connection refused")
	primary.set(outage)
	require.False(t, fromPrimary())
	degraded, err := f.Degraded()
	require.True(t, degraded)
	require.ErrorIs(t, err, outage)
	require.Equal(t, 2, primary.callCount())

	// Until the probe interval has passed, the primary is not asked.
	require.False(t, fromPrimary())
	require.False(t, fromPrimary())
	require.Equal(t, 2, primary.callCount())
	require.EqualValues(t, 3, fallbacks.Load())

	clock.Advance(probeInterval)
	require.False(t, fromPrimary(), "the probe fails, the local limiter answers")
	require.Equal(t, 3, primary.callCount())

	primary.set(nil)
	require.False(t, fromPrimary(), "recovery is noticed at the next probe, not before")
	clock.Advance(probeInterval)
	require.True(t, fromPrimary())
	degraded, err = f.Degraded()
	require.False(t, degraded)
	require.NoError(t, err)
	require.EqualValues(t, 5, fallbacks.Load())

	require.Equal(t, 1, logs.count("level=WARN"))
	require.Equal(t, 1, logs.count("level=INFO"))
	require.Equal(t, 1, logs.count("degraded_for=2s"))
}

// A request canceled while the primary is asked is not an outage.
func TestFallbackCanceledContextIsNotOutage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var fallbacks atomic.Int64
	primaries := map[string]Limiter{
		"stub":  &stubLimiter{},
		"redis": NewRedis(newTestClient(t, testRedisURL(t)), uniquePrefix(t)),
	}
	for name, primary := range primaries {
		f := NewFallback(primary, nil, nil, func() { fallbacks.Add(1) })
		_, err := f.Allow(ctx, "key", 10)
		require.ErrorIs(t, err, context.Canceled, name)
		degraded, lastErr := f.Degraded()
		require.False(t, degraded, name)
		require.NoError(t, lastErr, name)
	}
	require.Zero(t, fallbacks.Load())
}

// Without Redis (no REDIS_URL) the local limiter is the configured mode, not
// a degradation.
func TestFallbackWithoutPrimary(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	var fallbacks atomic.Int64
	f := NewFallback(nil, NewLocal(clock.Now), nil, func() { fallbacks.Add(1) })
	require.False(t, f.Shared())
	for i := range 3 {
		res, err := f.Allow(ctx, "key", 3)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.Equal(t, 2-i, res.Remaining)
	}
	res, err := f.Allow(ctx, "key", 3)
	require.NoError(t, err)
	require.False(t, res.Allowed)
	require.Equal(t, 20*time.Second, res.RetryAfter)

	degraded, lastErr := f.Degraded()
	require.False(t, degraded)
	require.NoError(t, lastErr)
	require.Zero(t, fallbacks.Load())
}
