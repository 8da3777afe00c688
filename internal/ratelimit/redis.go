package ratelimit

import (
	"context"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Redis is the limiter shared by all server instances that use the same Redis.
// It runs redis_rate's GCRA script, which reads and updates a key's state in
// one atomic step on the Redis server, with Redis' own clock: instances with
// skewed clocks still agree.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// NewRedis returns a limiter over rdb. Every key is stored as
// "rate:" + prefix + key (redis_rate adds "rate:"), so prefix separates
// bizmcp from other users of the same Redis ("bizmcp:") and tests sharing one
// Redis from each other (a prefix per test). See the package documentation
// for the timeouts rdb should have.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(rdb), prefix: prefix}
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
	}
	return out, nil
}
