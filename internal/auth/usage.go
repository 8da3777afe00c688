package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
)

// UsageRecorder batches last_used_at updates: a busy key would otherwise cost
// a write on every request. Uses are kept in memory (the latest time per key)
// and written in one statement per interval, and once more on Stop.
type UsageRecorder struct {
	queries  *db.Queries
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]time.Time

	stop chan struct{}
	done chan struct{}
}

// NewUsageRecorder returns a recorder that flushes every interval once started.
func NewUsageRecorder(queries *db.Queries, interval time.Duration, logger *slog.Logger) *UsageRecorder {
	return &UsageRecorder{queries: queries, interval: interval, logger: logger, pending: map[uuid.UUID]time.Time{}}
}

// Record notes that key id was used at t.
func (u *UsageRecorder) Record(id uuid.UUID, t time.Time) {
	u.mu.Lock()
	if prev, ok := u.pending[id]; !ok || t.After(prev) {
		u.pending[id] = t
	}
	u.mu.Unlock()
}

// Start begins the periodic flush; Stop ends it.
func (u *UsageRecorder) Start(ctx context.Context) {
	u.stop, u.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(u.done)
		t := time.NewTicker(u.interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := u.Flush(ctx); err != nil {
					u.logger.Warn("could not record API key usage; will retry", "err", err)
				}
			case <-u.stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
}

// Stop ends the periodic flush and writes what is pending.
func (u *UsageRecorder) Stop(ctx context.Context) error {
	if u.stop != nil {
		close(u.stop)
		<-u.done
		u.stop = nil
	}
	return u.Flush(ctx)
}

// Flush writes the pending uses. On failure they are kept for the next try.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = map[uuid.UUID]time.Time{}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	params := db.APIKeyTouchParams{Ids: make([]uuid.UUID, 0, len(batch)), UsedAt: make([]time.Time, 0, len(batch))}
	for id, t := range batch {
		params.Ids = append(params.Ids, id)
		params.UsedAt = append(params.UsedAt, t)
	}
	if err := u.queries.APIKeyTouch(ctx, params); err != nil {
		for id, t := range batch {
			u.Record(id, t)
		}
		return db.MapError(err, "API key usage")
	}
	return nil
}
