package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The values below are worked out by hand from GCRA with 4 per minute: the
// emission interval is 15 s, the burst offset 60 s, and the state is the
// theoretical arrival time (TAT) of the key, t0 on the first request.
func TestLocalBurstRefillByHand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	lim := NewLocal(clock.Now)

	allow := func(wantAllowed bool, wantRemaining int, wantRetry, wantReset time.Duration) {
		t.Helper()
		res, err := lim.Allow(ctx, "key", 4)
		require.NoError(t, err)
		require.Equal(t, Result{
			Allowed: wantAllowed, Limit: 4, Remaining: wantRemaining,
			RetryAfter: wantRetry, ResetAfter: wantReset,
		}, res)
	}

	// t0: the burst. Request n moves TAT to t0+15n s; ResetAfter = TAT-now.
	allow(true, 3, 0, 15*time.Second)
	allow(true, 2, 0, 30*time.Second)
	allow(true, 1, 0, 45*time.Second)
	allow(true, 0, 0, 60*time.Second)
	// TAT = t0+60; a 5th request would need TAT+15-60 = t0+15 <= now.
	allow(false, 0, 15*time.Second, 60*time.Second)

	// t0+10: 5 s still to wait, the bucket is full 50 s from now.
	clock.Advance(10 * time.Second)
	allow(false, 0, 5*time.Second, 50*time.Second)

	// t0+15: one emission interval later, exactly one request has refilled.
	clock.Advance(5 * time.Second)
	allow(true, 0, 0, 60*time.Second) // TAT = t0+75
	allow(false, 0, 15*time.Second, 60*time.Second)

	// t0+55: 40 s later, floor(40/15) = 2 requests have refilled.
	// New TAT = 75+15 = 90; allowAt = 90-60 = 30; Remaining = floor((55-30)/15) = 1.
	clock.Advance(40 * time.Second)
	allow(true, 1, 0, 35*time.Second) // TAT = t0+90
	allow(true, 0, 0, 50*time.Second) // TAT = t0+105
	allow(false, 0, 5*time.Second, 50*time.Second)

	// t0+105: TAT has passed, the bucket is full: like a key never seen.
	clock.Advance(50 * time.Second)
	allow(true, 3, 0, 15*time.Second)
}

// When a minute is not a whole number of nanoseconds per request (7 per
// minute), exactly the limit still fits in a burst.
func TestLocalUnevenEmissionInterval(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	lim := NewLocal(clock.Now)
	for i := range 7 {
		res, err := lim.Allow(ctx, "key", 7)
		require.NoError(t, err)
		require.True(t, res.Allowed, "request %d", i+1)
		require.Equal(t, 6-i, res.Remaining)
	}
	res, err := lim.Allow(ctx, "key", 7)
	require.NoError(t, err)
	require.False(t, res.Allowed)
	require.Equal(t, time.Minute/7, res.RetryAfter)

	clock.Advance(time.Minute / 7)
	res, err = lim.Allow(ctx, "key", 7)
	require.NoError(t, err)
	require.True(t, res.Allowed, "one emission interval refills one request")
}

// A limit changed between requests applies from the next request on: the
// state is a timestamp, not a count.
func TestLocalLimitChange(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	lim := NewLocal(clock.Now)
	for range 2 {
		res, err := lim.Allow(ctx, "key", 2)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	res, err := lim.Allow(ctx, "key", 2)
	require.NoError(t, err)
	require.False(t, res.Allowed)

	// TAT = t0+60 s. At 60 per minute, allowAt = 60+1-60 = t0+1 s > now.
	res, err = lim.Allow(ctx, "key", 60)
	require.NoError(t, err)
	require.False(t, res.Allowed)
	require.Equal(t, time.Second, res.RetryAfter)
}

func TestLocalConcurrentExactlyPerMinute(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock() // time stands still: no refill
	lim := NewLocal(clock.Now)

	const perMinute = 37
	const goroutines = 200
	var allowed atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			<-start
			for _, key := range []string{"shared", "also-shared"} {
				res, err := lim.Allow(ctx, key, perMinute)
				if err == nil && res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	require.EqualValues(t, 2*perMinute, allowed.Load())
}

func TestLocalPrunesFullBuckets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	lim := NewLocal(clock.Now)
	allow := func(key string) Result {
		t.Helper()
		res, err := lim.Allow(ctx, key, 4) // 15 s per request
		require.NoError(t, err)
		return res
	}

	allow("a") // full again at t0+15
	allow("b") // full again at t0+30
	allow("b") //
	require.Equal(t, 2, lim.Len())

	clock.Advance(15 * time.Second)
	allow("c") // prunes a; c is full again at t0+30
	require.Equal(t, 2, lim.Len())

	clock.Advance(15 * time.Second)
	allow("d") // prunes b and c
	require.Equal(t, 1, lim.Len())

	// A pruned key answers like a new one, as it would from Redis after
	// the key's expiry.
	require.Equal(t, 3, allow("a").Remaining)

	clock.Advance(time.Minute)
	allow("e")
	require.Equal(t, 1, lim.Len(), "after a quiet minute only the newest key is left")
}

func TestLocalCapEvictsClosestToFull(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	lim := NewLocalWithMaxKeys(clock.Now, 2)
	allow := func(key string) Result {
		t.Helper()
		res, err := lim.Allow(ctx, key, 4)
		require.NoError(t, err)
		return res
	}

	allow("light") // full again at t0+15
	for range 3 {
		allow("heavy") // full again at t0+45
	}
	allow("new") // over the cap: forgets "light", the key closest to full
	require.Equal(t, 2, lim.Len())

	// "heavy" kept its state: one request left, then denied.
	require.Equal(t, 0, allow("heavy").Remaining)
	require.False(t, allow("heavy").Allowed)
	// "light" starts over (and in turn evicts "new").
	require.Equal(t, 3, allow("light").Remaining)
	require.Equal(t, 2, lim.Len())
}

// A flood of distinct keys (a login flood from many addresses) cannot grow
// the limiter past its cap.
func TestLocalCapBoundsFlood(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := newFakeClock()
	const maxKeys = 100
	lim := NewLocalWithMaxKeys(clock.Now, maxKeys)
	for i := range 10_000 {
		res, err := lim.Allow(ctx, "ip-"+strconv.Itoa(i), 10)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		require.LessOrEqual(t, lim.Len(), maxKeys)
		if i%100 == 0 {
			clock.Advance(time.Millisecond)
		}
	}
	require.Equal(t, maxKeys, lim.Len())
	require.Len(t, lim.byFull, maxKeys, "heap and map stay in step")
}
