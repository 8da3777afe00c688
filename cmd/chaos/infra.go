package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// cluster is one drill's database and Redis prefix, and its instances.
type cluster struct {
	o      *options
	name   string
	dbName string
	dbURL  string
	key    string
	env    []string
	insts  []*instance
}

// newCluster creates a fresh database for the drill, migrates it and
// creates an admin key with a limit no drill reaches.
func newCluster(ctx context.Context, o *options, name string) (*cluster, error) {
	c := &cluster{o: o, name: name, dbName: fmt.Sprintf("chaos_%s_%d", name, time.Now().Unix())}
	conn, err := pgx.Connect(ctx, o.adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the drills' PostgreSQL: %w (start it with scripts/services.sh start chaos %d %d)", err, o.pgPort, o.redisPort)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+c.dbName); err != nil {
		return nil, err
	}
	c.dbURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", o.pgPort, c.dbName)
	c.env = []string{
		"DATABASE_URL=" + c.dbURL, "REDIS_URL=" + o.redisURL, "REDIS_PREFIX=chaos-" + c.dbName + ":",
		"SECRET_KEY=" + randomHex(32), "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json", "LOG_LEVEL=info",
		"RATE_LIMIT_IP_PER_MINUTE=1000000", "PATH=" + os.Getenv("PATH"),
	}
	if out, err := c.cli(ctx, "migrate"); err != nil {
		return nil, fmt.Errorf("migrate: %w: %s", err, out)
	}
	c.key, err = c.createKey(ctx, "chaos", "admin", 100_000)
	return c, err
}

func (c *cluster) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.o.bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.o.logDir // no stray .env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// createKey creates an API key with the CLI and returns it.
func (c *cluster) createKey(ctx context.Context, name, scopes string, perMinute int) (string, error) {
	out, err := c.cli(ctx, "keys", "create", "--name", name, "--scopes", scopes, "--rate-limit", strconv.Itoa(perMinute))
	if err != nil {
		return "", fmt.Errorf("create key: %w: %s", err, out)
	}
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "bmcp_") && len(f) > 40 {
			return f, nil
		}
	}
	return "", fmt.Errorf("no key in the output of keys create: %s", out)
}

// close stops the instances and drops the database.
func (c *cluster) close() {
	for _, in := range c.insts {
		in.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.o.adminURL); err == nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+c.dbName+" WITH (FORCE)")
		conn.Close(ctx)
	}
}

func (c *cluster) db(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.dbURL)
}

// instance is one running bizmcp serve.
type instance struct {
	name string
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	log  *os.File
}

// start runs `bizmcp serve` and waits until it listens.
func (c *cluster) start(ctx context.Context, name string, extraEnv ...string) (*instance, error) {
	logPath := filepath.Join(c.o.logDir, c.name+"-"+name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.o.bin, "serve")
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	cmd.Dir = c.o.logDir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	in := &instance{name: name, cmd: cmd, done: make(chan struct{}), log: f}
	c.insts = append(c.insts, in)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = f.Write(append(line, '\n'))
			var entry map[string]any
			if json.Unmarshal(line, &entry) == nil && entry["msg"] == "http server listening" {
				if a, ok := entry["addr"].(string); ok {
					select {
					case addrc <- a:
					default:
					}
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(in.done) }()
	select {
	case in.addr = <-addrc:
		return in, nil
	case <-in.done:
		return nil, fmt.Errorf("instance %s exited at start (log %s)", name, logPath)
	case <-time.After(60 * time.Second):
		in.stop()
		return nil, fmt.Errorf("instance %s did not start within 60s (log %s)", name, logPath)
	case <-ctx.Done():
		in.stop()
		return nil, ctx.Err()
	}
}

// kill is SIGKILL: no hand-back, no cleanup.
func (in *instance) kill() {
	_ = in.cmd.Process.Kill()
	<-in.done
}

// stop is SIGTERM, then SIGKILL after 30s.
func (in *instance) stop() {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(os.Interrupt)
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		in.kill()
	}
	_ = in.log.Close()
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

// client is the drills' HTTP client: short timeouts, so an outage shows as
// slow answers, never as a drill that hangs.
var client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a request and returns the status, body and latency; status 0
// is a transport error.
func call(ctx context.Context, method, url, key, body string) (int, []byte, time.Duration) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, 0
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), time.Since(t0)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, time.Since(t0)
}

// postJSON posts and decodes a 2xx answer.
func postJSON(ctx context.Context, in *instance, key, path, body string) (map[string]any, error) {
	code, raw, _ := call(ctx, http.MethodPost, in.url(path), key, body)
	if code < 200 || code >= 300 {
		return nil, fmt.Errorf("POST %s: %d %s", path, code, bytes.TrimSpace(raw))
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}

// metric reads one sample (summed over label sets) from /metrics.
func metric(ctx context.Context, in *instance, name string) (float64, error) {
	code, raw, _ := call(ctx, http.MethodGet, in.url("/metrics"), "", "")
	if code != http.StatusOK {
		return 0, fmt.Errorf("metrics: %d", code)
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest != "" && rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return 0, nil
	}
	return sum, nil
}

// procStats are a process's resource figures from /proc.
type procStats struct {
	rssKB   int
	fds     int
	sockets int
	// The TCP sockets by peer: connections clients opened to the instance,
	// and the instance's own connections to Redis (its pool and the event
	// bus's subscription). A leak shows in the first; the second is a pool
	// bounded by its configuration.
	inbound, redis int
}

func stats(in *instance, redisPort int) procStats {
	var s procStats
	pid := in.cmd.Process.Pid
	inodes := map[string]bool{}
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				f := strings.Fields(line)
				s.rssKB, _ = strconv.Atoi(f[1])
			}
		}
	}
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	s.fds = len(entries)
	for _, e := range entries {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && strings.HasPrefix(link, "socket:") {
			s.sockets++
			inodes[strings.Trim(strings.TrimPrefix(link, "socket:"), "[]")] = true
		}
	}
	_, listen, _ := net.SplitHostPort(in.addr)
	listenPort, _ := strconv.Atoi(listen)
	for _, table := range []string{"tcp", "tcp6"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] || f[3] == "0A" { // 0A: a listening socket
				continue
			}
			switch {
			case hexPort(f[2]) == redisPort:
				s.redis++
			case hexPort(f[1]) == listenPort:
				s.inbound++
			}
		}
	}
	return s
}

// hexPort is the port of a /proc/net/tcp address ("0100007F:1F90").
func hexPort(addr string) int {
	_, port, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(port, 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}

// runCmd runs a helper program (pg_ctl, redis-cli, services.sh).
func runCmd(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// pgCtl runs pg_ctl on the drills' cluster, as its owner when root.
func (o *options) pgCtl(ctx context.Context, args ...string) error {
	bin, err := pgBinDir()
	if err != nil {
		return err
	}
	full := append([]string{"-D", o.pgData}, args...)
	if os.Getuid() == 0 {
		return runCmd(ctx, "runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, "pg_ctl")}, full...)...)
	}
	return runCmd(ctx, filepath.Join(bin, "pg_ctl"), full...)
}

func pgBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pg_ctl not found")
}

// stopPostgres stops the drills' PostgreSQL (fast: open connections end).
func (o *options) stopPostgres(ctx context.Context) error {
	return o.pgCtl(ctx, "-m", "fast", "-w", "stop")
}

// startServices starts whichever of the drills' services is down.
func (o *options) startServices(ctx context.Context) error {
	return runCmd(ctx, o.services, "start", "chaos", strconv.Itoa(o.pgPort), strconv.Itoa(o.redisPort))
}

func (o *options) stopRedis(ctx context.Context) error {
	return runCmd(ctx, "redis-cli", "-p", strconv.Itoa(o.redisPort), "shutdown", "nosave")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// latencies collects durations for percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := append([]time.Duration{}, l.d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// counter counts outcomes by label.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) inc(k string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
	c.mu.Unlock()
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c.m[k]))
	}
	return strings.Join(parts, " ")
}

func statusLabel(code int) string {
	if code == 0 {
		return "transport-error"
	}
	return strconv.Itoa(code)
}
