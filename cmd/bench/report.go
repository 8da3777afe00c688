package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// report collects what the phases measured and writes docs/benchmarks.md
// and the charts.
type report struct {
	mu       sync.Mutex
	started  time.Time
	args     []string
	summary  []summaryRow
	sections []section
	charts   map[string]string
	machine  []string
	loadAvg  []string
}

// summaryRow is one line of the table at the top: bizmcp beside a peer.
type summaryRow struct {
	phase, what, bizmcp, peer, ratio string
}

type section struct {
	phase string
	title string
	body  string
}

func newReport(args []string) *report {
	return &report{started: time.Now(), args: args, charts: map[string]string{}}
}

func (r *report) row(phase, what, bizmcp, peer, ratio string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.summary = append(r.summary, summaryRow{phase, what, bizmcp, peer, ratio})
}

func (r *report) add(phase, title, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sections = append(r.sections, section{phase, title, body})
}

// chart stores an SVG under docs/bench/<name>.svg and returns the Markdown
// that shows it.
func (r *report) chart(name, svg string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.charts[name] = svg
	return fmt.Sprintf("![%s](bench/%s.svg)\n", name, name)
}

// noteLoad records the machine's load average (the machine is shared: the
// reader must know how busy it was).
func (r *report) noteLoad(when string) {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) >= 3 {
		r.mu.Lock()
		r.loadAvg = append(r.loadAvg, fmt.Sprintf("%s: %s %s %s", when, f[0], f[1], f[2]))
		r.mu.Unlock()
	}
}

// describeMachine records the CPU, Go, PostgreSQL and Redis versions.
func (r *report) describeMachine(ctx context.Context, o *options) {
	model := "unknown"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					model = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), "%f", &kb)
				mem = fmt.Sprintf("%.0f GiB", kb/1024/1024)
			}
		}
	}
	pgVersion, pgSettings := "unknown", ""
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(cctx, o.databaseURL); err == nil {
		_ = conn.QueryRow(cctx, "SHOW server_version").Scan(&pgVersion)
		var fsync, sc, sb string
		_ = conn.QueryRow(cctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('shared_buffers')").Scan(&fsync, &sc, &sb)
		pgSettings = fmt.Sprintf(" (fsync %s, synchronous_commit %s, shared_buffers %s)", fsync, sc, sb)
		conn.Close(context.Background())
	}
	redisVersion := "unknown"
	if opt, err := redis.ParseURL(o.redisURL); err == nil {
		rc := redis.NewClient(opt)
		if info, err := rc.Info(cctx, "server").Result(); err == nil {
			for _, line := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
					redisVersion = v
				}
			}
		}
		rc.Close()
	}
	kernel := ""
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(raw))
	}
	version := "unknown"
	if out, err := exec.CommandContext(cctx, o.bin, "version").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(cctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		version += " (checkout " + strings.TrimSpace(string(out)) + ")"
	}
	r.machine = []string{
		"bizmcp: " + version,
		fmt.Sprintf("CPU: %d × %s", runtime.NumCPU(), model),
		"memory: " + mem,
		"OS: " + kernel,
		"Go: " + runtime.Version(),
		"PostgreSQL: " + pgVersion + pgSettings,
		"Redis: " + redisVersion,
		"everything on loopback (127.0.0.1); every server is its own process",
	}
}

// write produces docs/benchmarks.md and docs/bench/*.svg under dir.
func (r *report) write(dir string, phases []string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o755); err != nil {
		return "", err
	}
	for name, svg := range r.charts {
		if err := os.WriteFile(filepath.Join(dir, "bench", name+".svg"), []byte(svg), 0o644); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`cmd/bench`); do not edit by hand, run it again. It measures and never asserts: ")
	b.WriteString("bizmcp and its peers run side by side in one run, interleaved round by round (A, B, A, B) where a peer exists, ")
	b.WriteString("and each figure is the mean of the rounds (per-round values are in the sections below). ")
	b.WriteString("Latency percentiles are over all the rounds' samples.\n\n")
	fmt.Fprintf(&b, "Run of %s UTC, %s, phases: %s.\n\n", r.started.UTC().Format("2006-01-02 15:04"), time.Since(r.started).Round(time.Second), strings.Join(phases, ", "))
	b.WriteString("## Side by side\n\n")
	b.WriteString("| phase | what | bizmcp | peer, same run | ratio |\n| --- | --- | --- | --- | --- |\n")
	for _, s := range r.summary {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", s.phase, s.what, s.bizmcp, orDash(s.peer), orDash(s.ratio))
	}
	b.WriteString("\n")
	for _, s := range r.sections {
		fmt.Fprintf(&b, "## %s\n\n%s\n", s.title, strings.TrimRight(s.body, "\n")+"\n")
	}
	b.WriteString("## How to run it\n\n")
	b.WriteString("```sh\n")
	b.WriteString("make bench                                # everything, on its own PostgreSQL and Redis (.data/bench)\n")
	b.WriteString("make bench BENCHFLAGS='-only mcp'          # one phase: mcp, tasks, fanout, rows (comma-separated)\n")
	b.WriteString("make bench BENCHFLAGS='-short'             # toy sizes, about a minute: checks the harness, not the speed\n")
	b.WriteString("make bench-go                             # the Go micro-benchmarks (go test -bench)\n")
	b.WriteString("```\n\n")
	b.WriteString("This run's command line (inside `scripts/services.sh with bench …`):\n\n```\n")
	fmt.Fprintf(&b, "bench %s\n", strings.Join(r.args, " "))
	b.WriteString("```\n\n")
	b.WriteString("## Machine\n\n")
	for _, m := range r.machine {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	for _, l := range r.loadAvg {
		fmt.Fprintf(&b, "- load average %s\n", l)
	}
	path := filepath.Join(dir, "benchmarks.md")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
