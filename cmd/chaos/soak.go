package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stream follows /api/v1/stream on one instance and remembers when each
// task's task.created event arrived.
type stream struct {
	conn *websocket.Conn
	mu   sync.Mutex
	seen map[string]time.Time
	done chan struct{}
}

func openStream(ctx context.Context, in *instance, key, query string) (*stream, error) {
	h := http.Header{"Authorization": {"Bearer " + key}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.DialContext(ctx, "ws://"+in.addr+"/api/v1/stream"+query, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	s := &stream{conn: conn, seen: map[string]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var e struct {
				Type   string `json:"type"`
				TaskID string `json:"task_id"`
			}
			if json.Unmarshal(raw, &e) == nil && e.TaskID != "" {
				s.mu.Lock()
				if _, ok := s.seen[e.TaskID]; !ok {
					s.seen[e.TaskID] = time.Now()
				}
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

func (s *stream) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[id]
	return ok
}

func (s *stream) close() {
	_ = s.conn.Close()
	<-s.done
}

// crossed posts a task on from and reports whether its event reached the
// stream (on the other instance) within wait.
func crossed(ctx context.Context, from *instance, key string, s *stream, wait time.Duration) (bool, error) {
	out, err := postJSON(ctx, from, key, "/api/v1/resources/tasks", `{"title":"Crossing","domain":"sales","input_data":{"series":[1,2,3,4],"horizon":1}}`)
	if err != nil {
		return false, err
	}
	id, _ := out["task_id"].(string)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if s.has(id) {
			return true, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false, nil
}

// load is the drills' mixed client load.
type load struct {
	c        *cluster
	insts    []*instance
	key      string
	byStatus counter
	byKind   counter
	lat      latencies
	failed   atomic.Int64
	lastErr  atomic.Value
	mcpShare float64
	wsShare  float64
}

// one runs a single random operation and records its outcome; a failure is
// a transport error or a 5xx (a 429 would be a limit, and the load's key has
// none a drill reaches).
func (l *load) one(ctx context.Context) {
	in := l.insts[rand.IntN(len(l.insts))]
	x := rand.Float64()
	var code int
	var d time.Duration
	var kind string
	var body []byte
	switch {
	case x < l.mcpShare:
		kind = "mcp"
		t0 := time.Now()
		err := mcpCall(ctx, in, l.key)
		d = time.Since(t0)
		code = http.StatusOK
		if err != nil {
			code, body = 0, []byte(err.Error())
		}
	case x < l.mcpShare+l.wsShare:
		kind = "ws"
		t0 := time.Now()
		s, err := openStream(ctx, in, l.key, "?type=task.created")
		d = time.Since(t0)
		code = http.StatusSwitchingProtocols
		if err != nil {
			code, body = 0, []byte(err.Error())
		} else {
			time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
			s.close()
		}
	default:
		y := rand.IntN(10)
		switch {
		case y < 3:
			kind = "rest-me"
			code, body, d = call(ctx, http.MethodGet, in.url("/api/v1/me"), l.key, "")
		case y < 5:
			kind = "rest-list"
			code, body, d = call(ctx, http.MethodGet, in.url("/api/v1/resources/tasks?limit=20"), l.key, "")
		case y < 8:
			kind = "rest-tool"
			code, body, d = call(ctx, http.MethodPost, in.url("/api/v1/tools/execute"), l.key,
				`{"tool_name":"sales_forecaster","parameters":{"series":[10,12,14,13,16,18],"horizon":2}}`)
		default:
			kind = "rest-task"
			p := planInputs[rand.IntN(len(planInputs))]
			code, body, d = call(ctx, http.MethodPost, in.url("/api/v1/resources/tasks"), l.key,
				fmt.Sprintf(`{"title":"Soak","domain":%q,"input_data":%s}`, p.domain, p.input))
		}
	}
	if ctx.Err() != nil {
		return
	}
	l.byStatus.inc(statusLabel(code))
	l.byKind.inc(kind)
	l.lat.add(d)
	if code == 0 || code >= 500 {
		l.failed.Add(1)
		l.lastErr.Store(fmt.Sprintf("%s on %s: %d %s", kind, in.name, code, strings.TrimSpace(string(body))))
	}
}

// run keeps rate operations per second going until ctx ends or pause is
// set.
func (l *load) run(ctx context.Context, rate int, paused *atomic.Bool) {
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	sem := make(chan struct{}, 64)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		if paused != nil && paused.Load() {
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // the server is slower than the rate: do not pile up
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			l.one(ctx)
		}()
	}
}

// mcpCall opens an MCP session, lists and calls a tool, and closes it.
func mcpCall(ctx context.Context, in *instance, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl := mcp.NewClient(&mcp.Implementation{Name: "bizmcp-chaos", Version: "1.0.0"}, nil)
	hc := &http.Client{Transport: bearer{key: key, base: client.Transport}}
	session, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: in.url("/mcp"), HTTPClient: hc}, nil)
	if err != nil {
		return err
	}
	defer session.Close()
	if _, err := session.ListTools(ctx, nil); err != nil {
		return err
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "sales_forecaster", Arguments: map[string]any{"series": []float64{3, 4, 5, 7, 8}, "horizon": 2}})
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("tool error")
	}
	return nil
}

type bearer struct {
	key  string
	base http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.base.RoundTrip(r)
}

// drillRedis: Redis is stopped under load. No request may fail, rate limits
// must fall back to the in-process limiter (still limiting), and events
// between the instances must resume on their own once Redis is back.
func drillRedis(ctx context.Context, o *options, r *report) error {
	c, err := newCluster(ctx, o, "redis")
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
	limited, err := c.createKey(ctx, "limited", "read", 60)
	if err != nil {
		return err
	}
	s, err := openStream(ctx, b, c.key, "?type=task.created")
	if err != nil {
		return err
	}
	defer s.close()
	ok, err := crossed(ctx, a, c.key, s, 5*time.Second)
	if err != nil {
		return err
	}
	r.check(ok, "before: an event on instance a reaches a stream on instance b")

	l := &load{c: c, insts: []*instance{a, b}, key: c.key, mcpShare: 0.1, wsShare: 0.1}
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.run(lctx, 50, nil) }()
	time.Sleep(2 * time.Second)
	before := l.lat.n()
	if err := o.stopRedis(ctx); err != nil {
		stopLoad()
		<-loadDone
		return err
	}
	down := time.Now()
	r.figure("Redis stopped", "for %s, under %d operations/s (80%% REST, 10%% MCP sessions, 10%% WebSocket streams)", o.redisDown, 50)

	// Limits still hold while Redis is down: in process.
	time.Sleep(min(5*time.Second, o.redisDown/3))
	var got counter
	for range 100 {
		code, _, _ := call(ctx, http.MethodGet, a.url("/api/v1/me"), limited, "")
		got.inc(statusLabel(code))
	}
	r.figure("a 60/min key sending 100 requests during the outage", "%s", got.String())
	r.check(got.get("429") > 0 && got.get("200") > 0, "the limit falls back to the in-process limiter and still limits")
	fallback, _ := metric(ctx, a, "bizmcp_rate_limit_local_fallback_total")
	r.figure("bizmcp_rate_limit_local_fallback_total (a)", "%.0f", fallback)
	r.check(fallback > 0, "the fallback is counted")
	_, health, _ := call(ctx, http.MethodGet, a.url("/api/v1/health"), "", "")
	r.check(strings.Contains(string(health), "degraded"), "health says degraded while Redis is down")

	if rest := o.redisDown - time.Since(down); rest > 0 {
		time.Sleep(rest)
	}
	if err := o.startServices(ctx); err != nil {
		stopLoad()
		<-loadDone
		return err
	}
	up := time.Now()
	during := l.lat.n() - before
	resumed := time.Duration(-1)
	for time.Since(up) < 60*time.Second {
		ok, err := crossed(ctx, a, c.key, s, time.Second)
		if err != nil {
			stopLoad()
			<-loadDone
			return err
		}
		if ok {
			resumed = time.Since(up)
			break
		}
	}
	time.Sleep(2 * time.Second)
	stopLoad()
	<-loadDone
	r.figure("requests during the drill (by status)", "%s", l.byStatus.String())
	r.figure("requests while Redis was down", "%d", during)
	r.figure("latency p50 / p99 (whole drill)", "%s / %s", l.lat.pct(0.5).Round(time.Millisecond), l.lat.pct(0.99).Round(time.Millisecond))
	if e, ok := l.lastErr.Load().(string); ok {
		r.figure("last failure", "%s", e)
	}
	r.check(l.failed.Load() == 0, "no failed request (%d transport errors or 5xx)", l.failed.Load())
	if resumed >= 0 {
		r.figure("Redis back -> events between instances again", "%.1f s", resumed.Seconds())
	}
	r.check(resumed >= 0, "events between instances resume without a restart")
	_, health, _ = call(ctx, http.MethodGet, a.url("/api/v1/health"), "", "")
	r.check(!strings.Contains(string(health), "degraded"), "health is no longer degraded")
	return nil
}

// sample is one reading of an instance's resources.
type sample struct {
	procStats
	goroutines float64
}

func (c *cluster) sampleAll(ctx context.Context, insts []*instance) ([]sample, int, error) {
	out := make([]sample, len(insts))
	for i, in := range insts {
		g, err := metric(ctx, in, "go_goroutines")
		if err != nil {
			return nil, 0, err
		}
		out[i] = sample{procStats: stats(in, c.o.redisPort), goroutines: g}
	}
	conn, err := c.db(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close(context.Background())
	var pg int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&pg)
	return out, pg, err
}

// quiet pauses the load, closes the client's idle connections and lets the
// servers settle, so two readings compare like with like.
func quiet(paused *atomic.Bool, settle time.Duration) {
	paused.Store(true)
	time.Sleep(settle)
	client.CloseIdleConnections()
	time.Sleep(time.Second)
}

// drillSoak: mixed REST, MCP and WebSocket load on two instances for the
// soak's length; RSS, goroutines, open sockets and database connections
// must be flat at the end (compared with the reading after warm-up, both
// taken with the load paused).
func drillSoak(ctx context.Context, o *options, r *report) error {
	c, err := newCluster(ctx, o, "soak")
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
	insts := []*instance{a, b}
	l := &load{c: c, insts: insts, key: c.key, mcpShare: 0.2, wsShare: 0.1}
	var paused atomic.Bool
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.run(lctx, o.soakRate, &paused) }()
	defer func() { stopLoad(); <-loadDone }()

	warm := max(10*time.Second, o.soak/10)
	time.Sleep(warm)
	quiet(&paused, 3*time.Second)
	base, basePG, err := c.sampleAll(ctx, insts)
	if err != nil {
		return err
	}
	paused.Store(false)
	t0 := time.Now()
	r.figure("load", "%d operations/s over two instances: 70%% REST, 20%% MCP sessions, 10%% WebSocket streams", o.soakRate)
	for _, in := range insts {
		i := indexOf(insts, in)
		r.figure("after warm-up ("+in.name+")", "RSS %.1f MB, %0.f goroutines, %d fds, %d sockets (%d from clients, %d to Redis)", float64(base[i].rssKB)/1024, base[i].goroutines, base[i].fds, base[i].sockets, base[i].inbound, base[i].redis)
	}
	r.figure("after warm-up: database connections", "%d", basePG)
	step := max(10*time.Second, o.soak/6)
	for time.Since(t0) < o.soak {
		wait := min(step, o.soak-time.Since(t0))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		for _, in := range insts {
			select {
			case <-in.done:
				return fmt.Errorf("instance %s exited during the soak, %s in (its log says why; a signal from outside the drill ends it cleanly)", in.name, time.Since(t0).Round(time.Second))
			default:
			}
		}
		now, pg, err := c.sampleAll(ctx, insts)
		if err == nil {
			r.figure(fmt.Sprintf("at %s (under load)", time.Since(t0).Round(time.Second)), "a: %.1f MB %0.f gr %d sock; b: %.1f MB %0.f gr %d sock; db %d",
				float64(now[0].rssKB)/1024, now[0].goroutines, now[0].sockets, float64(now[1].rssKB)/1024, now[1].goroutines, now[1].sockets, pg)
		}
	}
	quiet(&paused, 5*time.Second)
	end, endPG, err := c.sampleAll(ctx, insts)
	if err != nil {
		return err
	}
	r.figure("operations", "%d (%s)", l.lat.n(), l.byKind.String())
	r.figure("answers", "%s", l.byStatus.String())
	r.figure("latency p50 / p99", "%s / %s", l.lat.pct(0.5).Round(time.Millisecond), l.lat.pct(0.99).Round(time.Millisecond))
	if e, ok := l.lastErr.Load().(string); ok {
		r.figure("last failure", "%s", e)
	}
	r.check(l.failed.Load() == 0, "no failed operation (%d)", l.failed.Load())
	for i, in := range insts {
		bs, es := base[i], end[i]
		r.figure("end ("+in.name+")", "RSS %.1f MB (%+.1f), %0.f goroutines (%+0.f), %d fds (%+d), %d sockets (%+d): %d from clients (%+d), %d to Redis (%+d)",
			float64(es.rssKB)/1024, float64(es.rssKB-bs.rssKB)/1024, es.goroutines, es.goroutines-bs.goroutines, es.fds, es.fds-bs.fds, es.sockets, es.sockets-bs.sockets,
			es.inbound, es.inbound-bs.inbound, es.redis, es.redis-bs.redis)
		r.check(es.goroutines <= bs.goroutines*1.2+20, "%s: goroutines flat (%0.f -> %0.f)", in.name, bs.goroutines, es.goroutines)
		r.check(es.inbound <= bs.inbound+10, "%s: client connections flat (%d -> %d)", in.name, bs.inbound, es.inbound)
		// The Redis pool keeps at most its idle cap once the load pauses
		// (see newRedisClient), plus the event bus's subscription.
		r.check(es.redis <= redisIdleCap+2, "%s: Redis connections within the pool's idle cap (%d -> %d, cap %d + the bus)", in.name, bs.redis, es.redis, redisIdleCap)
		r.check(es.rssKB <= bs.rssKB*3/2+20*1024, "%s: RSS flat (%.1f -> %.1f MB)", in.name, float64(bs.rssKB)/1024, float64(es.rssKB)/1024)
	}
	r.figure("end: database connections", "%d (%+d)", endPG, endPG-basePG)
	r.check(endPG <= basePG+6, "database connections flat (%d -> %d)", basePG, endPG)
	return nil
}

// redisIdleCap is bizmcp's Redis pool idle cap (internal/cli newRedisClient).
const redisIdleCap = 8

func indexOf(insts []*instance, in *instance) int {
	for i, x := range insts {
		if x == in {
			return i
		}
	}
	return -1
}
