// Command bench measures bizmcp side by side with its peers and writes
// docs/benchmarks.md and the charts in docs/bench/. It measures and never
// asserts. Phases, each selectable with -only:
//
//   - mcp: MCP tools/call on bizmcp's /mcp (key check, rate limit, execution
//     log all on) against bare mcp-go and go-sdk servers and a net/http
//     JSON-RPC echo, 2025-11-25 sessions and 2026-07-28 stateless, at 1 and
//     16 clients;
//   - tasks: tasks posted over REST until every one is completed, against
//     River's own no-op jobs on the same PostgreSQL;
//   - fanout: one event to 1,000 and 5,000 WebSocket clients on
//     /api/v1/stream and on the dashboard's /ws, latency and server memory;
//   - rows: the task list, a task creation, the overview and a metrics
//     scrape with 1,000,000 tasks stored.
//
// Every server is its own process (bin/bizmcp serve, or this binary run with
// -serve-peer) on loopback; the bench starts and stops them all. It needs a
// PostgreSQL superuser URL (DATABASE_URL) and a Redis (REDIS_URL): `make
// bench` starts its own under .data/bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the bench's settings.
type options struct {
	bin         string
	databaseURL string
	redisURL    string
	out         string
	logDir      string
	logLevel    string
	phases      []string
	short       bool
	rounds      int
	timeout     time.Duration

	mcpClients  []int
	mcpWarm     time.Duration
	mcpDuration time.Duration

	tasks         int
	taskWorkers   []int
	financeAgents int
	taskTimeout   time.Duration
	riverWorkers  int

	fanoutClients []int
	fanoutEvents  int

	rows        int
	rowsSmall   int
	rowsSamples int

	stderr  io.Writer
	started time.Time
	mu      sync.Mutex
}

var allPhases = []string{"mcp", "tasks", "fanout", "rows"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{stderr: stderr, started: time.Now()}
	var only, mcpClients, workers, fanout string
	peer := fs.String("serve-peer", "", "internal: run as a peer server (mcp-go, go-sdk, net/http)")
	fs.StringVar(&o.bin, "bin", "bin/bizmcp", "the bizmcp binary (make build)")
	fs.StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "a PostgreSQL superuser URL; the bench creates and drops its own databases there (default $DATABASE_URL)")
	fs.StringVar(&o.redisURL, "redis-url", os.Getenv("REDIS_URL"), "Redis URL; every server gets its own key prefix (default $REDIS_URL)")
	fs.StringVar(&o.out, "out", "docs", "where benchmarks.md and bench/*.svg are written")
	fs.StringVar(&o.logDir, "logs", ".data/bench/logs", "where the servers' logs go")
	fs.StringVar(&o.logLevel, "log-level", "info", "bizmcp's LOG_LEVEL (info is what it ships with)")
	fs.StringVar(&only, "only", strings.Join(allPhases, ","), "phases to run, comma-separated: "+strings.Join(allPhases, ", "))
	fs.BoolVar(&o.short, "short", false, "toy sizes, about a minute: checks that the harness works, says little about speed")
	fs.IntVar(&o.rounds, "rounds", 2, "interleaved rounds of each comparison")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Hour, "the whole run's limit")
	fs.StringVar(&mcpClients, "mcp-clients", "1,16", "concurrent MCP clients, comma-separated")
	fs.DurationVar(&o.mcpWarm, "mcp-warm", time.Second, "warm-up of each MCP run (not measured)")
	fs.DurationVar(&o.mcpDuration, "mcp-duration", 5*time.Second, "measured length of each MCP run")
	fs.IntVar(&o.tasks, "tasks", 2000, "finance tasks per run of the tasks phase")
	fs.StringVar(&workers, "task-workers", "1,50", "TASK_WORKERS values, comma-separated")
	fs.IntVar(&o.financeAgents, "finance-agents", 55, "finance agents in the many-agents runs (the seeded one included)")
	fs.DurationVar(&o.taskTimeout, "task-timeout", 4*time.Minute, "the longest one run of the tasks phase may take; a slower run is reported with what completed")
	fs.StringVar(&fanout, "fanout-clients", "1000,5000", "WebSocket clients, comma-separated")
	fs.IntVar(&o.fanoutEvents, "fanout-events", 20, "events per fan-out run (one at a time)")
	fs.IntVar(&o.rows, "rows", 1_000_000, "tasks stored for the rows phase")
	fs.IntVar(&o.rowsSmall, "rows-small", 20_000, "the smaller table the task creation is compared at")
	fs.IntVar(&o.rowsSamples, "rows-samples", 200, "requests per measured operation in the rows phase")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *peer != "" {
		return servePeer(*peer, stdout)
	}
	if o.short {
		setIfUnset(fs, "rounds", func() { o.rounds = 1 })
		setIfUnset(fs, "mcp-warm", func() { o.mcpWarm = 100 * time.Millisecond })
		setIfUnset(fs, "mcp-duration", func() { o.mcpDuration = 300 * time.Millisecond })
		setIfUnset(fs, "mcp-clients", func() { mcpClients = "2" })
		setIfUnset(fs, "tasks", func() { o.tasks = 6 })
		setIfUnset(fs, "task-workers", func() { workers = "4" })
		setIfUnset(fs, "finance-agents", func() { o.financeAgents = 3 })
		setIfUnset(fs, "task-timeout", func() { o.taskTimeout = 60 * time.Second })
		setIfUnset(fs, "fanout-clients", func() { fanout = "20" })
		setIfUnset(fs, "fanout-events", func() { o.fanoutEvents = 3 })
		setIfUnset(fs, "rows", func() { o.rows = 2000 })
		setIfUnset(fs, "rows-small", func() { o.rowsSmall = 200 })
		setIfUnset(fs, "rows-samples", func() { o.rowsSamples = 10 })
	}
	var err error
	if o.mcpClients, err = intList("mcp-clients", mcpClients); err != nil {
		return err
	}
	if o.taskWorkers, err = intList("task-workers", workers); err != nil {
		return err
	}
	if o.fanoutClients, err = intList("fanout-clients", fanout); err != nil {
		return err
	}
	for _, p := range strings.Split(only, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(allPhases, p) {
			return fmt.Errorf("-only: unknown phase %q: use %s", p, strings.Join(allPhases, ", "))
		}
		o.phases = append(o.phases, p)
	}
	if o.databaseURL == "" || o.redisURL == "" {
		return errors.New("DATABASE_URL and REDIS_URL (or -database-url and -redis-url) are required: run `make bench`, which starts PostgreSQL and Redis under .data/bench")
	}
	for _, p := range []*string{&o.bin, &o.logDir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("%s: %w (run make build first)", o.bin, err)
	}
	if limit, err := raiseFileLimit(); err != nil {
		progress(o, "could not raise the open-file limit: %v", err)
	} else {
		progress(o, "open-file limit: %d (the servers inherit it)", limit)
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r := newReport(args)
	r.describeMachine(ctx, o)
	r.noteLoad("at the start")
	e, err := newEnv(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()

	phases := map[string]func(context.Context, *env, *report) error{
		"mcp": phaseMCP, "tasks": phaseTasks, "fanout": phaseFanout, "rows": phaseRows,
	}
	var failed []string
	for _, name := range o.phases {
		progress(o, "== phase %s ==", name)
		t0 := time.Now()
		if err := phases[name](ctx, e, r); err != nil {
			failed = append(failed, name)
			progress(o, "phase %s failed: %v", name, err)
			r.add(name, "Phase "+name+" did not finish", fmt.Sprintf("It stopped with: `%v`. Its servers' logs are in %s.\n", err, o.logDir))
		}
		progress(o, "phase %s took %s", name, time.Since(t0).Round(time.Second))
		if ctx.Err() != nil {
			break
		}
	}
	r.noteLoad("at the end")
	path, err := r.write(o.out, o.phases)
	if err != nil {
		return err
	}
	progress(o, "wrote %s and its charts in %s", path, filepath.Join(o.out, "bench"))
	fmt.Fprintf(stdout, "wrote %s\n", path)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("phases that did not finish: %s (see %s)", strings.Join(failed, ", "), path)
	}
	return nil
}

// progress prints a line to stderr with the time since the start.
func progress(o *options, format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, "bench %6s  %s\n", time.Since(o.started).Round(time.Second), fmt.Sprintf(format, args...))
}

// raiseFileLimit lifts the soft open-file limit to the hard one: 5,000
// WebSocket clients need 5,000 descriptors here and as many in the server,
// which inherits the limit.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}

// setIfUnset applies a -short default unless the flag was given.
func setIfUnset(fs *flag.FlagSet, name string, set func()) {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	if !given {
		set()
	}
}

func intList(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: %q is not a positive whole number", name, f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: give at least one number", name)
	}
	return out, nil
}
