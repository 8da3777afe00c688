package orchestrator_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	. "github.com/bizmcp/bizmcp/internal/orchestrator"
)

// An analytics task with two delegated parts: margins from finance and a
// forecast from sales (each domain has one seeded agent).
const parentInput = `{"rows":[{"month":1,"sales":10},{"month":2,"sales":12},{"month":3,"sales":15}],
	"delegate":[
		{"domain":"finance","title":"Margins","input_data":{"data":[{"period":"Q1","revenue":100,"costs":75},{"period":"Q2","revenue":120,"costs":84}]}},
		{"domain":"sales","title":"Forecast","input_data":{"series":[10,12,14,16],"horizon":2}}]}`

// jobOf is the River job a task's job_id names, as River would hand it to a
// worker.
func (b bundle) jobOf(t *testing.T, row db.Task) *river.Job[TaskArgs] {
	t.Helper()
	require.NotNil(t, row.JobID)
	var maxAttempts int
	require.NoError(t, b.pool.QueryRow(context.Background(), "SELECT max_attempts FROM river_job WHERE id = $1", *row.JobID).Scan(&maxAttempts))
	return &river.Job[TaskArgs]{
		JobRow: &rivertype.JobRow{ID: *row.JobID, Attempt: 1, MaxAttempts: maxAttempts},
		Args:   TaskArgs{TaskID: row.ID, TimeoutSeconds: int(row.TimeoutSeconds)},
	}
}

func (b bundle) task(t *testing.T, id uuid.UUID) db.Task {
	t.Helper()
	row, err := b.q.TaskGet(context.Background(), id)
	require.NoError(t, err)
	return row
}

// parts are a task's delegated parts, oldest (first asked) first.
func (b bundle) parts(t *testing.T, parent uuid.UUID) []db.Task {
	t.Helper()
	rows, err := b.q.TaskList(context.Background(), db.TaskListParams{ParentTaskID: &parent, MaxRows: 20})
	require.NoError(t, err)
	slices.Reverse(rows)
	return rows
}

// suspended starts the analytics parent by hand and runs its attempt up to
// the point where it has asked for its parts and waits for them.
func (b bundle) suspended(t *testing.T) (db.Task, db.Agent) {
	t.Helper()
	ctx := context.Background()
	created, err := b.s.Create(ctx, CreateParams{Title: "Outlook", Domain: "analytics", InputData: json.RawMessage(parentInput), TimeoutSeconds: 300})
	require.NoError(t, err)
	row := b.task(t, created.Task.ID)
	agent, started, err := b.s.ClaimAndStart(ctx, row)
	require.NoError(t, err)
	require.Equal(t, int32(1), b.agentRow(t, agent.ID).Running)

	next, err := b.s.RunTask(ctx, b.jobOf(t, started), started, agent)
	require.NoError(t, err, "the job ends without failing")
	require.Nil(t, next)

	parent := b.task(t, started.ID)
	require.Equal(t, "processing", parent.Status, "a waiting task is still in progress")
	require.NotNil(t, parent.PartsDeadline, "it waits for its parts")
	require.WithinDuration(t, *started.StartedAt, *parent.PartsDeadline, 301*time.Second, "its attempt's deadline still applies")
	require.Equal(t, int32(0), parent.Attempts, "waiting spends no attempt")
	require.Equal(t, int16(10), parent.Progress, "0 of 2 parts done")
	require.Nil(t, parent.HeartbeatAt, "no worker holds it")
	require.NotEqual(t, *started.JobID, *parent.JobID, "its job ended; the job at its deadline stands in")
	require.Equal(t, "scheduled", b.jobState(t, *parent.JobID))
	a := b.agentRow(t, agent.ID)
	require.Equal(t, int32(0), a.Running, "its agent is free while the parts run")
	require.Equal(t, "idle", a.Status)
	require.Len(t, b.parts(t, parent.ID), 2)
	return parent, agent
}

// runPart runs a delegated part by hand to the outcome runErr gives it (nil:
// its plan's own result).
func (b bundle) runPart(t *testing.T, part db.Task, runErr error) {
	t.Helper()
	ctx := context.Background()
	agent, started, err := b.s.ClaimAndStart(ctx, part)
	require.NoError(t, err)
	var out json.RawMessage
	if runErr == nil {
		out, err = b.s.RunPlan(ctx, started, agent)
		require.NoError(t, err)
	}
	_, _ = b.s.Finish(ctx, b.jobOf(t, started), started, agent, out, runErr)
}

// A parent waiting for its parts holds neither a worker nor its agent; each
// part that ends moves its progress, the last one (here a failure) puts it
// back in line with a job available at once, and its next run reports every
// part, the failed one too.
func TestParentWaitsForItsPartsWithoutAWorkerOrAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent, agent := b.suspended(t)
	deadlineJob := *parent.JobID
	parts := b.parts(t, parent.ID)

	b.runPart(t, parts[0], nil)
	// The plan's timeline, in order: each tool_call entry was written with
	// the write that followed it.
	evs, err := b.s.Timeline(ctx, parts[0].ID)
	require.NoError(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	require.Equal(t, []string{"created", "assigned", "progress", "step", "tool_call", "progress", "step", "tool_call", "progress", "completed"}, types)
	waiting := b.task(t, parent.ID)
	require.Equal(t, "processing", waiting.Status)
	require.NotNil(t, waiting.PartsDeadline)
	require.Equal(t, int16(40), waiting.Progress, "1 of 2 parts done")
	require.Equal(t, deadlineJob, *waiting.JobID)

	b.runPart(t, parts[1], apperr.E(apperr.Invalid, "no forecast today"))
	require.Equal(t, "failed", b.task(t, parts[1].ID).Status)
	woken := b.task(t, parent.ID)
	require.Equal(t, "pending", woken.Status, "back in line to write the report")
	require.Nil(t, woken.PartsDeadline)
	require.Equal(t, int16(70), woken.Progress)
	require.NotEqual(t, deadlineJob, *woken.JobID)
	require.Equal(t, "cancelled", b.jobState(t, deadlineJob))
	require.Equal(t, "available", b.jobState(t, *woken.JobID), "its job can run at once")

	require.NoError(t, b.s.Work(ctx, b.jobOf(t, woken)))
	done := b.task(t, parent.ID)
	require.Equal(t, "completed", done.Status, "error: %v", done.ErrorMessage)
	require.Equal(t, int32(1), done.Attempts)
	var out struct {
		Children []struct {
			Domain, Status, Error string
		} `json:"children"`
		Report string `json:"report"`
	}
	require.NoError(t, json.Unmarshal(done.OutputData, &out))
	require.Len(t, out.Children, 2)
	require.Equal(t, "completed", out.Children[0].Status)
	require.Equal(t, "failed", out.Children[1].Status)
	require.Contains(t, out.Children[1].Error, "no forecast today")
	require.Contains(t, out.Report, "Not available: no forecast today")
	var responses, delivered int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*), count(delivered_at) FROM agents.messages
		WHERE type = 'response' AND recipient_id = $1 AND task_id = $2`, agent.ID, parent.ID).Scan(&responses, &delivered))
	require.Equal(t, 2, responses, "each part answered the agent that asked, the failed one too")
	require.Equal(t, 2, delivered)
	a := b.agentRow(t, agent.ID)
	require.Equal(t, int32(0), a.Running)
	require.Equal(t, int32(1), a.TasksCompleted)
}

// Cancelling a waiting parent cancels its open parts and their jobs; a
// retry runs it and its cancelled parts again, and it waits for them anew.
func TestCancelAndRetryOfAWaitingParent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent, _ := b.suspended(t)
	deadlineJob := *parent.JobID
	parts := b.parts(t, parent.ID)
	b.runPart(t, parts[0], nil)

	cancelled, err := b.s.Cancel(ctx, parent.ID)
	require.NoError(t, err)
	require.Equal(t, "cancelled", cancelled.Status)
	require.Equal(t, "cancelled", b.jobState(t, deadlineJob))
	require.Equal(t, "completed", b.task(t, parts[0].ID).Status, "an ended part stays as it is")
	open := b.task(t, parts[1].ID)
	require.Equal(t, "cancelled", open.Status, "the open part is no longer wanted")
	require.Equal(t, "cancelled", b.jobState(t, *open.JobID))

	_, err = b.s.Retry(ctx, parent.ID)
	require.NoError(t, err)
	require.Equal(t, "completed", b.task(t, parts[0].ID).Status)
	again := b.task(t, parts[1].ID)
	require.Equal(t, "assigned", again.Status, "the cancelled part runs again, for the agent it was sent to")
	require.Equal(t, "available", b.jobState(t, *again.JobID))

	retried := b.task(t, parent.ID)
	require.NoError(t, b.s.Work(ctx, b.jobOf(t, retried)))
	waiting := b.task(t, parent.ID)
	require.Equal(t, "processing", waiting.Status)
	require.NotNil(t, waiting.PartsDeadline, "it waits for the part it retried")
	require.Equal(t, int16(40), waiting.Progress)

	b.runPart(t, again, nil)
	require.NoError(t, b.s.Work(ctx, b.jobOf(t, b.task(t, parent.ID))))
	done := b.task(t, parent.ID)
	require.Equal(t, "completed", done.Status, "error: %v", done.ErrorMessage)
	require.NotContains(t, string(done.OutputData), "Not available")
}

// A parent whose deadline passes while it waits times out: the job at its
// deadline cancels the open parts and fails it.
func TestWaitingParentTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent, _ := b.suspended(t)
	parts := b.parts(t, parent.ID)
	b.runPart(t, parts[0], nil)

	// Before the deadline the job only waits for it.
	err := b.s.Work(ctx, b.jobOf(t, parent))
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Greater(t, snooze.Duration, 4*time.Minute)
	require.Equal(t, "processing", b.task(t, parent.ID).Status)

	// The deadline passes.
	waiting := b.task(t, parent.ID)
	require.NotNil(t, waiting.AgentID)
	asker, err := b.q.AgentGet(ctx, *waiting.AgentID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, "UPDATE agents.tasks SET parts_deadline = now() - interval '1 second' WHERE id = $1", parent.ID)
	require.NoError(t, err)
	require.NoError(t, b.s.Work(ctx, b.jobOf(t, parent)))
	failed := b.task(t, parent.ID)
	require.Equal(t, "failed", failed.Status)
	// It is a failure of the agent that started it, which it no longer
	// holds: counted once, and the agent's running tasks untouched.
	after, err := b.q.AgentGet(ctx, asker.ID)
	require.NoError(t, err)
	require.Equal(t, asker.TasksFailed+1, after.TasksFailed)
	require.Equal(t, asker.Running, after.Running)
	require.Contains(t, *failed.ErrorMessage, "did not finish within its timeout of 300s: 1 of 2 delegated parts had not ended")
	require.Nil(t, failed.PartsDeadline)
	require.Equal(t, "completed", b.task(t, parts[0].ID).Status)
	open := b.task(t, parts[1].ID)
	require.Equal(t, "cancelled", open.Status)
	require.Contains(t, *open.ErrorMessage, "its parent task timed out")
	require.Equal(t, "cancelled", b.jobState(t, *open.JobID))
}

// With a single worker, a parent gives the worker up while it waits, so its
// parts can run on it: the sales part, held at its agent's row lock, keeps
// the one worker while the parent waits with no job running and its agent
// free, and once the part runs the parent completes. (A parent that held
// its worker while waiting never let its parts run.)
func TestOneWorkerRunsAParentAndItsParts(t *testing.T) {
	t.Parallel()
	b := setupWith(t, noEvents{}, Config{Workers: 1, StaleAfter: 10 * time.Second})
	ctx := context.Background()
	sales := b.agentOfType(t, "sales")
	analytics := b.agentOfType(t, "analytics")

	hold, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer hold.Rollback(ctx) //nolint:errcheck // released below
	_, err = hold.Exec(ctx, "SELECT 1 FROM agents.agents WHERE id = $1 FOR NO KEY UPDATE", sales.ID)
	require.NoError(t, err)

	require.NoError(t, b.s.Start(ctx))
	t.Cleanup(func() { _ = b.s.Stop(context.Background()) })
	created, err := b.s.Create(ctx, CreateParams{Title: "Outlook", Domain: "analytics", InputData: json.RawMessage(parentInput), TimeoutSeconds: 60})
	require.NoError(t, err)
	id := created.Task.ID

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		parent, err := b.q.TaskGet(ctx, id)
		if !assert.NoError(c, err) {
			return
		}
		assert.Equal(c, "processing", parent.Status)
		assert.NotNil(c, parent.PartsDeadline, "the parent waits for its parts")
		parts, err := b.q.TaskList(ctx, db.TaskListParams{ParentTaskID: &id, MaxRows: 20})
		if !assert.NoError(c, err) || !assert.Len(c, parts, 2) {
			return
		}
		var salesPart uuid.UUID
		for _, p := range parts {
			if p.Domain == "finance" {
				assert.Equal(c, "completed", p.Status, "the finance part ran on the one worker")
			} else {
				salesPart = p.ID
			}
		}
		var running []string
		rows, err := b.pool.Query(ctx, "SELECT args->>'task_id' FROM river_job WHERE state = 'running'")
		if !assert.NoError(c, err) {
			return
		}
		for rows.Next() {
			var s string
			assert.NoError(c, rows.Scan(&s))
			running = append(running, s)
		}
		assert.Equal(c, []string{salesPart.String()}, running, "the one worker runs the sales part, not the waiting parent")
		a, err := b.q.AgentGet(ctx, analytics.ID)
		if assert.NoError(c, err) {
			assert.Equal(c, int32(0), a.Running, "the parent's agent is free")
		}
	}, 20*time.Second, 20*time.Millisecond)

	require.NoError(t, hold.Rollback(ctx))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		parent, err := b.q.TaskGet(ctx, id)
		if assert.NoError(c, err) {
			assert.Equal(c, "completed", parent.Status)
		}
	}, 20*time.Second, 20*time.Millisecond)
	out := string(b.task(t, id).OutputData)
	require.NotContains(t, out, "Not available")
	require.Contains(t, out, "## sales: Forecast")
}

func (b bundle) agentOfType(t *testing.T, typ string) db.Agent {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, b.pool.QueryRow(context.Background(), "SELECT id FROM agents.agents WHERE type = $1 LIMIT 1", typ).Scan(&id))
	return b.agentRow(t, id)
}

// recorder keeps the events published.
type recorder struct {
	mu     sync.Mutex
	events []events.Event
}

func (r *recorder) Publish(e events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// agentStatuses are the statuses published for an agent, in order.
func (r *recorder) agentStatuses(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Type != events.AgentStatus || e.AgentID != id.String() {
			continue
		}
		var a struct {
			Status string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(e.Data, &a))
		out = append(out, a.Status)
	}
	return out
}

// A takeover frees the agent the dead worker held, and says so: a dashboard
// sees the agent idle at once.
func TestTakeoverAnnouncesTheFreedAgent(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setupWith(t, rec, Config{StaleAfter: 10 * time.Second})
	ctx := context.Background()
	task, agent, _ := b.start(t)
	b.stall(t, task.ID)
	n, err := b.s.TakeOverStale(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{"idle"}, rec.agentStatuses(t, agent.ID))
}
