// Package ratelimit limits requests per key (an API key, a client IP) to a
// number per minute with GCRA, the generic cell rate algorithm.
//
// Three limiters share one interface and one meaning of their results:
//
//   - Redis: the shared limiter. One atomic Lua script (go-redis/redis_rate)
//     per request, so every server instance on the same Redis draws from the
//     same budget and concurrent requests cannot race between "count" and
//     "record" (the seed's bug).
//   - Local: the same algorithm in process, for a single instance without
//     Redis and as the fallback when Redis is unreachable.
//   - Fallback: Redis first, Local when Redis fails, so an outage of Redis
//     degrades rate limiting to per instance instead of failing requests.
//
// # Redis client settings
//
// Every rate-limited request waits for Redis before it can fall back, so the
// go-redis client handed to NewRedis must give up quickly. go-redis' defaults
// (DialTimeout 5s, 5 dial attempts per connection, ReadTimeout 5s, 3 command
// retries) can keep a request waiting for tens of seconds while Redis is
// unreachable. The production client should set about:
//
//	DialTimeout:   time.Second,
//	DialerRetries: 1,                      // one dial attempt per connection
//	ReadTimeout:   500 * time.Millisecond, // the GCRA script runs in microseconds
//	WriteTimeout:  500 * time.Millisecond,
//	PoolTimeout:   time.Second,
//	MaxRetries:    1,
//
// Once PoolSize dials in a row have failed, go-redis fails further commands at
// once and redials in the background every second; Fallback adds its own
// back-off (one probe of Redis per second while degraded), so a hung Redis
// costs at most one slow request per second, not one per request.
package ratelimit

import (
	"context"
	"time"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// MaxPerMinute is the largest accepted limit. It keeps the emission interval
// (a minute divided by the limit) far above the nanosecond resolution of
// time.Duration, and no client of a business API needs more than ~16,000
// requests per second on one key. Forms that set a key's limit validate
// against the same bound.
const MaxPerMinute = 1_000_000

// Result is the answer to one Allow call, with what the HTTP layer needs for
// its 429 response and RateLimit-* headers.
type Result struct {
	// Allowed reports whether this request may proceed. A denied request
	// consumes no budget.
	Allowed bool
	// Limit is the per-minute limit the request was checked against; it is
	// also the burst: a key that has been idle for a minute may send Limit
	// requests at once.
	Limit int
	// Remaining is how many more requests would be allowed right now, after
	// this one.
	Remaining int
	// RetryAfter is how long until one request would be allowed. It is > 0
	// only when !Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key's budget is full again, that
	// is until a burst of Limit requests would be allowed.
	ResetAfter time.Duration
	// Closed reports that the key's budget was closed for good (Close):
	// the key was revoked, and the caller must not let it in whatever its
	// own records say. Closed implies !Allowed.
	Closed bool
	// Degraded reports that the shared limiter failed and the answer came
	// from this process alone: the limit held per instance, and whatever
	// the other instances told the shared limiter (a closed budget) was not
	// seen.
	Degraded bool
}

// Limiter decides whether one more request for key is allowed under a limit
// of perMinute requests per minute (with a burst of perMinute).
//
// It is the interface the HTTP middleware consumes; Redis, Local and Fallback
// implement it. perMinute is passed per call rather than fixed per limiter
// because each API key carries its own limit, which an administrator may
// change at any time: GCRA keeps only a timestamp per key, so a new limit
// applies from the next request on.
type Limiter interface {
	// Allow returns an error with code apperr.Invalid when perMinute is
	// outside [1, MaxPerMinute]; other errors depend on the implementation.
	Allow(ctx context.Context, key string, perMinute int) (Result, error)
}

// checkPerMinute rejects limits the algorithm cannot represent. A limit of 0
// is rejected rather than read as "deny everything" or "unlimited": either
// reading would silently hide a configuration mistake.
func checkPerMinute(perMinute int) error {
	if perMinute < 1 || perMinute > MaxPerMinute {
		return apperr.E(apperr.Invalid,
			"rate limit must be between 1 and %d requests per minute, got %d", MaxPerMinute, perMinute)
	}
	return nil
}
