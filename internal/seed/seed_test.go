package seed_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/seed"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

func TestTasksSeedsRealisticHistoryOnceEach(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	q := db.New(pool)
	// One agent of each type, as the server creates at first start.
	_, err := pool.Exec(ctx, `INSERT INTO agents.agents (id, name, type)
		SELECT gen_random_uuid(), initcap(t) || ' agent', t
		FROM unnest(ARRAY['finance', 'sales', 'marketing', 'analytics', 'operations', 'general']) AS t`)
	require.NoError(t, err)

	var reports []seed.Report
	require.NoError(t, seed.Tasks(ctx, pool, 2_500, seed.BatchSize(1_000), seed.Progress(func(r seed.Report) { reports = append(reports, r) })))
	require.Len(t, reports, 3)
	last := reports[len(reports)-1]
	assert.Equal(t, 2_500, last.Done)
	assert.EqualValues(t, 2_500, last.Inserted.Tasks)
	// created, a tool call for each task that ran, an outcome for each
	// finished one: about three rows per task.
	assert.Greater(t, last.Inserted.Events, int64(2*2_500))
	assert.Greater(t, last.Inserted.Executions, int64(2_000))
	assert.Greater(t, last.Inserted.Messages, int64(0))

	byStatus := map[string]int64{}
	rows, err := q.StatsTasksByStatus(ctx)
	require.NoError(t, err)
	for _, r := range rows {
		byStatus[r.Status] = r.N
	}
	assert.Greater(t, byStatus["completed"], int64(2_000), byStatus)
	assert.Greater(t, byStatus["failed"], int64(50), byStatus)
	assert.Greater(t, byStatus["cancelled"], int64(30), byStatus)

	page, err := q.TaskList(ctx, db.TaskListParams{Domain: ptr("finance"), MaxRows: 500})
	require.NoError(t, err)
	require.NotEmpty(t, page)
	for _, task := range page {
		assert.Equal(t, "finance", task.Domain)
		if task.Status == "completed" {
			require.NotNil(t, task.AgentID, "a completed task ran on an agent")
			agent, err := q.AgentGet(ctx, *task.AgentID)
			require.NoError(t, err)
			assert.Equal(t, "finance", agent.Type)
			require.NotNil(t, task.StartedAt)
			require.NotNil(t, task.CompletedAt)
			assert.False(t, task.CompletedAt.Before(*task.StartedAt))
			assert.False(t, task.StartedAt.Before(task.CreatedAt))
		}
		if task.Status == "pending" || task.Status == "processing" {
			assert.Nil(t, task.JobID, "a seeded open task has no job: nothing picks it up")
		}
	}
	events, err := q.TaskEventList(ctx, page[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "created", events[0].Type)

	// Seeding again inserts only the numbers not there yet.
	reports = nil
	require.NoError(t, seed.Tasks(ctx, pool, 3_000, seed.BatchSize(1_000), seed.Progress(func(r seed.Report) { reports = append(reports, r) })))
	assert.EqualValues(t, 500, reports[len(reports)-1].Inserted.Tasks)
	var total int64
	rows, err = q.StatsTasksByStatus(ctx)
	require.NoError(t, err)
	for _, r := range rows {
		total += r.N
	}
	assert.EqualValues(t, 3_000, total)
}

func TestTasksRefusesBadOptions(t *testing.T) {
	pool := testkit.Pool(t)
	assert.ErrorContains(t, seed.Tasks(context.Background(), pool, -1), "0 or more")
	assert.ErrorContains(t, seed.Tasks(context.Background(), pool, 1, seed.BatchSize(0)), "batch size")
	assert.ErrorContains(t, seed.Tasks(context.Background(), pool, 1, seed.Days(0)), "days")
}

func ptr[T any](v T) *T { return &v }
