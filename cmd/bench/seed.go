package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// seedTo makes the cluster's database hold total seeded tasks (stored of
// them are there already). It runs the server binary's own seeder
// (`bizmcp seed-tasks -n`, realistic history: timelines, tool runs,
// messages) and falls back to the bench's simpler SQL seeder when the
// binary has no such command. It says which one ran.
func seedTo(ctx context.Context, c *cluster, pool *pgxpool.Pool, stored, total int) (string, error) {
	o := c.e.o
	cmd := exec.CommandContext(ctx, o.bin, "seed-tasks", "-n", fmt.Sprint(total))
	cmd.Env = c.env
	cmd.Dir = o.logDir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(out)
	last := time.Time{}
	for sc.Scan() {
		if time.Since(last) > 10*time.Second {
			progress(o, "rows: bizmcp seed-tasks: %s", sc.Text())
			last = time.Now()
		}
	}
	err = cmd.Wait()
	if err == nil {
		return fmt.Sprintf("`bizmcp seed-tasks -n %d`", total), nil
	}
	if !strings.Contains(stderr.String(), `unknown command "seed-tasks"`) {
		return "", fmt.Errorf("bizmcp seed-tasks: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	progress(o, "rows: this bizmcp has no seed-tasks command: the bench seeds with its own SQL")
	return "the bench's own SQL seeder (finished tasks only, no timelines)", seedTasks(ctx, pool, total-stored, func(f string, a ...any) { progress(o, f, a...) })
}

// seedTasks adds n finished tasks to the database behind pool, spread over
// the past 180 days, the six domains, the four priorities and the existing
// agents (84% completed, 12% failed, 4% cancelled), with small input and
// output documents. It writes SQL directly, in batches, for speed: only
// terminal tasks, so that no server picks one up or repairs it. It is the
// bench's stand-in until a shared seeder exists.
func seedTasks(ctx context.Context, pool *pgxpool.Pool, n int, progressf func(string, ...any)) error {
	const batch = 100_000
	t0 := time.Now()
	for done := 0; done < n; {
		size := min(batch, n-done)
		_, err := pool.Exec(ctx, `
WITH ag AS (SELECT array_agg(id ORDER BY id) AS ids FROM agents.agents),
g AS (
  SELECT i, random() AS r, now() - random() * interval '180 days' AS created,
         (ARRAY['finance','sales','marketing','analytics','operations','general'])[1 + (i % 6)] AS domain,
         (ARRAY['low','medium','medium','high','critical'])[1 + (i % 5)] AS priority
  FROM generate_series($1::bigint + 1, $1::bigint + $2::bigint) AS i
)
INSERT INTO agents.tasks (id, title, description, domain, priority, status, agent_id, input_data, output_data,
                          error_message, progress, attempts, tokens_used, cost, created_at, started_at, completed_at)
SELECT gen_random_uuid(),
       initcap(g.domain) || ' review #' || g.i,
       'Seeded for the benchmarks: ' || g.domain || ' task ' || g.i,
       g.domain, g.priority,
       CASE WHEN g.r < 0.84 THEN 'completed' WHEN g.r < 0.96 THEN 'failed' ELSE 'cancelled' END,
       CASE WHEN cardinality(ag.ids) > 0 THEN ag.ids[1 + (g.i % cardinality(ag.ids))] END,
       jsonb_build_object('series', jsonb_build_array(g.i % 97, g.i % 89, g.i % 83, g.i % 79), 'horizon', 2),
       CASE WHEN g.r < 0.84 THEN jsonb_build_object('summary', 'done', 'points', 4) END,
       CASE WHEN g.r >= 0.84 AND g.r < 0.96 THEN 'financial_analyzer: the input has no periods' END,
       CASE WHEN g.r < 0.84 THEN 100 ELSE (g.i % 90)::smallint END,
       1 + (g.i % 2), (g.i % 1500), ((g.i % 1500) * 0.000002)::numeric(14, 6),
       g.created, g.created + interval '40 milliseconds', g.created + (20 + g.i % 400) * interval '1 millisecond'
FROM g, ag`, done, size)
		if err != nil {
			return fmt.Errorf("seed tasks %d to %d: %w", done+1, done+size, err)
		}
		done += size
		progressf("rows: seeded %s of %s tasks (%s)", num(float64(done)), num(float64(n)), time.Since(t0).Round(time.Second))
	}
	_, err := pool.Exec(ctx, "ANALYZE agents.tasks")
	return err
}
