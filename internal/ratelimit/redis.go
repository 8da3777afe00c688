package ratelimit

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Redis is the limiter shared by all server instances that use the same Redis.
// It runs redis_rate's GCRA script, which reads and updates a key's state in
// one atomic step on the Redis server, with Redis' own clock: instances with
// skewed clocks still agree.
type Redis struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	prefix  string
}

// A closed budget is GCRA state whose theoretical arrival time lies decades
// ahead: redis_rate's script then denies every request, and reports a wait
// no real limit can produce (the longest is a minute, at 1 per minute), so
// the answer itself says "closed" in the one round trip a request makes
// anyway. The state is redis_rate's: its key ("rate:" + key) holds the TAT in
// seconds since 2017-01-01 (TestRedisClose fails if that ever changes).
const (
	closedTAT      = 2_000_000_000 // seconds after 2017-01-01: in the 2080s
	closedFor      = 24 * time.Hour
	closedIfWaitGT = 365 * 24 * time.Hour
)

// NewRedis returns a limiter over rdb. Every key is stored as
// "rate:" + prefix + key (redis_rate adds "rate:"), so prefix separates
// bizmcp from other users of the same Redis ("bizmcp:") and tests sharing one
// Redis from each other (a prefix per test). See the package documentation
// for the timeouts rdb should have.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: rdb, limiter: redis_rate.NewLimiter(rdb), prefix: prefix}
}

// Close closes key's budget on every instance: from now on Allow denies it
// with Result.Closed. It is how a revoked API key is refused by instances
// that still hold it in a cache, within the request's own round trip. The
// mark lasts closedFor, far longer than any such cache keeps an entry.
func (r *Redis) Close(ctx context.Context, key string) error {
	err := r.rdb.Set(ctx, "rate:"+r.prefix+key, closedTAT, closedFor).Err()
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, "could not close the rate-limit budget")
	}
	return nil
}

// Allow implements Limiter with rate perMinute per minute and burst perMinute.
//
// When ctx is done it returns ctx.Err() unwrapped, so callers (Fallback, the
// HTTP layer) can tell a request that went away from a Redis that did not
// answer. Any other failure is an apperr.Unavailable error wrapping the
// go-redis error.
func (r *Redis) Allow(ctx context.Context, key string, perMinute int) (Result, error) {
	if err := checkPerMinute(perMinute); err != nil {
		return Result{}, err
	}
	res, err := r.limiter.Allow(ctx, r.prefix+key, redis_rate.PerMinute(perMinute))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Result{}, ctxErr
		}
		return Result{}, apperr.Wrap(err, apperr.Unavailable, "rate limiting is unavailable")
	}
	out := Result{
		Allowed:    res.Allowed > 0,
		Limit:      perMinute,
		Remaining:  res.Remaining,
		ResetAfter: max(res.ResetAfter, 0),
	}
	if !out.Allowed {
		// redis_rate reports -1 for "not limited"; Result promises
		// RetryAfter > 0 exactly when denied. The floor guards against a
		// wait below a nanosecond rounding to 0.
		out.RetryAfter = max(res.RetryAfter, 1)
		out.Closed = res.RetryAfter > closedIfWaitGT
	}
	return out, nil
}
