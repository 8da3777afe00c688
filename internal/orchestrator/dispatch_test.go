package orchestrator_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	. "github.com/bizmcp/bizmcp/internal/orchestrator"
)

// concurrency sets how many tasks the domain's seeded agent runs at once.
func (b bundle) concurrency(t *testing.T, domain string, n int) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), "UPDATE agents.agents SET max_concurrency = $2 WHERE type = $1", domain, n)
	require.NoError(t, err)
}

// create stores a finance task and returns its row.
func (b bundle) create(t *testing.T) db.Task {
	t.Helper()
	ctx := context.Background()
	created, err := b.s.Create(ctx, CreateParams{Title: "Margins", Domain: "finance", InputData: json.RawMessage(financeInput)})
	require.NoError(t, err)
	row, err := b.q.TaskGet(ctx, created.Task.ID)
	require.NoError(t, err)
	return row
}

func (b bundle) agentRow(t *testing.T, id uuid.UUID) db.Agent {
	t.Helper()
	a, err := b.q.AgentGet(context.Background(), id)
	require.NoError(t, err)
	return a
}

func (b bundle) jobState(t *testing.T, id int64) string {
	t.Helper()
	var state string
	require.NoError(t, b.pool.QueryRow(context.Background(), "SELECT state FROM river_job WHERE id = $1", id).Scan(&state))
	return state
}

// A task that finds its agent busy is parked, and the worker that finishes
// the agent's task starts it at once as its own job, in the transaction
// that frees the agent: no polling, no gap.
func TestFinishAdoptsTheParkedTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.concurrency(t, "finance", 1)
	first, agent, job := b.start(t)
	require.Equal(t, int32(1), b.agentRow(t, agent.ID).Running)

	waiting := b.create(t)
	_, _, err := b.s.ClaimAndStart(ctx, waiting)
	require.ErrorIs(t, err, ErrNoAgent)
	parked, err := b.q.TaskGet(ctx, waiting.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", parked.Status)
	require.NotNil(t, parked.ParkedAt, "the task waits parked")

	out, err := b.s.RunPlan(ctx, first, agent)
	require.NoError(t, err)
	next, err := b.s.Finish(ctx, job, first, agent, out, nil)
	require.NoError(t, err)
	require.NotNil(t, next, "the finishing worker adopts the parked task")
	require.Equal(t, waiting.ID, next.ID)
	require.Equal(t, "processing", next.Status)
	require.Equal(t, job.ID, *next.JobID, "it runs as the finishing worker's job")
	require.Nil(t, next.ParkedAt)
	require.Equal(t, "cancelled", b.jobState(t, *waiting.JobID), "its parked job is cancelled")
	a := b.agentRow(t, agent.ID)
	require.Equal(t, int32(1), a.Running)
	require.Equal(t, "busy", a.Status)
	require.Equal(t, waiting.ID, *a.CurrentTaskID)
	require.Equal(t, int32(1), a.TasksCompleted)

	// It runs and completes under the same job; the agent is then free.
	out, err = b.s.RunPlan(ctx, *next, agent)
	require.NoError(t, err)
	after, err := b.s.Finish(ctx, job, *next, agent, out, nil)
	require.NoError(t, err)
	require.Nil(t, after, "nothing else waits")
	done, err := b.q.TaskGet(ctx, waiting.ID)
	require.NoError(t, err)
	require.Equal(t, "completed", done.Status)
	a = b.agentRow(t, agent.ID)
	require.Equal(t, int32(0), a.Running)
	require.Equal(t, "idle", a.Status)
	require.Nil(t, a.CurrentTaskID)
	require.Equal(t, int32(2), a.TasksCompleted)
}

// An agent runs as many tasks at once as its max_concurrency allows; the
// next one parks, and cancelling a running task wakes it with a new job.
func TestAgentRunsUpToItsConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.concurrency(t, "finance", 2)
	one, agent, _ := b.start(t)
	two, agentTwo, _ := b.start(t)
	require.Equal(t, agent.ID, agentTwo.ID, "the one finance agent runs both")
	a := b.agentRow(t, agent.ID)
	require.Equal(t, int32(2), a.Running)
	require.Equal(t, "busy", a.Status)
	require.Equal(t, two.ID, *a.CurrentTaskID)

	third := b.create(t)
	_, _, err := b.s.ClaimAndStart(ctx, third)
	require.ErrorIs(t, err, ErrNoAgent)

	_, err = b.s.Cancel(ctx, one.ID)
	require.NoError(t, err)
	woken, err := b.q.TaskGet(ctx, third.ID)
	require.NoError(t, err)
	require.Nil(t, woken.ParkedAt, "the cancel woke the parked task")
	require.NotEqual(t, *third.JobID, *woken.JobID, "with a new job")
	require.Equal(t, "available", b.jobState(t, *woken.JobID))
	a = b.agentRow(t, agent.ID)
	require.Equal(t, int32(1), a.Running)
	require.Equal(t, two.ID, *a.CurrentTaskID, "the current task moves to the one still running")

	// The woken job claims the freed slot.
	got, started, err := b.s.ClaimAndStart(ctx, woken)
	require.NoError(t, err)
	require.Equal(t, agent.ID, got.ID)
	require.Equal(t, "processing", started.Status)
	require.Equal(t, int32(2), b.agentRow(t, agent.ID).Running)
}

// A task is not parked while an agent that could take it has a free slot:
// the claim goes again instead (no wake-up can be lost between them).
func TestParkRefusedWhileAnAgentIsFree(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	row := b.create(t)
	_, err := b.q.TaskPark(ctx, db.TaskParkParams{ID: row.ID, JobID: row.JobID, Domain: "finance", Required: []string{"financial_analyzer"}})
	require.Error(t, err, "the finance agent is free")
	b.concurrency(t, "finance", 1)
	_, agent, _ := b.start(t)
	_, err = b.q.TaskPark(ctx, db.TaskParkParams{ID: row.ID, JobID: row.JobID, Domain: "finance", Required: []string{"financial_analyzer"}})
	require.NoError(t, err, "the agent is full")
	_, err = b.pool.Exec(ctx, "UPDATE agents.agents SET max_concurrency = 2 WHERE id = $1", agent.ID)
	require.NoError(t, err)
	n, err := b.s.WakeFree(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "a widened agent wakes the parked task")
}
