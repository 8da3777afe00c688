package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// drillKill: two instances share a burst of tasks; one is SIGKILLed when a
// quarter has ended. Every task must complete exactly once, and the tasks
// the dead instance held must be taken over within 30 s.
func drillKill(ctx context.Context, o *options, r *report) error {
	c, err := newCluster(ctx, o, "kill")
	if err != nil {
		return err
	}
	defer c.close()
	a, err := c.start(ctx, "a")
	if err != nil {
		return err
	}
	b, err := c.start(ctx, "b")
	if err != nil {
		return err
	}
	if err := addAgents(ctx, a, c.key, 4); err != nil {
		return err
	}
	ids, posting, err := postBurst(ctx, []*instance{a, b}, c.key, o.tasks)
	if err != nil {
		return err
	}
	r.figure("burst posted", "%d tasks in %s (%.0f/s) to two instances", len(ids), posting.Round(time.Millisecond), float64(len(ids))/posting.Seconds())
	if err := waitDone(ctx, c.db, ids, len(ids)/4, 5*time.Minute); err != nil {
		return err
	}
	conn, err := c.db(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	doneAtKill, _ := countDone(ctx, conn, ids)
	a.kill()
	killed := time.Now()
	var running int
	_ = conn.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'running' AND kind = 'bizmcp.task'").Scan(&running)
	r.figure("SIGKILL of instance a", "after %d of %d tasks ended; %d jobs running on both at that moment", doneAtKill, len(ids), running)

	if err := waitDone(ctx, c.db, ids, len(ids), 5*time.Minute); err != nil {
		return err
	}
	total := time.Since(killed)
	var taken int
	var firstTake, lastTakenDone *time.Time
	err = conn.QueryRow(ctx, `SELECT count(DISTINCT e.task_id), min(e.created_at),
		(SELECT max(t.completed_at) FROM agents.tasks t WHERE t.id IN (
			SELECT task_id FROM agents.task_events WHERE task_id = ANY($1::uuid[]) AND type IN ('retry', 'failed') AND message LIKE 'taken over%'))
		FROM agents.task_events e WHERE e.task_id = ANY($1::uuid[]) AND e.type IN ('retry', 'failed') AND e.message LIKE 'taken over%'`, ids).Scan(&taken, &firstTake, &lastTakenDone)
	if err != nil {
		return err
	}
	r.figure("tasks taken over from the dead instance", "%d", taken)
	if taken > 0 && firstTake != nil && lastTakenDone != nil {
		first := firstTake.Sub(killed)
		recovery := lastTakenDone.Sub(killed)
		r.figure("kill -> first takeover", "%.1f s", first.Seconds())
		r.figure("time to recovery (kill -> last taken-over task completed)", "%.1f s", recovery.Seconds())
		r.check(recovery < 30*time.Second, "recovery within 30 s (River's own rescue would wait for the task timeout, 300 s)")
	} else {
		r.check(taken > 0, "the dead instance held tasks to take over (kill it earlier or use more tasks)")
	}
	r.figure("kill -> every task ended", "%.1f s", total.Seconds())
	f, err := exactlyOnce(ctx, conn, ids)
	if err != nil {
		return err
	}
	f.report(r, len(ids))
	return nil
}

// drillPostgres: PostgreSQL is stopped for 10 s in the middle of a burst
// while clients keep calling the API. Requests during the outage must get a
// quick 503, the instances must recover without a restart, and every task
// must complete exactly once.
func drillPostgres(ctx context.Context, o *options, r *report) error {
	c, err := newCluster(ctx, o, "postgres")
	if err != nil {
		return err
	}
	defer c.close()
	a, err := c.start(ctx, "a")
	if err != nil {
		return err
	}
	b, err := c.start(ctx, "b")
	if err != nil {
		return err
	}
	if err := addAgents(ctx, a, c.key, 3); err != nil {
		return err
	}
	ids, _, err := postBurst(ctx, []*instance{a, b}, c.key, o.pgTasks)
	if err != nil {
		return err
	}
	if err := waitDone(ctx, c.db, ids, len(ids)/4, 5*time.Minute); err != nil {
		return err
	}

	// Probe both instances every 50 ms, by phase.
	var phase sync.Map // "phase" -> string
	phase.Store("p", "before")
	byPhase := map[string]*counter{"before": {}, "outage": {}, "after": {}}
	lat := map[string]*latencies{"before": {}, "outage": {}, "after": {}}
	var mu sync.Mutex
	firstOK := map[string]time.Time{}
	var upAt time.Time
	pctx, stopProbe := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range []*instance{a, b} {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pctx.Err() == nil {
					p, _ := phase.Load("p")
					code, _, d := call(pctx, http.MethodGet, in.url("/api/v1/resources/tasks?limit=1"), c.key, "")
					if pctx.Err() != nil {
						return
					}
					ph := p.(string)
					byPhase[ph].inc(statusLabel(code))
					lat[ph].add(d)
					if ph == "after" && code == http.StatusOK {
						mu.Lock()
						if _, ok := firstOK[in.name]; !ok {
							firstOK[in.name] = time.Now()
						}
						mu.Unlock()
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
	}
	time.Sleep(time.Second)
	phase.Store("p", "outage")
	stopped := time.Now()
	if err := o.stopPostgres(ctx); err != nil {
		stopProbe()
		wg.Wait()
		return err
	}
	r.figure("PostgreSQL stopped", "after %s; down for 10 s", time.Since(stopped).Round(time.Millisecond))
	time.Sleep(10 * time.Second)
	if err := o.startServices(ctx); err != nil {
		stopProbe()
		wg.Wait()
		return err
	}
	upAt = time.Now()
	phase.Store("p", "after")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(firstOK)
		mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	stopProbe()
	wg.Wait()

	out := byPhase["outage"]
	r.figure("answers during the outage", "%s", out.String())
	r.figure("latency during the outage p50 / p99 / max", "%s / %s / %s", lat["outage"].pct(0.5).Round(time.Millisecond), lat["outage"].pct(0.99).Round(time.Millisecond), lat["outage"].pct(1).Round(time.Millisecond))
	r.figure("answers after PostgreSQL was back", "%s", byPhase["after"].String())
	good503 := out.get("503")
	r.check(lat["outage"].n() > 0 && good503+out.get("200") == lat["outage"].n(), "during the outage every answer is 503 (or 200 before the stop took effect)")
	r.check(lat["outage"].pct(0.99) < 2*time.Second, "503s come quickly (p99 under 2 s)")
	for _, in := range []*instance{a, b} {
		t, ok := firstOK[in.name]
		if ok {
			r.figure("instance "+in.name+": PostgreSQL back -> first 200", "%.1f s", t.Sub(upAt).Seconds())
		}
		r.check(ok, "instance %s recovered without a restart", in.name)
	}
	if err := waitDone(ctx, c.db, ids, len(ids), 5*time.Minute); err != nil {
		return err
	}
	r.figure("PostgreSQL back -> every task ended", "%.1f s", time.Since(upAt).Seconds())
	conn, err := pgx.Connect(ctx, c.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	f, err := exactlyOnce(ctx, conn, ids)
	if err != nil {
		return err
	}
	f.report(r, len(ids))
	return nil
}
