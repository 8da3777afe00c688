package ratelimit

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// slack bounds how much real time a Redis test may take between its first
// request and an assertion on a duration. Every such test keeps its requests
// far inside one emission interval, so no budget refills mid-test.
const slack = time.Second

func TestRedisBurstThenDenied(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	lim := NewRedis(newTestClient(t, testRedisURL(t)), uniquePrefix(t))

	// 5 per minute: one request every 12 s, a burst of 5.
	const perMinute = 5
	const emission = 12 * time.Second
	for i := range perMinute {
		res, err := lim.Allow(ctx, "key", perMinute)
		require.NoError(t, err)
		require.True(t, res.Allowed, "request %d", i+1)
		require.Equal(t, perMinute, res.Limit)
		require.Equal(t, perMinute-1-i, res.Remaining, "request %d", i+1)
		require.Zero(t, res.RetryAfter, "an allowed request has no RetryAfter")
		// The budget is full again once every request taken so far has
		// been paid back, one emission interval each.
		want := time.Duration(i+1) * emission
		require.InDelta(t, want, res.ResetAfter, float64(slack), "request %d", i+1)
		require.LessOrEqual(t, res.ResetAfter, want)
	}

	res, err := lim.Allow(ctx, "key", perMinute)
	require.NoError(t, err)
	require.False(t, res.Allowed)
	require.Equal(t, perMinute, res.Limit)
	require.Zero(t, res.Remaining)
	require.Positive(t, res.RetryAfter)
	require.InDelta(t, emission, res.RetryAfter, float64(slack))
	require.LessOrEqual(t, res.RetryAfter, emission)
	require.InDelta(t, time.Minute, res.ResetAfter, float64(slack))
	// What the HTTP layer will send: Retry-After in whole seconds, rounded up.
	require.Equal(t, 12.0, math.Ceil(res.RetryAfter.Seconds()))

	// A denied request costs nothing: the wait does not grow.
	again, err := lim.Allow(ctx, "key", perMinute)
	require.NoError(t, err)
	require.False(t, again.Allowed)
	require.LessOrEqual(t, again.RetryAfter, res.RetryAfter)

	// Another key has its own budget.
	other, err := lim.Allow(ctx, "other", perMinute)
	require.NoError(t, err)
	require.True(t, other.Allowed)
	require.Equal(t, perMinute-1, other.Remaining)
}

func TestRedisPrefixesIsolate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := newTestClient(t, testRedisURL(t))
	a := NewRedis(rdb, uniquePrefix(t))
	b := NewRedis(rdb, uniquePrefix(t))

	res, err := a.Allow(ctx, "key", 1)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	res, err = a.Allow(ctx, "key", 1)
	require.NoError(t, err)
	require.False(t, res.Allowed)

	res, err = b.Allow(ctx, "key", 1)
	require.NoError(t, err)
	require.True(t, res.Allowed, "the same key under another prefix is another budget")
}

// Two clients stand for two server instances: the budget of a key is shared.
func TestRedisInstancesShareBudget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := testRedisURL(t)
	prefix := uniquePrefix(t)
	instances := []*Redis{
		NewRedis(newTestClient(t, url), prefix),
		NewRedis(newTestClient(t, url), prefix),
	}

	const perMinute = 10
	for i := range perMinute {
		res, err := instances[i%2].Allow(ctx, "key", perMinute)
		require.NoError(t, err)
		require.True(t, res.Allowed, "request %d", i+1)
		require.Equal(t, perMinute-1-i, res.Remaining, "request %d counts the other instance's requests", i+1)
	}
	for i, inst := range instances {
		res, err := inst.Allow(ctx, "key", perMinute)
		require.NoError(t, err)
		require.False(t, res.Allowed, "instance %d", i)
		require.Positive(t, res.RetryAfter)
	}
}

// Many concurrent requests through two instances: exactly perMinute pass.
// The emission interval (2 s) is far longer than the test, so no refill
// blurs the count.
func TestRedisConcurrentExactlyPerMinute(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := testRedisURL(t)
	prefix := uniquePrefix(t)
	instances := []*Redis{
		NewRedis(newTestClient(t, url), prefix),
		NewRedis(newTestClient(t, url), prefix),
	}

	const perMinute = 30
	const goroutines = 200
	var allowed, denied atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		wg.Go(func() {
			<-start
			res, err := instances[i%2].Allow(ctx, "key", perMinute)
			if err != nil {
				errs <- err
				return
			}
			if res.Allowed {
				allowed.Add(1)
			} else {
				denied.Add(1)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// A budget of 30 a minute earns one request back every 2 s: on a
	// machine so loaded that the burst outlived that, each interval may
	// have admitted one more. Exactly 30 otherwise.
	refilled := int64(time.Since(began) / (time.Minute / perMinute))
	require.GreaterOrEqual(t, allowed.Load(), int64(perMinute))
	require.LessOrEqual(t, allowed.Load(), perMinute+refilled, "more admitted than the budget and what it earned back during the test")
	require.EqualValues(t, goroutines, allowed.Load()+denied.Load())
}

// Local is the fallback for Redis, so for the same sequence of requests it
// must give the same answers.
func TestLocalMatchesRedis(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := newTestClient(t, testRedisURL(t))
	for _, perMinute := range []int{1, 3, 7, 60} {
		red := NewRedis(rdb, uniquePrefix(t))
		loc := NewLocal(nil)
		for i := range perMinute + 2 {
			want, err := red.Allow(ctx, "key", perMinute)
			require.NoError(t, err)
			got, err := loc.Allow(ctx, "key", perMinute)
			require.NoError(t, err)
			msg := []any{"perMinute %d, request %d", perMinute, i + 1}
			require.Equal(t, want.Allowed, got.Allowed, msg...)
			require.Equal(t, want.Limit, got.Limit, msg...)
			// redis_rate computes in float seconds since 2017 (about 60 ns
			// of resolution) and truncates Remaining, so where the exact
			// value is a whole number (7 per minute: 51.43/8.57 = 6) it
			// may answer one less. Local's integer nanoseconds are exact.
			require.GreaterOrEqual(t, got.Remaining, want.Remaining, msg...)
			require.LessOrEqual(t, got.Remaining, want.Remaining+1, msg...)
			require.Equal(t, want.RetryAfter > 0, got.RetryAfter > 0, msg...)
			require.InDelta(t, want.RetryAfter, got.RetryAfter, float64(slack), msg...)
			require.InDelta(t, want.ResetAfter, got.ResetAfter, float64(slack), msg...)
		}
	}
}

func TestInvalidPerMinute(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	limiters := map[string]Limiter{
		"redis":    NewRedis(newTestClient(t, testRedisURL(t)), uniquePrefix(t)),
		"local":    NewLocal(nil),
		"fallback": NewFallback(nil, nil, nil, nil),
	}
	for name, lim := range limiters {
		for _, perMinute := range []int{0, -1, math.MinInt, MaxPerMinute + 1, math.MaxInt} {
			_, err := lim.Allow(ctx, "key", perMinute)
			require.Error(t, err, "%s, perMinute %d", name, perMinute)
			require.True(t, apperr.Is(err, apperr.Invalid), "%s, perMinute %d: %v", name, perMinute, err)
		}
		for _, perMinute := range []int{1, MaxPerMinute} {
			res, err := lim.Allow(ctx, "key", perMinute)
			require.NoError(t, err, "%s, perMinute %d", name, perMinute)
			require.Equal(t, perMinute, res.Limit)
		}
	}
}

func TestRedisCanceledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	lim := NewRedis(newTestClient(t, testRedisURL(t)), uniquePrefix(t))
	_, err := lim.Allow(ctx, "key", 10)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, apperr.Is(err, apperr.Unavailable), "a canceled request says nothing about Redis")
}

// A closed budget (a revoked key) is refused on every limiter sharing the
// Redis, in the answer of the request's own round trip, and says so; other
// keys are untouched. The test also pins the coupling to redis_rate's state
// format that Close relies on.
func TestRedisClose(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := newTestClient(t, testRedisURL(t))
	prefix := uniquePrefix(t)
	a, b := NewRedis(rdb, prefix), NewRedis(rdb, prefix)

	res, err := b.Allow(ctx, "key:1", 100)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	require.False(t, res.Closed)

	require.NoError(t, a.Close(ctx, "key:1"))
	for _, perMinute := range []int{1, 100, MaxPerMinute} {
		res, err = b.Allow(ctx, "key:1", perMinute)
		require.NoError(t, err)
		require.False(t, res.Allowed)
		require.True(t, res.Closed, "at %d per minute", perMinute)
	}
	ttl, err := rdb.TTL(ctx, "rate:"+prefix+"key:1").Result()
	require.NoError(t, err)
	require.Positive(t, ttl, "the mark expires")

	// A key denied by its limit is not closed.
	for range 2 {
		res, err = b.Allow(ctx, "key:2", 1)
		require.NoError(t, err)
	}
	require.False(t, res.Allowed)
	require.False(t, res.Closed)
}

// The script is redis_rate's: requests through redis_rate's own limiter and
// through Redis, taken in turn on one key, draw from one budget and agree on
// what remains.
func TestGCRAIsRedisRates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := newTestClient(t, testRedisURL(t))
	prefix := uniquePrefix(t)
	ours := NewRedis(rdb, prefix)
	theirs := redis_rate.NewLimiter(rdb)
	const perMinute = 6
	for i := range perMinute + 2 {
		want := perMinute - 1 - i
		if i%2 == 0 {
			res, err := ours.Allow(ctx, "k", perMinute)
			require.NoError(t, err)
			require.Equal(t, want >= 0, res.Allowed, "request %d", i)
			require.Equal(t, max(want, 0), res.Remaining, "request %d", i)
		} else {
			res, err := theirs.Allow(ctx, prefix+"k", redis_rate.PerMinute(perMinute))
			require.NoError(t, err)
			require.Equal(t, want >= 0, res.Allowed > 0, "request %d", i)
			require.Equal(t, max(want, 0), res.Remaining, "request %d", i)
		}
	}
}

// pauseHook holds the first single command (the first request's script)
// until released, and records the size of every pipeline.
type pauseHook struct {
	held      chan struct{}
	release   chan struct{}
	once      sync.Once
	mu        sync.Mutex
	pipelines []int
}

func (h *pauseHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pauseHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" || cmd.Name() == "eval" {
			h.once.Do(func() {
				close(h.held)
				<-h.release
			})
		}
		return next(ctx, cmd)
	}
}

func (h *pauseHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		scripts := 0 // a new connection's handshake is a pipeline too
		for _, c := range cmds {
			if c.Name() == "evalsha" {
				scripts++
			}
		}
		if scripts > 0 {
			h.mu.Lock()
			h.pipelines = append(h.pipelines, scripts)
			h.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

// Requests that arrive while one is in flight share the next round trip,
// and the budget is exactly what one script per request gives.
func TestRedisConcurrentRequestsSharePipelines(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := newTestClient(t, testRedisURL(t))
	hook := &pauseHook{held: make(chan struct{}), release: make(chan struct{})}
	rdb.AddHook(hook)
	r := NewRedis(rdb, uniquePrefix(t))

	const perMinute, waiting = 5, 20
	type answer struct {
		res Result
		err error
	}
	answers := make(chan answer, waiting+1)
	go func() {
		res, err := r.Allow(ctx, "shared", perMinute)
		answers <- answer{res, err}
	}()
	<-hook.held // the first request is in flight
	for range waiting {
		go func() {
			res, err := r.Allow(ctx, "shared", perMinute)
			answers <- answer{res, err}
		}()
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, waiting, r.group.Queued())
	}, 10*time.Second, time.Millisecond)
	close(hook.release)

	allowed := 0
	for range waiting + 1 {
		a := <-answers
		require.NoError(t, a.err)
		if a.res.Allowed {
			allowed++
		} else {
			require.Positive(t, a.res.RetryAfter)
		}
	}
	require.Equal(t, perMinute, allowed)
	hook.mu.Lock()
	require.Equal(t, []int{waiting}, hook.pipelines, "the waiting requests go in one pipeline")
	hook.mu.Unlock()
	// The drain ends its busy state just after it answers the last call.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, r.group.Idle(), "idle once the queue is drained")
	}, 10*time.Second, time.Millisecond)
}
