// Command chaos runs bizmcp's fault and soak drills against real bizmcp
// processes and their own PostgreSQL and Redis, and prints the figures of
// each: SIGKILL of one of two instances during a burst of tasks, PostgreSQL
// restarted mid-burst, Redis stopped under load, and a soak of mixed REST,
// MCP and WebSocket load. It is run by scripts/chaos.sh (`make chaos`), which
// builds bin/bizmcp and starts the services under .data/chaos; it exits 1
// when a drill's check fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

// options are the drills' settings.
type options struct {
	bin        string
	pgPort     int
	redisPort  int
	dataDir    string
	services   string
	drills     []string
	tasks      int
	pgTasks    int
	redisDown  time.Duration
	soak       time.Duration
	soakRate   int
	logDir     string
	keepGoing  bool
	stdout     io.Writer
	stderr     io.Writer
	adminURL   string
	redisURL   string
	pgData     string
	staleAfter time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{stdout: stdout, stderr: stderr}
	var drills string
	short := fs.Bool("short", false, "the CI version: fewer tasks, a 20s Redis outage, a 60s soak")
	fs.StringVar(&o.bin, "bin", "bin/bizmcp", "the bizmcp binary to run (make build)")
	fs.IntVar(&o.pgPort, "pg-port", 55533, "port of the drills' PostgreSQL (started by scripts/services.sh start chaos)")
	fs.IntVar(&o.redisPort, "redis-port", 56480, "port of the drills' Redis")
	fs.StringVar(&o.dataDir, "data", ".data/chaos", "the services' directory (PostgreSQL data in <data>/pg)")
	fs.StringVar(&o.services, "services", "scripts/services.sh", "the script that starts the services again after a drill stops them")
	fs.StringVar(&drills, "drills", "kill,postgres,redis,soak", "drills to run, comma-separated")
	fs.IntVar(&o.tasks, "tasks", 1000, "tasks in the kill drill's burst")
	fs.IntVar(&o.pgTasks, "pg-tasks", 500, "tasks in the PostgreSQL drill's burst")
	fs.DurationVar(&o.redisDown, "redis-down", 60*time.Second, "how long Redis is stopped")
	fs.DurationVar(&o.soak, "soak", 30*time.Minute, "length of the soak")
	fs.IntVar(&o.soakRate, "soak-rate", 40, "soak requests per second (REST, MCP and WebSocket together)")
	fs.BoolVar(&o.keepGoing, "keep-going", true, "run the other drills after one fails")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *short {
		setIfUnset(fs, "tasks", func() { o.tasks = 1000 })
		setIfUnset(fs, "pg-tasks", func() { o.pgTasks = 300 })
		setIfUnset(fs, "redis-down", func() { o.redisDown = 20 * time.Second })
		setIfUnset(fs, "soak", func() { o.soak = 60 * time.Second })
	}
	o.drills = strings.Split(drills, ",")
	o.adminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", o.pgPort)
	o.redisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", o.redisPort)
	o.pgData = o.dataDir + "/pg"
	o.logDir = o.dataDir + "/logs"
	o.staleAfter = 10 * time.Second
	for _, p := range []*string{&o.bin, &o.pgData, &o.logDir, &o.services} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("%s: %w (run make build first)", o.bin, err)
	}

	all := map[string]func(context.Context, *options, *report) error{
		"kill": drillKill, "postgres": drillPostgres, "redis": drillRedis, "soak": drillSoak,
	}
	var failed []string
	start := time.Now()
	for _, name := range o.drills {
		d, ok := all[name]
		if !ok {
			return fmt.Errorf("unknown drill %q: use kill, postgres, redis, soak", name)
		}
		r := &report{name: name, out: stdout, ok: true}
		fmt.Fprintf(stdout, "\n== drill %s ==\n", name)
		t0 := time.Now()
		err := d(ctx, &o, r)
		if err != nil {
			r.fail("%v", err)
		}
		fmt.Fprintf(stdout, "   drill took %s\n", time.Since(t0).Round(time.Second))
		if !r.ok {
			failed = append(failed, name)
			fmt.Fprintf(stdout, "   RESULT: FAIL\n")
			if !o.keepGoing {
				break
			}
		} else {
			fmt.Fprintf(stdout, "   RESULT: ok\n")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Fprintf(stdout, "\nall drills took %s\n", time.Since(start).Round(time.Second))
	if len(failed) > 0 {
		return fmt.Errorf("drills failed: %s (logs in %s)", strings.Join(failed, ", "), o.logDir)
	}
	return nil
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

// report prints a drill's figures and checks.
type report struct {
	name string
	out  io.Writer
	ok   bool
	bad  bool
}

func (r *report) figure(label string, format string, args ...any) {
	fmt.Fprintf(r.out, "   %-44s %s\n", label, fmt.Sprintf(format, args...))
}

// check records a pass/fail condition with its explanation.
func (r *report) check(cond bool, format string, args ...any) {
	mark := "ok  "
	if !cond {
		mark = "FAIL"
		r.bad = true
	}
	fmt.Fprintf(r.out, "   [%s] %s\n", mark, fmt.Sprintf(format, args...))
	r.ok = !r.bad
}

func (r *report) fail(format string, args ...any) {
	r.check(false, format, args...)
}
