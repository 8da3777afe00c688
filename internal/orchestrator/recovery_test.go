package orchestrator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/metrics"
	. "github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/testkit"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// These tests drive the worker's steps by hand on a real database, with the
// River client not started, so each interleaving of a slow worker and a
// takeover happens in a known order.

type noEvents struct{}

func (noEvents) Publish(events.Event) {}

type noLLM struct{}

func (noLLM) Configured() bool { return false }
func (noLLM) Complete(context.Context, tools.CompletionRequest) (tools.Completion, error) {
	return tools.Completion{}, apperr.E(apperr.Unavailable, "no LLM in this test")
}

type bundle struct {
	s    *Service
	pool *pgxpool.Pool
	q    *db.Queries
	exec *tools.Executor
}

func setup(t *testing.T) bundle {
	t.Helper()
	return setupWith(t, noEvents{}, Config{StaleAfter: 10 * time.Second})
}

// setupWith is setup with a publisher and configuration of the test's own.
func setupWith(t *testing.T, publisher Publisher, cfg Config) bundle {
	t.Helper()
	ctx := context.Background()
	pool := testkit.Pool(t)
	q := db.New(pool)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	builtins, err := tools.Builtins(noLLM{})
	require.NoError(t, err)
	registry, err := tools.NewRegistry(q, builtins...)
	require.NoError(t, err)
	require.NoError(t, registry.Sync(ctx))
	exec := tools.NewExecutor(registry, q, noEvents{}, metrics.New(), logger)
	require.NoError(t, agents.NewService(q, func(string) bool { return true }, noEvents{}).SeedDefaults(ctx))
	s, err := New(pool, q, exec, publisher, logger, cfg)
	require.NoError(t, err)
	return bundle{s: s, pool: pool, q: q, exec: exec}
}

const financeInput = `{"data":[{"period":"Q1","revenue":100,"costs":60},{"period":"Q2","revenue":120,"costs":70}]}`

// start creates a finance task and starts an attempt of it as a worker
// would, returning the attempt's view of the task, its agent and its job.
func (b bundle) start(t *testing.T) (db.Task, db.Agent, *river.Job[TaskArgs]) {
	t.Helper()
	return b.startIn(t, "finance", financeInput)
}

// startIn is start for a task of another domain (each domain has one agent).
func (b bundle) startIn(t *testing.T, domain, input string) (db.Task, db.Agent, *river.Job[TaskArgs]) {
	t.Helper()
	ctx := context.Background()
	created, err := b.s.Create(ctx, CreateParams{Title: "Margins", Domain: domain, InputData: json.RawMessage(input)})
	require.NoError(t, err)
	row, err := b.q.TaskGet(ctx, created.Task.ID)
	require.NoError(t, err)
	agent, started, err := b.s.ClaimAndStart(ctx, row)
	require.NoError(t, err)
	require.Equal(t, "processing", started.Status)
	job := &river.Job[TaskArgs]{
		JobRow: &rivertype.JobRow{ID: *started.JobID, Attempt: 1, MaxAttempts: int(started.MaxAttempts)},
		Args:   TaskArgs{TaskID: started.ID, TimeoutSeconds: int(started.TimeoutSeconds)},
	}
	return started, agent, job
}

// stall makes the task's heartbeat look as old as a dead worker's.
func (b bundle) stall(t *testing.T, id uuid.UUID) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), "UPDATE agents.tasks SET heartbeat_at = now() - interval '1 hour' WHERE id = $1", id)
	require.NoError(t, err)
}

func (b bundle) executions(t *testing.T, id uuid.UUID) (ok, failed int) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(context.Background(),
		"SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL) FROM mcp.tool_executions WHERE task_id = $1", id).Scan(&ok, &failed))
	return ok, failed
}

// A worker whose task was taken over (its heartbeat had stopped) can neither
// record a step nor finish the task; the worker that took it over finishes
// it, and the task completes exactly once.
func TestFenceRefusesStaleWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	stale, staleAgent, staleJob := b.start(t)

	// The stale worker ran the whole plan; then it stalls before finishing.
	output, err := b.s.RunPlan(ctx, stale, staleAgent)
	require.NoError(t, err)
	b.stall(t, stale.ID)
	n, err := b.s.TakeOverStale(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	taken, err := b.q.TaskGet(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", taken.Status)
	require.Equal(t, stale.Lease+1, taken.Lease)
	require.NotEqual(t, *stale.JobID, *taken.JobID, "a new job runs the task")
	var oldJobCancelled bool
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT state = 'cancelled' OR metadata ? 'cancel_attempted_at' FROM river_job WHERE id = $1", *stale.JobID).Scan(&oldJobCancelled))
	require.True(t, oldJobCancelled, "the old job is cancelled")
	var newJobState string
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT state FROM river_job WHERE id = $1", *taken.JobID).Scan(&newJobState))
	require.Equal(t, "available", newJobState)
	var busy int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM agents.agents WHERE current_task_id = $1", stale.ID).Scan(&busy))
	require.Zero(t, busy, "the stale worker's agent is freed")

	// The stale worker's finish is refused and changes nothing.
	_, err = b.s.Finish(ctx, staleJob, stale, staleAgent, output, nil)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel)
	after, err := b.q.TaskGet(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", after.Status, "the stale finish did not complete the task")
	require.Nil(t, after.OutputData)

	// So are its steps: refused before running, and refused at recording.
	_, err = b.s.CallTool(ctx, stale, staleAgent, "report_generator", map[string]any{"title": "x", "summary": "y"})
	require.ErrorIs(t, err, ErrLeaseLost)
	_, err = b.exec.Execute(ctx, tools.Request{Tool: "report_generator", Arguments: json.RawMessage(`{"title":"x","summary":"y"}`),
		Source: tools.SourceAgent, AgentID: &staleAgent.ID, TaskID: &stale.ID, TaskLease: stale.Lease})
	require.True(t, apperr.Is(err, apperr.Conflict), "the fenced record is refused: %v", err)
	okRuns, _ := b.executions(t, stale.ID)
	require.Equal(t, 2, okRuns, "only the stale worker's two steps from before the takeover")

	// The new worker resumes, on another agent of the domain (the first is
	// paused): both steps are reused, nothing runs twice.
	_, err = b.pool.Exec(ctx, "UPDATE agents.agents SET status = 'paused' WHERE id = $1", staleAgent.ID)
	require.NoError(t, err)
	_, err = agents.NewService(b.q, func(string) bool { return true }, noEvents{}).Create(ctx, agents.CreateParams{Name: "Finance two", Type: "finance"})
	require.NoError(t, err)
	agent, started, err := b.s.ClaimAndStart(ctx, after)
	require.NoError(t, err)
	require.NotEqual(t, staleAgent.ID, agent.ID)
	require.Equal(t, stale.Lease+2, started.Lease)
	newJob := &river.Job[TaskArgs]{JobRow: &rivertype.JobRow{ID: *started.JobID, Attempt: 1, MaxAttempts: int(started.MaxAttempts - stale.Attempts)}, Args: staleJob.Args}
	out, err := b.s.RunPlan(ctx, started, agent)
	require.NoError(t, err)
	_, err = b.s.Finish(ctx, newJob, started, agent, out, nil)
	require.NoError(t, err)
	done, err := b.q.TaskGet(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, "completed", done.Status)
	okRuns, _ = b.executions(t, stale.ID)
	require.Equal(t, 2, okRuns, "each step recorded once")
	var completedEvents int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM agents.task_events WHERE task_id = $1 AND type = 'completed'", stale.ID).Scan(&completedEvents))
	require.Equal(t, 1, completedEvents)

	// A late finish of the stale attempt still changes nothing.
	_, err = b.s.Finish(ctx, staleJob, stale, staleAgent, output, nil)
	require.Error(t, err)
	final, err := b.q.TaskGet(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, done.CompletedAt, final.CompletedAt)
	require.Equal(t, started.Lease, final.Lease)
}

// A task whose worker died after its first step resumes on the next worker
// from the second step: the first is reused, not run again.
func TestTakeoverResumesAfterTheLastRecordedStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	dead, deadAgent, _ := b.start(t)
	_, err := b.s.CallTool(ctx, dead, deadAgent, "financial_analyzer", map[string]any{"data": json.RawMessage(`[{"period":"Q1","revenue":100,"costs":60},{"period":"Q2","revenue":120,"costs":70}]`)})
	require.NoError(t, err)
	b.stall(t, dead.ID)
	n, err := b.s.TakeOverStale(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	row, err := b.q.TaskGet(ctx, dead.ID)
	require.NoError(t, err)
	agent, started, err := b.s.ClaimAndStart(ctx, row)
	require.NoError(t, err)
	out, err := b.s.RunPlan(ctx, started, agent)
	require.NoError(t, err)
	job := &river.Job[TaskArgs]{JobRow: &rivertype.JobRow{ID: *started.JobID, Attempt: 1, MaxAttempts: 2}, Args: TaskArgs{TaskID: dead.ID}}
	_, err = b.s.Finish(ctx, job, started, agent, out, nil)
	require.NoError(t, err)

	okRuns, _ := b.executions(t, dead.ID)
	require.Equal(t, 2, okRuns, "financial_analyzer once (reused), report_generator once")
	var reused int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM agents.task_events WHERE task_id = $1 AND type = 'tool_call' AND data->>'reused' = 'true'", dead.ID).Scan(&reused))
	require.Equal(t, 1, reused)
	var newState string
	var priority int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT state, priority FROM river_job WHERE id = $1", *started.JobID).Scan(&newState, &priority))
	require.Equal(t, "available", newState, "the new job is available at once, not left to the leader's scheduler")
	require.Equal(t, 2, priority, "a taken-over medium task goes one priority up, ahead of the backlog")
	var attempts int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT attempts FROM agents.tasks WHERE id = $1", dead.ID).Scan(&attempts))
	require.Equal(t, 2, attempts, "the crashed attempt counts, as River's own rescue counts it")
}

// A running task whose heartbeat is fresh is not taken over; one whose
// heartbeat stopped on its last attempt is failed with a message, not run
// again.
func TestTakeoverLeavesLiveTasksAndFailsLastAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	live, _, _ := b.start(t)
	n, err := b.s.TakeOverStale(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	last, _, _ := b.startIn(t, "sales", `{"series":[1,2,3,4,5],"horizon":2}`)
	_, err = b.pool.Exec(ctx, "UPDATE agents.tasks SET max_attempts = attempts WHERE id = $1", last.ID)
	require.NoError(t, err)
	b.stall(t, last.ID)
	n, err = b.s.TakeOverStale(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	failed, err := b.q.TaskGet(ctx, last.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", failed.Status)
	require.Contains(t, *failed.ErrorMessage, "last attempt")
	still, err := b.q.TaskGet(ctx, live.ID)
	require.NoError(t, err)
	require.Equal(t, "processing", still.Status)
	require.Equal(t, live.Lease, still.Lease)
}

// The heartbeat of an attempt whose task was taken over cancels the
// attempt's context with ErrLeaseLost.
func TestHeartbeatCancelsAnAttemptThatLostItsLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	task, _, _ := b.start(t)
	hb := NewHeartbeats(b.q)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer hb.Hold(task.ID, task.Lease, cancel)()

	require.True(t, hb.Beat(ctx))
	require.NoError(t, runCtx.Err(), "a held lease keeps running")
	var beat time.Time
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT heartbeat_at FROM agents.tasks WHERE id = $1", task.ID).Scan(&beat))

	b.stall(t, task.ID)
	_, err := b.s.TakeOverStale(ctx)
	require.NoError(t, err)
	require.True(t, hb.Beat(ctx))
	require.ErrorIs(t, context.Cause(runCtx), ErrLeaseLost)
}

// A task left processing after its job ended (the attempt could not write
// its outcome) runs again when it has attempts left; a task left pending by
// a job that ended is failed with a message.
func TestSweepRepairsTasksWhoseJobEnded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	running, _, _ := b.start(t)
	// Its attempt ended without a trace: no heartbeat any more, job over.
	_, err := b.pool.Exec(ctx, "UPDATE agents.tasks SET heartbeat_at = NULL WHERE id = $1", running.ID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, "UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE id = $1", *running.JobID)
	require.NoError(t, err)

	created, err := b.s.Create(ctx, CreateParams{Title: "Stranded", Domain: "finance", InputData: json.RawMessage(financeInput)})
	require.NoError(t, err)
	pending, err := b.q.TaskGet(ctx, created.Task.ID)
	require.NoError(t, err)
	_, err = b.s.River().JobCancel(ctx, *pending.JobID)
	require.NoError(t, err)

	n, err := b.s.SweepOrphans(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	again, err := b.q.TaskGet(ctx, running.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", again.Status)
	require.Greater(t, again.Lease, running.Lease)
	require.NotEqual(t, *running.JobID, *again.JobID)
	var state string
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT state FROM river_job WHERE id = $1", *again.JobID).Scan(&state))
	require.Equal(t, "available", state)
	var busy int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM agents.agents WHERE current_task_id = $1", running.ID).Scan(&busy))
	require.Zero(t, busy)

	failed, err := b.q.TaskGet(ctx, pending.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", failed.Status)
	require.Contains(t, *failed.ErrorMessage, "retry it")

	n, err = b.s.SweepOrphans(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a second sweep finds nothing left to repair")
}

// A database outage at the start of an attempt is a snooze, which spends no
// attempt.
func TestOutageAtStartSpendsNoAttempt(t *testing.T) {
	t.Parallel()
	err := RetryLater(apperr.E(apperr.Unavailable, "down"))
	var snooze *river.JobSnoozeError
	require.True(t, errors.As(err, &snooze))
	require.Error(t, RetryLater(errors.New("other")))
	require.False(t, errors.As(RetryLater(errors.New("other")), &snooze))
}

// A task whose job a server picked up but never started (the server died
// between fetching the job and starting the task, so there was no heartbeat
// yet) is taken over too; the dead server's job can no longer start it.
func TestTakeoverOfTasksPickedUpButNeverStarted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	created, err := b.s.Create(ctx, CreateParams{Title: "Fetched", Domain: "finance", InputData: json.RawMessage(financeInput)})
	require.NoError(t, err)
	row, err := b.q.TaskGet(ctx, created.Task.ID)
	require.NoError(t, err)
	n, err := b.s.TakeOverUnstarted(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a job waiting in the queue is left alone")

	_, err = b.pool.Exec(ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour', attempted_by = '{dead}' WHERE id = $1", *row.JobID)
	require.NoError(t, err)
	n, err = b.s.TakeOverUnstarted(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	taken, err := b.q.TaskGet(ctx, row.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", taken.Status)
	require.Equal(t, row.Lease+1, taken.Lease)
	require.NotEqual(t, *row.JobID, *taken.JobID)

	// The old job, were its worker alive after all, cannot start the task.
	stale := row
	_, _, err = b.s.ClaimAndStart(ctx, stale)
	require.True(t, apperr.Is(err, apperr.NotFound), "the superseded job cannot start the task: %v", err)
	_, started, err := b.s.ClaimAndStart(ctx, taken)
	require.NoError(t, err)
	require.Equal(t, "processing", started.Status)
}
