package orchestrator

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Crash recovery in seconds. River rescues a job whose server died only once
// the job's own timeout has passed (5 minutes by default), because River
// cannot tell a dead worker from a slow one. bizmcp can: every running task's
// worker writes agents.tasks.heartbeat_at every HeartbeatInterval, and every
// instance takes over tasks whose heartbeat is older than StaleAfter (see
// sweep.go). The lease column fences the takeover: a worker's writes name the
// lease it started with and match nothing once the task was taken over.

// Defaults of the heartbeat and takeover timing: a task whose server died is
// taken over within StaleAfter plus one sweep (about 12 s).
const (
	DefaultHeartbeatInterval = 2 * time.Second
	DefaultStaleAfter        = 10 * time.Second
	DefaultOrphanSweep       = 30 * time.Second
)

// errLeaseLost ends an attempt whose task another worker took over (its
// heartbeat had stopped for longer than StaleAfter): the attempt's steps and
// outcome are discarded, so the task still completes exactly once.
var errLeaseLost = apperr.E(apperr.Conflict, "the task was taken over by another worker after its heartbeat stopped; this attempt's result is discarded")

// lease is one running attempt this instance holds.
type lease struct {
	n      int64
	cancel context.CancelCauseFunc
}

// heartbeats holds the leases of the attempts this instance runs and
// writes their heartbeat in one statement.
type heartbeats struct {
	queries *db.Queries

	mu   sync.Mutex
	held map[uuid.UUID]lease
	// upSince is when the heartbeat statement last started succeeding
	// after a failure (zero while it fails): the takeover waits until this
	// instance has seen the database for a while, so after an outage live
	// workers elsewhere get to beat before their tasks are taken for dead.
	upSince time.Time
}

func newHeartbeats(queries *db.Queries) *heartbeats {
	return &heartbeats{queries: queries, held: map[uuid.UUID]lease{}}
}

// hold registers a running attempt; the returned func unregisters it.
// cancel is called with errLeaseLost when a heartbeat finds the lease gone.
func (h *heartbeats) hold(task uuid.UUID, n int64, cancel context.CancelCauseFunc) func() {
	h.mu.Lock()
	h.held[task] = lease{n: n, cancel: cancel}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if l, ok := h.held[task]; ok && l.n == n {
			delete(h.held, task)
		}
		h.mu.Unlock()
	}
}

// beat writes the heartbeat of every held lease (one statement, also when
// none is held, so it doubles as the database probe) and cancels the
// attempts whose lease is gone. It reports whether the database answered.
func (h *heartbeats) beat(ctx context.Context) bool {
	h.mu.Lock()
	ids := make([]uuid.UUID, 0, len(h.held))
	leases := make([]int64, 0, len(h.held))
	for id, l := range h.held {
		ids = append(ids, id)
		leases = append(leases, l.n)
	}
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	alive, err := h.queries.TaskHeartbeat(ctx, db.TaskHeartbeatParams{Ids: ids, Leases: leases})
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.upSince = time.Time{}
		return false
	}
	if h.upSince.IsZero() {
		h.upSince = time.Now()
	}
	still := make(map[uuid.UUID]bool, len(alive))
	for _, id := range alive {
		still[id] = true
	}
	for i, id := range ids {
		if still[id] {
			continue
		}
		// Gone: taken over, cancelled, or finished since the snapshot. Only
		// an attempt still registered under the same lease is told; one that
		// finished has unregistered and cancelling it would be a no-op.
		if l, ok := h.held[id]; ok && l.n == leases[i] {
			l.cancel(errLeaseLost)
		}
	}
	return true
}

// dbUpFor is how long the database has answered this instance without a
// failure (0 while it fails).
func (h *heartbeats) dbUpFor() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.upSince.IsZero() {
		return 0
	}
	return time.Since(h.upSince)
}

// count is how many attempts this instance runs.
func (h *heartbeats) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// attempt is what one attempt remembers while it runs: the recorded tool
// executions it has used (run or reused), so a repeated identical call
// within the attempt is not mistaken for a step an earlier attempt did.
type attempt struct {
	// plan is set when the task runs its domain's fixed plan (not a
	// model-driven loop): each tool is one step, so an earlier attempt's
	// run of the tool is that step whatever its arguments.
	plan bool

	mu   sync.Mutex
	uses []uuid.UUID
	// later holds timeline entries of a plan's steps that go to the
	// database with the attempt's next write (see Service.beginStep).
	later timelineEntries
}

type attemptKey struct{}

func withAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, attemptKey{}, &attempt{})
}

// withPlanAttempt is withAttempt for a task that runs its fixed plan.
func withPlanAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, attemptKey{}, &attempt{plan: true})
}

// runsPlan reports whether a task's input asks for the fixed plan rather
// than the model-driven tool loop.
func runsPlan(input []byte) bool {
	var in struct {
		UseTools bool `json:"use_tools"`
	}
	_ = json.Unmarshal(input, &in)
	return !in.UseTools
}

// attemptFrom returns the attempt of ctx; outside one (a direct call in a
// test) it returns a fresh one.
func attemptFrom(ctx context.Context) *attempt {
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		return a
	}
	return &attempt{}
}

func (a *attempt) use(id uuid.UUID) {
	a.mu.Lock()
	a.uses = append(a.uses, id)
	a.mu.Unlock()
}

func (a *attempt) used() []uuid.UUID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]uuid.UUID{}, a.uses...)
}

// keep holds a timeline entry for the attempt's next write.
func (a *attempt) keep(typ, msg string, data any) {
	a.mu.Lock()
	a.later.add(typ, msg, data)
	a.mu.Unlock()
}

// kept returns the entries held for the next write and forgets them.
func (a *attempt) kept() timelineEntries {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.later
	a.later = timelineEntries{}
	return out
}

func (a *attempt) hasKept() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.later.types) > 0
}
