package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/groupcommit"
)

// Redis is the limiter shared by all server instances that use the same Redis.
// It runs redis_rate's GCRA script, which reads and updates a key's state in
// one atomic step on the Redis server, with Redis' own clock: instances with
// skewed clocks still agree.
//
// Concurrent requests share round trips: a request that finds none in flight
// runs its script at once; those that arrive meanwhile queue, and go together
// as one pipeline when it is back (then the next queue, until none is left).
// Each script still runs atomically on its own, in arrival order, so the
// budget is exactly what one script per request gives; only the network and
// Redis' per-command overhead are shared.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	// group shares round trips among concurrent requests.
	group *groupcommit.Group[allowArgs, gcraResult]
}

// allowArgs is one request for the script: its key (already prefixed) and
// limit.
type allowArgs struct {
	key       string
	perMinute int
}

// gcraResult is the script's answer.
type gcraResult struct {
	allowed, remaining     int
	retryAfter, resetAfter time.Duration
}

// maxPipeline bounds the requests sent in one round trip.
const maxPipeline = 128

// gcra is redis_rate v10's allowN script (Copyright (c) 2017 Pavel Pravosud,
// BSD licence, as redis_rate), verbatim, so that many requests can share a
// pipeline, which redis_rate's API cannot do. The state it keeps is
// redis_rate's ("rate:" + key holds the TAT); TestRedisClose and
// TestGCRAIsRedisRates pin both.
var gcra = redis.NewScript(gcraScript)

const gcraScript = `
-- this script has side-effects, so it requires replicate commands mode
redis.replicate_commands()

local rate_limit_key = KEYS[1]
local burst = ARGV[1]
local rate = ARGV[2]
local period = ARGV[3]
local cost = tonumber(ARGV[4])

local emission_interval = period / rate
local increment = emission_interval * cost
local burst_offset = emission_interval * burst

-- redis returns time as an array containing two integers: seconds of the epoch
-- time (10 digits) and microseconds (6 digits). for convenience we need to
-- convert them to a floating point number. the resulting number is 16 digits,
-- bordering on the limits of a 64-bit double-precision floating point number.
-- adjust the epoch to be relative to Jan 1, 2017 00:00:00 GMT to avoid floating
-- point problems. this approach is good until "now" is 2,483,228,799 (Wed, 09
-- Sep 2048 01:46:39 GMT), when the adjusted value is 16 digits.
local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)

local tat = redis.call("GET", rate_limit_key)

if not tat then
  tat = now
else
  tat = tonumber(tat)
end

tat = math.max(tat, now)

local new_tat = tat + increment
local allow_at = new_tat - burst_offset

local diff = now - allow_at
local remaining = diff / emission_interval

if remaining < 0 then
  local reset_after = tat - now
  local retry_after = diff * -1
  return {
    0, -- allowed
    0, -- remaining
    tostring(retry_after),
    tostring(reset_after),
  }
end

local reset_after = new_tat - now
if reset_after > 0 then
  redis.call("SET", rate_limit_key, new_tat, "EX", math.ceil(reset_after))
end
local retry_after = -1
return {cost, remaining, tostring(retry_after), tostring(reset_after)}
`

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
	r := &Redis{rdb: rdb, prefix: prefix}
	r.group = groupcommit.New(maxPipeline, r.runBatch)
	return r
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
	res, err := r.allow(ctx, r.prefix+key, perMinute)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Result{}, ctxErr
		}
		return Result{}, apperr.Wrap(err, apperr.Unavailable, "rate limiting is unavailable")
	}
	out := Result{
		Allowed:    res.allowed > 0,
		Limit:      perMinute,
		Remaining:  res.remaining,
		ResetAfter: max(res.resetAfter, 0),
	}
	if !out.Allowed {
		// redis_rate reports -1 for "not limited"; Result promises
		// RetryAfter > 0 exactly when denied. The floor guards against a
		// wait below a nanosecond rounding to 0.
		out.RetryAfter = max(res.retryAfter, 1)
		out.Closed = res.retryAfter > closedIfWaitGT
	}
	return out, nil
}

// allow runs the script for key (already prefixed) at perMinute per minute,
// with burst perMinute, as redis_rate.PerMinute does: at once when no round
// trip is in flight, else in the next pipeline (see Redis). A request whose
// context ends while it waits stops waiting; the script may still run and
// count it, as it would had the request been cancelled after it was sent.
func (r *Redis) allow(ctx context.Context, key string, perMinute int) (gcraResult, error) {
	return r.group.Do(ctx, allowArgs{key: key, perMinute: perMinute})
}

// pipelineTimeout bounds one round trip, alone or a pipeline; the client's
// own read and write timeouts are shorter in production (see the package
// documentation).
const pipelineTimeout = 5 * time.Second

// runBatch runs a batch of scripts: one alone in its own round trip (the
// request that found none in flight), several as one pipeline. It is not
// bound to any one request's context when it serves several: each waiting
// request stops waiting when its own ends.
func (r *Redis) runBatch(ctx context.Context, batch []*groupcommit.Call[allowArgs, gcraResult]) {
	ctx, cancel := context.WithTimeout(ctx, pipelineTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].Finish(runGCRA(ctx, r.rdb, batch[0].In.key, batch[0].In.perMinute))
		return
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, c := range batch {
		cmds[i] = gcra.EvalSha(ctx, pipe, []string{"rate:" + c.In.key}, gcraArgs(c.In.perMinute)...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range batch {
		err := cmds[i].Err()
		switch {
		case err != nil && redis.HasErrorPrefix(err, "NOSCRIPT"):
			// Redis lost its script cache (a restart, SCRIPT FLUSH):
			// Run sends the script itself.
			c.Finish(runGCRA(ctx, r.rdb, c.In.key, c.In.perMinute))
		case err != nil:
			c.Finish(gcraResult{}, err)
		default:
			c.Finish(parseGCRA(cmds[i].Val()))
		}
	}
}

func gcraArgs(perMinute int) []any {
	// burst, rate, period in seconds, cost: redis_rate.PerMinute(perMinute)
	// asking for one.
	return []any{perMinute, perMinute, time.Minute.Seconds(), 1}
}

// runGCRA runs the script for one request in its own round trip.
func runGCRA(ctx context.Context, rdb redis.Scripter, key string, perMinute int) (gcraResult, error) {
	v, err := gcra.Run(ctx, rdb, []string{"rate:" + key}, gcraArgs(perMinute)...).Result()
	if err != nil {
		return gcraResult{}, err
	}
	return parseGCRA(v)
}

// parseGCRA reads the script's answer as redis_rate's AllowN does.
func parseGCRA(v any) (gcraResult, error) {
	values, ok := v.([]any)
	if !ok || len(values) != 4 {
		return gcraResult{}, fmt.Errorf("rate limit script: unexpected answer %v", v)
	}
	allowed, ok1 := values[0].(int64)
	remaining, ok2 := values[1].(int64)
	retry, ok3 := values[2].(string)
	reset, ok4 := values[3].(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return gcraResult{}, fmt.Errorf("rate limit script: unexpected answer %v", v)
	}
	retryAfter, err := strconv.ParseFloat(retry, 64)
	if err != nil {
		return gcraResult{}, fmt.Errorf("rate limit script: %w", err)
	}
	resetAfter, err := strconv.ParseFloat(reset, 64)
	if err != nil {
		return gcraResult{}, fmt.Errorf("rate limit script: %w", err)
	}
	return gcraResult{allowed: int(allowed), remaining: int(remaining), retryAfter: seconds(retryAfter), resetAfter: seconds(resetAfter)}, nil
}

// seconds converts the script's float seconds as redis_rate's dur does: -1
// stays -1 (not limited).
func seconds(f float64) time.Duration {
	if f == -1 {
		return -1
	}
	return time.Duration(f * float64(time.Second))
}
