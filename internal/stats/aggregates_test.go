package stats_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

// The tests change tasks with plain SQL: the triggers of migration 00007
// must keep the counts whatever statement changes a task's status.

// counted is the maintained count of each status, with the zeros left out.
func counted(t *testing.T, q *db.Queries) map[string]int64 {
	t.Helper()
	rows, err := q.TaskCountByStatus(context.Background())
	require.NoError(t, err)
	out := map[string]int64{}
	for _, r := range rows {
		if r.N != 0 {
			out[r.Status] = r.N
		}
	}
	return out
}

// actual counts the task table itself.
func actual(t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT status, count(*) FROM agents.tasks GROUP BY status")
	require.NoError(t, err)
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		require.NoError(t, rows.Scan(&st, &n))
		out[st] = n
	}
	require.NoError(t, rows.Err())
	return out
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

const insertTasks = `INSERT INTO agents.tasks (id, title, domain, status)
	SELECT gen_random_uuid(), 'task ' || i, $2, 'pending' FROM generate_series(1, $1::int) AS i`

func TestTaskCountsFollowEveryStatusChange(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	q := db.New(pool)
	assert.Empty(t, counted(t, q))

	exec(t, pool, insertTasks, 30, "finance")
	assert.Equal(t, map[string]int64{"pending": 30}, counted(t, q))

	exec(t, pool, `UPDATE agents.tasks SET status = 'processing', started_at = now()
		WHERE id IN (SELECT id FROM agents.tasks ORDER BY id LIMIT 20)`)
	// progress and heartbeats leave the counts alone
	exec(t, pool, "UPDATE agents.tasks SET progress = 50, heartbeat_at = now() WHERE status = 'processing'")
	exec(t, pool, `UPDATE agents.tasks SET status = 'completed', completed_at = now()
		WHERE id IN (SELECT id FROM agents.tasks WHERE status = 'processing' ORDER BY id LIMIT 15)`)
	exec(t, pool, "UPDATE agents.tasks SET status = 'failed', completed_at = now() WHERE status = 'processing'")
	exec(t, pool, "DELETE FROM agents.tasks WHERE id IN (SELECT id FROM agents.tasks WHERE status = 'pending' ORDER BY id LIMIT 4)")
	want := map[string]int64{"pending": 6, "completed": 15, "failed": 5}
	assert.Equal(t, want, actual(t, pool))
	assert.Equal(t, want, counted(t, q))

	// Folding moves the deltas into the counts without changing them.
	require.NoError(t, q.TaskAggregatesFold(ctx))
	assert.Equal(t, want, counted(t, q))
	stats, err := q.StatsTasksByStatus(ctx)
	require.NoError(t, err)
	for _, r := range stats {
		assert.Equal(t, want[r.Status], r.N, r.Status)
	}

	// A change rolled back leaves no trace.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, insertTasks, 100, "sales")
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "UPDATE agents.tasks SET status = 'cancelled' WHERE status = 'pending'")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	assert.Equal(t, want, counted(t, q))

	exec(t, pool, "TRUNCATE agents.tasks CASCADE")
	assert.Empty(t, counted(t, q))
	exec(t, pool, insertTasks, 3, "sales")
	require.NoError(t, q.TaskAggregatesFold(ctx))
	assert.Equal(t, map[string]int64{"pending": 3}, counted(t, q))
}

func TestTaskCountsStayExactUnderConcurrentWritersAndFolders(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	q := db.New(pool)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				steps := []string{
					fmt.Sprintf("INSERT INTO agents.tasks (id, title, domain) VALUES (gen_random_uuid(), 'w%d-%d', 'analytics')", w, i),
					"UPDATE agents.tasks SET status = 'processing', started_at = now() WHERE id = (SELECT id FROM agents.tasks WHERE status = 'pending' ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)",
					"UPDATE agents.tasks SET status = 'completed', completed_at = now() WHERE id = (SELECT id FROM agents.tasks WHERE status = 'processing' ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)",
					"SELECT agents.fold_task_aggregates()",
				}
				for _, s := range steps {
					if _, err := pool.Exec(ctx, s); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	want := actual(t, pool)
	assert.Equal(t, want, counted(t, q))
	require.NoError(t, q.TaskAggregatesFold(ctx))
	assert.Equal(t, want, counted(t, q))
}

func TestTaskAverageDurationFollowsRecentRunTimes(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	q := db.New(pool)
	avg, err := q.TaskAverageDuration(ctx, "finance")
	require.NoError(t, err)
	assert.Zero(t, avg, "no estimate before any task completed")

	// Ten finance tasks of 2 s and, in another domain, tasks of 30 s.
	complete := func(domain string, n int, seconds float64) {
		exec(t, pool, insertTasks, n, domain)
		exec(t, pool, `UPDATE agents.tasks SET status = 'completed', started_at = now() - make_interval(secs => $2), completed_at = now()
			WHERE domain = $1 AND status = 'pending'`, domain, seconds)
		require.NoError(t, q.TaskAggregatesFold(ctx))
	}
	complete("finance", 10, 2)
	complete("sales", 5, 30)
	avg, err = q.TaskAverageDuration(ctx, "finance")
	require.NoError(t, err)
	assert.InDelta(t, 2, avg, 1e-6, "with few samples the estimate is their mean")
	avg, err = q.TaskAverageDuration(ctx, "sales")
	require.NoError(t, err)
	assert.InDelta(t, 30, avg, 1e-6)

	// After many 8 s runs the 2 s ones no longer count.
	complete("finance", 200, 8)
	avg, err = q.TaskAverageDuration(ctx, "finance")
	require.NoError(t, err)
	assert.InDelta(t, 8, avg, 0.01)

	// A run time not folded yet is not in the estimate, and after the fold
	// it moves the estimate by its weight.
	exec(t, pool, insertTasks, 1, "finance")
	exec(t, pool, `UPDATE agents.tasks SET status = 'completed', started_at = now() - interval '58 seconds', completed_at = now()
		WHERE domain = 'finance' AND status = 'pending'`)
	avg, err = q.TaskAverageDuration(ctx, "finance")
	require.NoError(t, err)
	assert.InDelta(t, 8, avg, 0.01)
	require.NoError(t, q.TaskAggregatesFold(ctx))
	avg, err = q.TaskAverageDuration(ctx, "finance")
	require.NoError(t, err)
	assert.InDelta(t, 8+0.04*50, avg, 0.01)
	assert.False(t, math.IsNaN(avg))
}
