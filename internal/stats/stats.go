// Package stats keeps the aggregates the dashboard's overview shows (counts
// of tasks and agents by status, tool runs and errors in the last hour,
// throughput per minute, tool latency percentiles, LLM usage per day) in a
// cache refreshed by a ticker and nudged by events. A page view reads the
// cache and never counts millions of rows itself.
package stats

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/events"
)

// Overview is one refresh of the aggregates.
type Overview struct {
	At             time.Time
	TasksByStatus  map[string]int64
	AgentsByStatus map[string]int64
	// ToolRunsHour and ToolErrorsHour cover the last hour.
	ToolRunsHour, ToolErrorsHour int64
	// Throughput holds the last hour minute by minute, oldest first.
	Throughput []MinuteCount
	// Latency is per tool over the last 24 hours.
	Latency []ToolLatency
	// LLMUsage is per day over the last 30 days, oldest first.
	LLMUsage []DayUsage
}

// MinuteCount is the tasks that finished in one minute.
type MinuteCount struct {
	Minute            time.Time
	Completed, Failed int64
}

// ToolLatency is one tool's run time percentiles, in milliseconds.
type ToolLatency struct {
	Tool     string
	P50, P95 float64
	Runs     int64
}

// DayUsage is one day's LLM tokens and cost.
type DayUsage struct {
	Day    time.Time
	Tokens int64
	Cost   float64
}

// Subscriber is where the nudges come from.
type Subscriber interface {
	Subscribe(buffer int, filter func(events.Event) bool) *events.Subscription
}

// Refresh intervals: counts are cheap enough every few seconds; the
// 24-hour and 30-day windows change slowly.
const (
	refreshEvery     = 10 * time.Second
	slowRefreshEvery = time.Minute
	nudgeDebounce    = time.Second
)

// Service refreshes the cache.
type Service struct {
	queries *db.Queries
	events  Subscriber
	logger  *slog.Logger

	current atomic.Pointer[Overview]
	// slowAt is when the slow windows were last read, and slowRuns the
	// hour's tool runs then.
	slowAt   time.Time
	slowRuns int64
	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	refresh  sync.Mutex
}

// New returns the service; Start begins refreshing.
func New(queries *db.Queries, subscriber Subscriber, logger *slog.Logger) *Service {
	return &Service{queries: queries, events: subscriber, logger: logger}
}

// Overview returns the latest aggregates, refreshing first if there are
// none yet (the first page view after start).
func (s *Service) Overview(ctx context.Context) (*Overview, error) {
	if o := s.current.Load(); o != nil {
		return o, nil
	}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s.current.Load(), nil
}

// Start refreshes on a ticker and after task and tool events, until Stop.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	var sub *events.Subscription
	if s.events != nil {
		sub = s.events.Subscribe(64, func(e events.Event) bool {
			switch e.Type {
			case events.TaskCompleted, events.TaskFailed, events.TaskCreated, events.AgentStatus, events.ToolExecuted:
				return true
			}
			return false
		})
	}
	go func() {
		defer close(s.done)
		if sub != nil {
			defer sub.Close()
		}
		s.run(ctx, sub)
	}()
}

// Stop ends the refreshing.
func (s *Service) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *Service) run(ctx context.Context, sub *events.Subscription) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	var events <-chan events.Event
	if sub != nil {
		events = sub.C
	}
	var lastNudge time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case _, ok := <-events:
			if !ok {
				events = nil // dropped for being slow: the ticker is enough
				continue
			}
			// A burst of events is one refresh a second, not one each.
			if time.Since(lastNudge) < nudgeDebounce {
				continue
			}
			lastNudge = time.Now()
		}
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("could not refresh the overview's aggregates", "err", err)
		}
	}
}

// Refresh reads the aggregates now.
func (s *Service) Refresh(ctx context.Context) error {
	s.refresh.Lock()
	defer s.refresh.Unlock()
	now := time.Now()
	o := &Overview{At: now, TasksByStatus: map[string]int64{}, AgentsByStatus: map[string]int64{}}
	// Every instance folds the appended count deltas and run times on its
	// refresh (one at a time; the others skip), which keeps the task
	// creation's run-time estimate a few seconds fresh at most.
	if err := s.queries.TaskAggregatesFold(ctx); err != nil {
		return db.MapError(err, "task aggregates")
	}
	tasks, err := s.queries.StatsTasksByStatus(ctx)
	if err != nil {
		return db.MapError(err, "task counts")
	}
	for _, r := range tasks {
		o.TasksByStatus[r.Status] = r.N
	}
	agents, err := s.queries.StatsAgentsByStatus(ctx)
	if err != nil {
		return db.MapError(err, "agent counts")
	}
	for _, r := range agents {
		o.AgentsByStatus[r.Status] = r.N
	}
	runs, err := s.queries.StatsToolRuns(ctx, now.Add(-time.Hour))
	if err != nil {
		return db.MapError(err, "tool runs")
	}
	o.ToolRunsHour, o.ToolErrorsHour = runs.Runs, runs.Errors
	start := now.Truncate(time.Minute).Add(-59 * time.Minute)
	through, err := s.queries.StatsTaskThroughput(ctx, start)
	if err != nil {
		return db.MapError(err, "task throughput")
	}
	o.Throughput = make([]MinuteCount, 60)
	for i := range o.Throughput {
		o.Throughput[i].Minute = start.Add(time.Duration(i) * time.Minute)
	}
	for _, r := range through {
		i := int(r.Minute.Sub(start) / time.Minute)
		if i < 0 || i >= len(o.Throughput) {
			continue
		}
		if r.Status == "completed" {
			o.Throughput[i].Completed += r.N
		} else {
			o.Throughput[i].Failed += r.N
		}
	}
	prev := s.current.Load()
	// The 24-hour and 30-day windows are read once a minute, or sooner
	// (but not more than every refreshEvery) when tools ran since.
	due := prev == nil || now.Sub(s.slowAt) >= slowRefreshEvery ||
		(o.ToolRunsHour != s.slowRuns && now.Sub(s.slowAt) >= refreshEvery)
	if due {
		lat, err := s.queries.StatsToolLatency(ctx, now.Add(-24*time.Hour))
		if err != nil {
			return db.MapError(err, "tool latency")
		}
		for _, r := range lat {
			o.Latency = append(o.Latency, ToolLatency{Tool: r.ToolName, P50: r.P50, P95: r.P95, Runs: r.Runs})
		}
		usage, err := s.queries.StatsLLMUsageByDay(ctx, now.AddDate(0, 0, -29).Truncate(24*time.Hour))
		if err != nil {
			return db.MapError(err, "LLM usage")
		}
		for _, r := range usage {
			o.LLMUsage = append(o.LLMUsage, DayUsage{Day: r.Day, Tokens: r.Tokens, Cost: r.Cost})
		}
		sort.Slice(o.LLMUsage, func(i, j int) bool { return o.LLMUsage[i].Day.Before(o.LLMUsage[j].Day) })
		s.slowAt, s.slowRuns = now, o.ToolRunsHour
	} else {
		o.Latency, o.LLMUsage = prev.Latency, prev.LLMUsage
	}
	s.current.Store(o)
	return nil
}
