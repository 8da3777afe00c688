package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// probeInterval is how often a degraded Fallback tries the primary again.
// Between probes it answers from the local limiter at once, so a Redis that
// hangs (rather than refusing connections) slows at most one request per
// interval instead of every request.
const probeInterval = time.Second

// Fallback asks the primary (shared, Redis) limiter and, when that fails,
// answers from an in-process Local instead: an unreachable Redis weakens rate
// limiting to a per-instance budget for a while, it never fails a request.
//
// With a nil primary (no REDIS_URL: a single instance) it always answers from
// Local; that is the configured mode, not a degradation, so Degraded reports
// false and onFallback is not called. cmd can therefore always wire a
// Fallback and hand it to the health page.
type Fallback struct {
	primary       Limiter
	local         *Local
	logger        *slog.Logger
	onFallback    func()
	probeInterval time.Duration

	mu        sync.Mutex
	degraded  bool
	lastErr   error
	since     time.Time // when the current degradation began
	nextProbe time.Time
	probing   bool // a probe of the primary is in flight while degraded
}

// NewFallback returns a Fallback over primary (nil: Local only) and local
// (nil: a new NewLocal(nil)). logger (nil: discard) receives one warning when
// the primary starts failing and one info line when it answers again, not a
// line per request. onFallback (nil: none) is called once for every request
// answered by local because the primary failed, to feed a metric.
func NewFallback(primary Limiter, local *Local, logger *slog.Logger, onFallback func()) *Fallback {
	if local == nil {
		local = NewLocal(nil)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if onFallback == nil {
		onFallback = func() {}
	}
	return &Fallback{
		primary:       primary,
		local:         local,
		logger:        logger,
		onFallback:    onFallback,
		probeInterval: probeInterval,
	}
}

// Allow implements Limiter. Its only errors are apperr.Invalid for a bad
// perMinute and ctx.Err() when the caller's context ended while the primary
// was being asked: a request that went away says nothing about Redis, so it
// neither marks the limiter degraded nor gets a local answer.
func (f *Fallback) Allow(ctx context.Context, key string, perMinute int) (Result, error) {
	if err := checkPerMinute(perMinute); err != nil {
		return Result{}, err
	}
	if f.primary == nil {
		return f.local.Allow(ctx, key, perMinute)
	}
	if f.shouldAskPrimary() {
		res, err := f.primary.Allow(ctx, key, perMinute)
		switch {
		case err == nil:
			f.primaryAnswered()
			return res, nil
		case ctx.Err() != nil:
			f.probeAbandoned()
			return Result{}, ctx.Err()
		default:
			f.primaryFailed(err)
		}
	}
	f.onFallback()
	res, err := f.local.Allow(ctx, key, perMinute)
	res.Degraded = true
	return res, err
}

// Close closes key's budget in the shared limiter (see Redis.Close). With
// no shared limiter there is nothing to tell other instances, and nil is
// returned.
func (f *Fallback) Close(ctx context.Context, key string) error {
	c, ok := f.primary.(interface {
		Close(ctx context.Context, key string) error
	})
	if !ok {
		return nil
	}
	return c.Close(ctx, key)
}

// Degraded reports whether the primary failed on its last call, with that
// call's error, for the health page. It is false with a nil primary.
func (f *Fallback) Degraded() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded, f.lastErr
}

// Shared reports whether a primary (Redis) limiter is configured, i.e.
// whether limits are meant to hold across instances; the health page shows
// "in-process (single instance)" otherwise.
func (f *Fallback) Shared() bool { return f.primary != nil }

// shouldAskPrimary is true while healthy, and while degraded for one caller
// per probe interval.
func (f *Fallback) shouldAskPrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded {
		return true
	}
	if f.probing || f.local.now().Before(f.nextProbe) {
		return false
	}
	f.probing = true
	return true
}

func (f *Fallback) primaryAnswered() {
	f.mu.Lock()
	was, since := f.degraded, f.since
	f.degraded, f.lastErr, f.probing = false, nil, false
	f.mu.Unlock()
	if was {
		f.logger.Info("rate limiting: Redis answers again; limits are shared across instances again",
			slog.Duration("degraded_for", f.local.now().Sub(since)))
	}
}

func (f *Fallback) primaryFailed(err error) {
	now := f.local.now()
	f.mu.Lock()
	was := f.degraded
	if !was {
		f.since = now
	}
	f.degraded, f.lastErr, f.probing = true, err, false
	f.nextProbe = now.Add(f.probeInterval)
	f.mu.Unlock()
	if !was {
		f.logger.Warn("rate limiting: Redis failed; answering from the in-process limiter (limits are per instance) until it recovers",
			slog.Any("err", err))
	}
}

// probeAbandoned releases the probe slot without judging the primary.
func (f *Fallback) probeAbandoned() {
	f.mu.Lock()
	f.probing = false
	f.mu.Unlock()
}
