package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// financeInput is a finance task's input: its plan runs financial_analyzer,
// then report_generator.
const financeInput = `{"data":[{"period":"Q1","revenue":100,"costs":60},{"period":"Q2","revenue":120,"costs":70},{"period":"Q3","revenue":130,"costs":72}]}`

// postClients is how many clients post the tasks (and insert River's jobs).
const postClients = 16

// taskRun is one run of N tasks (or jobs) to completion.
type taskRun struct {
	done, failed int
	elapsed      time.Duration
	postElapsed  time.Duration
	timedOut     bool
	busy         float64 // finance agents' busy share, 0..1 (bizmcp only)
	cpu          float64 // server CPU use, in cores (bizmcp only)
	pg           float64 // PostgreSQL's CPU use, in cores
	err          string
}

func (t taskRun) rate() float64 {
	if t.elapsed <= 0 {
		return 0
	}
	return float64(t.done) / t.elapsed.Seconds()
}

type taskConfig struct {
	agents  int // finance agents: 1 is the seeded set of 6 agents
	workers int
}

func (c taskConfig) label() string {
	if c.agents <= 1 {
		return fmt.Sprintf("the 6 seeded agents (1 finance), %d worker%s", c.workers, plural(c.workers))
	}
	return fmt.Sprintf("%d finance agents, %d worker%s", c.agents, c.workers, plural(c.workers))
}

// phaseTasks: N finance tasks posted over REST until every one is
// completed, with the seeded agents and with many finance agents, at each
// worker count; beside River's own no-op jobs on the same PostgreSQL with
// as many workers, interleaved.
func phaseTasks(ctx context.Context, e *env, r *report) error {
	o := e.o
	rv, err := newRiverPeer(ctx, e)
	if err != nil {
		return err
	}
	defer rv.close()
	meter := newCPUMeter(ctx, o)
	var configs []taskConfig
	for _, agents := range []int{1, o.financeAgents} {
		for _, w := range o.taskWorkers {
			configs = append(configs, taskConfig{agents: agents, workers: w})
		}
	}
	type result struct{ biz, river []taskRun }
	results := make([]result, len(configs))
	for round := range o.rounds {
		for i, cfg := range configs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			runBiz := func() {
				res := bizmcpTasks(ctx, e, cfg, meter)
				results[i].biz = append(results[i].biz, res)
				progress(o, "tasks round %d/%d: bizmcp, %s: %d/%d completed in %s: %s tasks/s%s", round+1, o.rounds, cfg.label(),
					res.done, o.tasks, res.elapsed.Round(time.Millisecond), num(res.rate()), errNote(res))
			}
			runRiver := func() {
				res := rv.run(ctx, o.tasks, cfg.workers, meter)
				results[i].river = append(results[i].river, res)
				progress(o, "tasks round %d/%d: River no-op, %d worker%s: %d/%d completed in %s: %s jobs/s%s", round+1, o.rounds, cfg.workers, plural(cfg.workers),
					res.done, o.tasks, res.elapsed.Round(time.Millisecond), num(res.rate()), errNote(res))
			}
			if round%2 == 0 {
				runBiz()
				runRiver()
			} else {
				runRiver()
				runBiz()
			}
		}
	}

	rates := func(rs []taskRun) []float64 {
		out := make([]float64, len(rs))
		for i, x := range rs {
			out[i] = x.rate()
		}
		return out
	}
	var body strings.Builder
	fmt.Fprintf(&body, "%d finance tasks (`POST /api/v1/resources/tasks`, %d clients posting at once, input: three periods of revenue and costs; ", o.tasks, postClients)
	body.WriteString("the plan runs `financial_analyzer`, then `report_generator`), timed from the first POST to the last task's `completed_at`; ")
	body.WriteString("the bench watches the task table (a count every 100 ms, the rate from the stored timestamps). ")
	fmt.Fprintf(&body, "Each run is a fresh bizmcp process on a fresh database (`TASK_WORKERS` as given; %d finance agents added over REST for the many-agents runs). ", o.financeAgents-1)
	body.WriteString("The peer is River (the queue bizmcp runs on) with a no-op worker in its own database on the same PostgreSQL, ")
	fmt.Fprintf(&body, "as many workers, bizmcp's fetch settings (20 ms cooldown, 500 ms poll), %d jobs inserted one per transaction by %d clients, ", o.tasks, postClients)
	body.WriteString("timed from the first insert to the last completion event. ")
	body.WriteString("*Busy* is the finance agents' task time over the run's length (Σ completed_at − started_at ÷ (run length × finance agents)): ")
	body.WriteString("the share of time an agent was running a task; over 100% means agents ran several tasks side by side. *CPU* is the bizmcp process's, in cores; ")
	body.WriteString("*PostgreSQL* is the CPU of the PostgreSQL they share (the postmaster, its backends and the backends it reaped), in cores, during each one's runs.\n\n")
	body.WriteString("| agents, workers | bizmcp tasks/s | per round | busy | CPU | PostgreSQL | River jobs/s | per round | PostgreSQL | ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var bars []bar
	var after []string
	for i, cfg := range configs {
		b, rvr := results[i].biz, results[i].river
		bm, rm := mean(rates(b)), mean(rates(rvr))
		busy, cpu, pgBiz, pgRiver := []float64{}, []float64{}, []float64{}, []float64{}
		for _, x := range rvr {
			pgRiver = append(pgRiver, x.pg)
		}
		notes := []string{}
		for _, x := range b {
			busy = append(busy, x.busy*100)
			cpu = append(cpu, x.cpu)
			pgBiz = append(pgBiz, x.pg)
			if x.timedOut {
				notes = append(notes, fmt.Sprintf("a run timed out after %s with %d of %d completed", o.taskTimeout, x.done, o.tasks))
			}
			if x.err != "" {
				notes = append(notes, x.err)
			}
		}
		fmt.Fprintf(&body, "| %s | %s | %s | %.0f%% | %.2f | %.2f | %s | %s | %.2f | %s |\n", cfg.label(), num(bm), rounds(rates(b)), mean(busy), mean(cpu), mean(pgBiz),
			num(rm), rounds(rates(rvr)), mean(pgRiver), ratio(bm, rm))
		for _, n := range notes {
			after = append(after, fmt.Sprintf("%s: %s.", cfg.label(), n))
		}
		r.row("tasks", fmt.Sprintf("%d finance tasks, REST `POST` to `completed`, %s", o.tasks, cfg.label()),
			fmt.Sprintf("%s tasks/s (finance agents busy %.0f%%, CPU %.2f cores)", num(bm), mean(busy), mean(cpu)),
			fmt.Sprintf("River no-op jobs, %d worker%s: %s jobs/s", cfg.workers, plural(cfg.workers), num(rm)), ratio(bm, rm)+" River")
		bars = append(bars, bar{label: "bizmcp: " + shortLabel(cfg), value: bm, text: num(bm) + " tasks/s", ours: true},
			bar{label: fmt.Sprintf("River no-op, %d worker%s", cfg.workers, plural(cfg.workers)), value: rm, text: num(rm) + " jobs/s"})
	}
	body.WriteString("\n")
	for _, a := range after {
		fmt.Fprintf(&body, "%s\n\n", a)
	}
	body.WriteString(r.chart("tasks", barChart(fmt.Sprintf("%d tasks from REST to completed, beside River no-op jobs", o.tasks), "per second (longer is better)", bars)))
	r.add("tasks", "Tasks: REST to `completed`, beside River", body.String())
	return nil
}

func shortLabel(c taskConfig) string {
	if c.agents <= 1 {
		return fmt.Sprintf("6 agents, %d worker%s", c.workers, plural(c.workers))
	}
	return fmt.Sprintf("%d finance agents, %d worker%s", c.agents, c.workers, plural(c.workers))
}

func errNote(t taskRun) string {
	s := ""
	if t.failed > 0 {
		s += fmt.Sprintf(" (%d failed)", t.failed)
	}
	if t.timedOut {
		s += " (timed out)"
	}
	if t.err != "" {
		s += " (" + t.err + ")"
	}
	return s
}

// bizmcpTasks runs one configuration on a fresh server and database.
func bizmcpTasks(ctx context.Context, e *env, cfg taskConfig, meter *cpuMeter) taskRun {
	o := e.o
	fail := func(err error) taskRun { return taskRun{err: err.Error()} }
	c, err := e.newCluster(ctx, "tasks")
	if err != nil {
		return fail(err)
	}
	defer c.close()
	in, err := c.start(ctx, fmt.Sprintf("TASK_WORKERS=%d", cfg.workers))
	if err != nil {
		return fail(err)
	}
	for i := 1; i < cfg.agents; i++ {
		if _, err := postJSON(ctx, in, c.key, "/api/v1/admin/agents", fmt.Sprintf(`{"name":"finance bench %d","type":"finance"}`, i)); err != nil {
			return fail(err)
		}
	}
	pool, err := pgxpool.New(ctx, c.dbURL)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()

	cpu0, around0 := in.cpuSeconds(), meter.sample()
	t0 := time.Now()
	var next atomic.Int64
	var postErr atomic.Value
	var wg sync.WaitGroup
	for range postClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > o.tasks || ctx.Err() != nil {
					return
				}
				_, err := postJSON(ctx, in, c.key, "/api/v1/resources/tasks", fmt.Sprintf(`{"title":"Bench %d","domain":"finance","input_data":%s}`, i, financeInput))
				if err != nil {
					postErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	res := taskRun{postElapsed: time.Since(t0)}
	if v := postErr.Load(); v != nil {
		res.err = "a POST failed: " + v.(string)
	}
	var lastDone time.Time
	ok, err := waitFor(ctx, o.taskTimeout-time.Since(t0), 100*time.Millisecond, func() (bool, error) {
		var last *time.Time
		err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status IN ('failed', 'cancelled')), max(completed_at)
			FROM agents.tasks WHERE title LIKE 'Bench %'`).Scan(&res.done, &res.failed, &last)
		if last != nil {
			lastDone = *last
		}
		return err == nil && res.done+res.failed >= o.tasks, err
	})
	res.cpu = (in.cpuSeconds() - cpu0) / time.Since(t0).Seconds()
	res.pg = meter.since(around0).pg / time.Since(t0).Seconds()
	if err != nil {
		res.err = err.Error()
	}
	res.timedOut = !ok
	res.elapsed = time.Since(t0)
	if ok && !lastDone.IsZero() {
		res.elapsed = lastDone.Sub(t0)
	}
	var busy float64
	_ = pool.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM sum(completed_at - started_at)), 0) FROM agents.tasks
		WHERE title LIKE 'Bench %' AND status = 'completed'`).Scan(&busy)
	if res.elapsed > 0 {
		res.busy = busy / res.elapsed.Seconds() / float64(max(cfg.agents, 1))
	}
	return res
}

// riverPeer is River with a no-op worker in a database of its own.
type riverPeer struct {
	e      *env
	dbName string
	pool   *pgxpool.Pool
}

type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func newRiverPeer(ctx context.Context, e *env) (*riverPeer, error) {
	p := &riverPeer{e: e, dbName: fmt.Sprintf("bench_river_%d", time.Now().UnixNano())}
	if err := e.exec(ctx, "CREATE DATABASE "+p.dbName); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, e.dbURL(p.dbName))
	if err != nil {
		p.close()
		return nil, err
	}
	p.pool = pool
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		p.close()
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := m.Migrate(mctx, rivermigrate.DirectionUp, nil); err != nil {
		p.close()
		return nil, fmt.Errorf("River's migrations: %w", err)
	}
	return p, nil
}

func (p *riverPeer) close() {
	if p.pool != nil {
		p.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.e.exec(ctx, "DROP DATABASE IF EXISTS "+p.dbName+" WITH (FORCE)")
}

// run inserts n no-op jobs from postClients clients, one per transaction,
// and waits for n completion events.
func (p *riverPeer) run(ctx context.Context, n, workers int, meter *cpuMeter) (res taskRun) {
	workersReg := river.NewWorkers()
	river.AddWorker(workersReg, &noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(p.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:           workersReg,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 500 * time.Millisecond,
		Logger:            discardLogger(),
	})
	if err != nil {
		return taskRun{err: err.Error()}
	}
	events, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed}, ChanSize: n + 1000})
	defer cancelSub()
	if err := client.Start(ctx); err != nil {
		return taskRun{err: err.Error()}
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
		_, _ = p.pool.Exec(sctx, "TRUNCATE river_job")
	}()
	t0, around0 := time.Now(), meter.sample()
	defer func() { res.pg = meter.since(around0).pg / time.Since(t0).Seconds() }()
	var next atomic.Int64
	var insErr atomic.Value
	var wg sync.WaitGroup
	for range postClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n || ctx.Err() != nil {
					return
				}
				if _, err := client.Insert(ctx, noopArgs{N: i}, nil); err != nil {
					insErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	res = taskRun{postElapsed: time.Since(t0)}
	if v := insErr.Load(); v != nil {
		res.err = "an insert failed: " + v.(string)
	}
	timeout := time.NewTimer(p.e.o.taskTimeout - time.Since(t0))
	defer timeout.Stop()
	for res.done+res.failed < n {
		select {
		case ev := <-events:
			if ev.Kind == river.EventKindJobCompleted {
				res.done++
			} else {
				res.failed++
			}
		case <-timeout.C:
			res.timedOut = true
			res.elapsed = time.Since(t0)
			return res
		case <-ctx.Done():
			res.err = ctx.Err().Error()
			res.elapsed = time.Since(t0)
			return res
		}
	}
	res.elapsed = time.Since(t0)
	return res
}
