// Package health checks the components bizmcp depends on, for the health
// endpoint and the dashboard.
package health

import (
	"context"
	"time"
)

// Status of a component or of the whole server.
type Status string

// The statuses. The server is "ok" when every component is up, "degraded"
// when it serves but something optional is down (Redis), and "unavailable"
// when it cannot serve (the database).
const (
	StatusUp          Status = "up"
	StatusDown        Status = "down"
	StatusDisabled    Status = "disabled"
	StatusOK          Status = "ok"
	StatusDegraded    Status = "degraded"
	StatusUnavailable Status = "unavailable"
)

// Pinger is a dependency that answers a ping.
type Pinger interface {
	Ping(ctx context.Context) error
}

// PingerFunc adapts a function to Pinger.
type PingerFunc func(ctx context.Context) error

// Ping calls f.
func (f PingerFunc) Ping(ctx context.Context) error { return f(ctx) }

// RateLimiter reports whether rate limiting fell back to the in-process
// limiter.
type RateLimiter interface {
	Degraded() (bool, error)
}

// Component is the state of one dependency.
type Component struct {
	Status    Status  `json:"status"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	Detail    string  `json:"detail,omitempty"`
}

// Report is the whole health answer.
type Report struct {
	Status     Status               `json:"status"`
	Version    string               `json:"version"`
	Mode       string               `json:"mode"`
	Uptime     string               `json:"uptime"`
	Components map[string]Component `json:"components"`
}

// Checker runs the checks.
type Checker struct {
	database Pinger
	redis    Pinger // nil: no REDIS_URL, single instance
	limiter  RateLimiter
	optional []Named
	version  string
	started  time.Time
}

// Named is a further component: when it is down the server is degraded,
// not unavailable, because requests are still served (the task queue, an
// LLM provider).
type Named struct {
	Name   string
	Pinger Pinger
	// Down says what a failure means for users; the error follows it.
	Down string
}

// NewChecker returns a checker; redis is nil when the server runs without
// Redis.
func NewChecker(database, redis Pinger, limiter RateLimiter, version string, more ...Named) *Checker {
	return &Checker{database: database, redis: redis, limiter: limiter, optional: more, version: version, started: time.Now()}
}

// Check pings each component, each bounded by a short timeout so the health
// endpoint answers quickly even when a dependency hangs.
func (c *Checker) Check(ctx context.Context) Report {
	r := Report{Status: StatusOK, Version: c.version, Uptime: time.Since(c.started).Round(time.Second).String(), Components: map[string]Component{}}
	db := ping(ctx, c.database)
	if db.Status != StatusUp {
		db.Detail = "PostgreSQL does not answer: " + db.Detail
		r.Status = StatusUnavailable
	}
	r.Components["database"] = db

	if c.redis == nil {
		r.Mode = "single-instance"
		r.Components["redis"] = Component{Status: StatusDisabled, Detail: "REDIS_URL is not set: single instance, rate limits and events are in-process only"}
	} else {
		r.Mode = "multi-instance"
		red := ping(ctx, c.redis)
		if red.Status != StatusUp {
			red.Detail = "Redis does not answer; rate limiting falls back to this instance only: " + red.Detail
			if r.Status == StatusOK {
				r.Status = StatusDegraded
			}
		}
		r.Components["redis"] = red
	}
	rl := Component{Status: StatusUp, Detail: "shared through Redis"}
	if c.redis == nil {
		rl.Detail = "in-process"
	} else if degraded, err := c.limiter.Degraded(); degraded {
		rl.Status = StatusDown
		rl.Detail = "falling back to the in-process limiter"
		if err != nil {
			rl.Detail += ": " + err.Error()
		}
		if r.Status == StatusOK {
			r.Status = StatusDegraded
		}
	}
	r.Components["rate_limiter"] = rl
	for _, n := range c.optional {
		comp := ping(ctx, n.Pinger)
		if comp.Status != StatusUp {
			comp.Detail = n.Down + ": " + comp.Detail
			if r.Status == StatusOK {
				r.Status = StatusDegraded
			}
		}
		r.Components[n.Name] = comp
	}
	return r
}

func ping(ctx context.Context, p Pinger) Component {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	err := p.Ping(ctx)
	lat := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return Component{Status: StatusDown, LatencyMS: lat, Detail: err.Error()}
	}
	return Component{Status: StatusUp, LatencyMS: lat}
}
