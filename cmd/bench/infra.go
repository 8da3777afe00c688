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
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// env is what every bizmcp process of one run shares: the server binary,
// the PostgreSQL cluster (through an administrative URL), Redis, and a
// migrated template database that each measured server's database is
// cloned from, so every measurement starts from the same fresh state.
type env struct {
	o        *options
	secret   string
	template string
	mu       sync.Mutex
	clusters []*cluster
	procs    []*process
}

func newEnv(ctx context.Context, o *options) (*env, error) {
	e := &env{o: o, secret: randomHex(32)}
	e.template = fmt.Sprintf("bench_tpl_%d", os.Getpid())
	if err := e.exec(ctx, "CREATE DATABASE "+e.template); err != nil {
		return nil, fmt.Errorf("create the template database: %w (is PostgreSQL at %s running? make bench starts it)", err, redact(o.databaseURL))
	}
	progress(o, "migrating the template database %s", e.template)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if out, err := e.cli(tctx, e.dbURL(e.template), "migrate"); err != nil {
		_ = e.exec(context.Background(), "DROP DATABASE IF EXISTS "+e.template+" WITH (FORCE)")
		return nil, fmt.Errorf("migrate: %w: %s", err, out)
	}
	return e, nil
}

// close stops every process and drops every database this env created.
func (e *env) close() {
	e.mu.Lock()
	clusters, procs := e.clusters, e.procs
	e.clusters, e.procs = nil, nil
	e.mu.Unlock()
	for _, c := range clusters {
		c.close()
	}
	for _, p := range procs {
		p.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = e.exec(ctx, "DROP DATABASE IF EXISTS "+e.template+" WITH (FORCE)")
}

func (e *env) exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.o.databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// dbURL is the URL of database name on the bench's PostgreSQL.
func (e *env) dbURL(name string) string {
	u, _ := url.Parse(e.o.databaseURL)
	u.Path = "/" + name
	return u.String()
}

func (e *env) baseEnv(dbURL, prefix string) []string {
	return []string{
		"DATABASE_URL=" + dbURL, "REDIS_URL=" + e.o.redisURL, "REDIS_PREFIX=" + prefix,
		"SECRET_KEY=" + e.secret, "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=json", "LOG_LEVEL=" + e.o.logLevel,
		"RATE_LIMIT_IP_PER_MINUTE=1000000", "LOGIN_RATE_LIMIT_PER_MINUTE=10000",
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
	}
}

func (e *env) cli(ctx context.Context, dbURL string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.o.bin, args...)
	cmd.Env = e.baseEnv(dbURL, "bench-cli:")
	cmd.Dir = e.o.logDir // no stray .env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cluster is one measured bizmcp: its own database (a clone of the
// template), its own Redis prefix, an admin key, and its server processes.
type cluster struct {
	e      *env
	name   string
	dbName string
	dbURL  string
	key    string
	env    []string
	insts  []*process
}

// newCluster clones the template into a fresh database and creates an admin
// key whose limit no phase reaches.
func (e *env) newCluster(ctx context.Context, name string) (*cluster, error) {
	c := &cluster{e: e, name: name, dbName: fmt.Sprintf("bench_%s_%d_%s", name, os.Getpid(), randomHex(3))}
	if err := e.exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", c.dbName, e.template)); err != nil {
		return nil, fmt.Errorf("clone the template database: %w", err)
	}
	e.mu.Lock()
	e.clusters = append(e.clusters, c)
	e.mu.Unlock()
	c.dbURL = e.dbURL(c.dbName)
	c.env = e.baseEnv(c.dbURL, "bench-"+c.dbName+":")
	kctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := c.e.cli(kctx, c.dbURL, "keys", "create", "--name", "bench-admin", "--scopes", "read,write,admin", "--rate-limit", "100000")
	if err != nil {
		return nil, fmt.Errorf("create key: %w: %s", err, out)
	}
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "bmcp_") && len(f) > 40 {
			c.key = f
		}
	}
	if c.key == "" {
		return nil, fmt.Errorf("no key in the output of keys create: %s", out)
	}
	return c, nil
}

// close stops the cluster's servers and drops its database.
func (c *cluster) close() {
	for _, in := range c.insts {
		in.stop()
	}
	c.insts = nil
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.e.exec(ctx, "DROP DATABASE IF EXISTS "+c.dbName+" WITH (FORCE)")
}

func (c *cluster) db(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.dbURL)
}

// start runs `bizmcp serve` and waits until it listens.
func (c *cluster) start(ctx context.Context, extraEnv ...string) (*process, error) {
	cmd := exec.Command(c.e.o.bin, "serve")
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	cmd.Dir = c.e.o.logDir
	p, err := startProcess(ctx, c.e.o, c.name, cmd, func(line []byte) string {
		var entry map[string]any
		if json.Unmarshal(line, &entry) == nil && entry["msg"] == "http server listening" {
			a, _ := entry["addr"].(string)
			return a
		}
		return ""
	}, true)
	if err != nil {
		return nil, err
	}
	c.insts = append(c.insts, p)
	return p, nil
}

// process is one server the bench started: bizmcp, or a peer (this binary
// run with -serve-peer).
type process struct {
	name string
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	log  *os.File
	// stdin is held open: a peer exits when it closes, so a peer never
	// outlives the bench, even one killed with SIGKILL.
	stdin io.WriteCloser
}

// startProcess starts cmd, copies its stderr (and stdout) to a log file
// and waits until addrOf finds the listening address in a line.
func startProcess(ctx context.Context, o *options, name string, cmd *exec.Cmd, addrOf func([]byte) string, fromStderr bool) (*process, error) {
	logPath := filepath.Join(o.logDir, name+"-"+randomHex(3)+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	var pipe io.ReadCloser
	if fromStderr {
		pipe, err = cmd.StderrPipe()
		cmd.Stdout = f
	} else {
		pipe, err = cmd.StdoutPipe()
		cmd.Stderr = f
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	// Its own process group: a Ctrl-C in the terminal reaches the bench,
	// which then stops its servers in order.
	// Pdeathsig: should the bench itself be killed, its servers go too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), log: f, stdin: stdin}
	addrc := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = f.Write(append(line, '\n'))
			if a := addrOf(line); a != "" {
				select {
				case addrc <- a:
				default:
				}
			}
		}
	}()
	go func() { <-copied; _ = cmd.Wait(); close(p.done) }()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited at start: %s (log %s)", name, lastLine(logPath), logPath)
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not start within 60s (log %s)", name, logPath)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop is SIGTERM, then SIGKILL after 30s.
func (p *process) stop() {
	select {
	case <-p.done:
		_ = p.log.Close()
		return
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = p.log.Close()
}

func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *process) url(path string) string { return "http://" + p.addr + path }

// rssMB is the process's resident set size from /proc.
func (p *process) rssMB() float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// fdLimit is the process's soft limit of open files.
func (p *process) fdLimit() string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			f := strings.Fields(line)
			if len(f) >= 4 {
				return f[3]
			}
		}
	}
	return "?"
}

// cpuSeconds is the process's user+system CPU time so far.
func (p *process) cpuSeconds() float64 { return procCPU(p.cmd.Process.Pid, false) }

// httpClient is the bench's client for setup requests; the load generators
// have their own transports.
var httpClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a request and returns the status and body; status 0 is a
// transport error.
func call(ctx context.Context, method, url, key, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// postJSON posts and decodes a 2xx answer.
func postJSON(ctx context.Context, p *process, key, path, body string) (map[string]any, error) {
	return sendJSON(ctx, http.MethodPost, p, key, path, body)
}

func sendJSON(ctx context.Context, method string, p *process, key, path, body string) (map[string]any, error) {
	code, raw, err := call(ctx, method, p.url(path), key, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code < 200 || code >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, code, bytes.TrimSpace(raw))
	}
	var out map[string]any
	if len(raw) == 0 {
		return out, nil
	}
	return out, json.Unmarshal(raw, &out)
}

// createKeys creates n keys (each with the highest limit a key may have),
// one per load client: a key's limit is per key, as for real clients.
func (c *cluster) createKeys(ctx context.Context, in *process, n int, scopes string) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		out, err := postJSON(ctx, in, c.key, "/api/v1/admin/keys",
			fmt.Sprintf(`{"name":"bench-%d","scopes":%s,"rate_limit":100000}`, i, scopes))
		if err != nil {
			return nil, err
		}
		k, _ := out["key"].(string)
		if k == "" {
			return nil, errors.New("no key in the answer of POST /api/v1/admin/keys")
		}
		keys[i] = k
	}
	return keys, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redact drops a URL's password for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the configured URL"
	}
	return u.Redacted()
}

// waitFor polls cond every step until it holds or timeout passes; it
// returns whether it held. Used only where no signal exists to wait on
// (a database count), always with a deadline.
func waitFor(ctx context.Context, timeout, step time.Duration, cond func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return ok, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// lastLine is the last non-empty line of a log file, for error messages.
func lastLine(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return truncate([]byte(lines[len(lines)-1]), 300)
}
