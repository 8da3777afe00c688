package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Fan-out surfaces.
const (
	surfaceStream = "/api/v1/stream"
	surfaceLive   = "/ws"
)

// fanoutRun is what one surface at one client count measured.
type fanoutRun struct {
	surface   string
	clients   int
	connected int
	connect   time.Duration
	// lat is from the PATCH that changed the agent to each client's
	// receipt; fromAt (stream only) from the event's own time stamp.
	lat, fromAt []time.Duration
	missed      int
	events      int
	rssIdle     float64
	rssConn     float64
	rssPeak     float64
	rssAfter    float64
	fdLimit     string
	err         string
}

// fanClient is one WebSocket client; it records when each event reached it.
type fanClient struct {
	conn    *websocket.Conn
	lastSeq int64
	done    chan struct{}
}

// fanState is what the clients share: the current event's number and when
// it was triggered, and how many clients have it.
type fanState struct {
	seq      atomic.Int64
	t0       atomic.Int64 // unix nanoseconds of the PATCH
	got      atomic.Int64
	all      chan struct{} // closed when every client has the current event
	allOnce  *sync.Once
	clients  int64
	mu       sync.Mutex
	lat      []time.Duration
	fromAt   []time.Duration
	messages atomic.Int64
	lastMsg  atomic.Int64
}

func (s *fanState) arm(seq int64) {
	s.mu.Lock()
	s.all = make(chan struct{})
	s.allOnce = &sync.Once{}
	s.mu.Unlock()
	s.got.Store(0)
	s.t0.Store(time.Now().UnixNano())
	s.seq.Store(seq)
}

func (s *fanState) receive(c *fanClient, raw []byte, surface string) {
	now := time.Now()
	s.messages.Add(1)
	s.lastMsg.Store(now.UnixNano())
	seq := s.seq.Load()
	if seq == 0 || seq <= c.lastSeq {
		return
	}
	var at time.Time
	if surface == surfaceStream {
		var e struct {
			Type string    `json:"type"`
			At   time.Time `json:"at"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Type != "agent.status" {
			return
		}
		at = e.At
	}
	c.lastSeq = seq
	d := now.Sub(time.Unix(0, s.t0.Load()))
	s.mu.Lock()
	s.lat = append(s.lat, d)
	if !at.IsZero() {
		s.fromAt = append(s.fromAt, now.Sub(at))
	}
	all, once := s.all, s.allOnce
	s.mu.Unlock()
	if s.got.Add(1) == s.clients {
		once.Do(func() { close(all) })
	}
}

// phaseFanout: one event (an agent paused or resumed) to many WebSocket
// clients, on the API's event stream and on the dashboard's live channel;
// latency to each client and the server's memory.
func phaseFanout(ctx context.Context, e *env, r *report) error {
	o := e.o
	var runs []fanoutRun
	for _, n := range o.fanoutClients {
		for _, surface := range []string{surfaceStream, surfaceLive} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			run := fanout(ctx, e, surface, n)
			runs = append(runs, run)
			progress(o, "fanout %s, %d clients: %d connected in %s; p50 %s p99 %s from the change (missed %d); RSS idle %.0f MB, connected %.0f, peak %.0f, after %.0f%s",
				surface, n, run.connected, run.connect.Round(time.Millisecond), ms(pct(run.lat, 0.5)), ms(pct(run.lat, 0.99)), run.missed,
				run.rssIdle, run.rssConn, run.rssPeak, run.rssAfter, prefixed(" error: ", run.err))
		}
	}

	var body strings.Builder
	body.WriteString("One fresh bizmcp process per row. The clients connect (64 handshakes at a time), then the bench changes one agent ")
	fmt.Fprintf(&body, "(`PATCH /api/v1/admin/agents/{id}`, paused and active in turn) %d times, one at a time: each change is one `agent.status` event, ", o.fanoutEvents)
	body.WriteString("and the bench waits until every client has it (or 10 s) before the next. *From the change* is from the moment the PATCH is sent ")
	body.WriteString("to the moment the client reads the message (the PATCH's own work included); *from publish* is from the event's `at` time stamp ")
	body.WriteString("(stream only: the dashboard receives rendered HTML). The API stream's clients use an admin key and `?type=agent.status`; ")
	body.WriteString("the dashboard's clients share one session (signed in through `POST /login` as a browser does, `Origin` the server's own) ")
	body.WriteString("and show `/ws?page=agents`. The clients run in the bench's process on the same two cores as the server, so the ")
	body.WriteString("latencies include their own scheduling. RSS is the server's `VmRSS`: idle (before any client), connected, the peak ")
	body.WriteString("sampled every 50 ms while the events go out and during a burst of 50 changes sent back to back, and 5 s after the clients left.\n\n")
	body.WriteString("| surface | clients | connected (time) | p50 from the change | p99 | p50 from publish | p99 | missed | RSS idle | connected | peak | after | server fd limit |\n")
	body.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var p99Stream, p99Live lineSeries
	var after []string
	p99Stream.name, p99Live.name = "/api/v1/stream p99", "/ws p99"
	for _, run := range runs {
		fromAtP50, fromAtP99 := "–", "–"
		if len(run.fromAt) > 0 {
			fromAtP50, fromAtP99 = ms(pct(run.fromAt, 0.5)), ms(pct(run.fromAt, 0.99))
		}
		fmt.Fprintf(&body, "| `%s` | %s | %s (%s) | %s | %s | %s | %s | %d | %.0f MB | %.0f MB | %.0f MB | %.0f MB | %s |\n",
			run.surface, num(float64(run.clients)), num(float64(run.connected)), run.connect.Round(time.Millisecond),
			ms(pct(run.lat, 0.5)), ms(pct(run.lat, 0.99)), fromAtP50, fromAtP99, run.missed,
			run.rssIdle, run.rssConn, run.rssPeak, run.rssAfter, run.fdLimit)
		if run.err != "" {
			after = append(after, fmt.Sprintf("`%s`, %d clients: %s.", run.surface, run.clients, run.err))
		}
		what := fmt.Sprintf("one event to %s `%s` clients", num(float64(run.clients)), run.surface)
		fig := fmt.Sprintf("p50 %s, p99 %s from the change; RSS %.0f MB idle, %.0f MB connected, %.0f MB peak, %.0f MB after",
			ms(pct(run.lat, 0.5)), ms(pct(run.lat, 0.99)), run.rssIdle, run.rssConn, run.rssPeak, run.rssAfter)
		if run.missed > 0 || run.connected < run.clients {
			fig += fmt.Sprintf(" (%d of %d connected, %d receipts missed)", run.connected, run.clients, run.missed)
		}
		r.row("fanout", what, fig, "", "")
		pt := [2]float64{float64(run.clients), float64(pct(run.lat, 0.99)) / 1e6}
		if run.surface == surfaceStream {
			p99Stream.points = append(p99Stream.points, pt)
		} else {
			p99Live.points = append(p99Live.points, pt)
		}
	}
	body.WriteString("\n")
	for _, a := range after {
		fmt.Fprintf(&body, "%s\n\n", a)
	}
	body.WriteString(r.chart("fanout-p99", lineChart("One event to many WebSocket clients: p99 from the change", "clients", "milliseconds (lower is better)",
		[]lineSeries{p99Stream, p99Live})))
	body.WriteString("\n")
	var rss []bar
	for _, run := range runs {
		label := fmt.Sprintf("%s, %s clients", run.surface, num(float64(run.clients)))
		rss = append(rss, bar{label: label + ": connected", value: run.rssConn, text: fmt.Sprintf("%.0f MB", run.rssConn), ours: true},
			bar{label: label + ": peak", value: run.rssPeak, text: fmt.Sprintf("%.0f MB", run.rssPeak), ours: true},
			bar{label: label + ": after", value: run.rssAfter, text: fmt.Sprintf("%.0f MB", run.rssAfter), ours: true})
	}
	body.WriteString(r.chart("fanout-rss", barChart("Server memory (RSS) with many WebSocket clients", "MB", rss)))
	r.add("fanout", "Fan-out: one event to many WebSocket clients", body.String())
	return nil
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// fanout measures one surface at one client count on a fresh server.
func fanout(ctx context.Context, e *env, surface string, n int) fanoutRun {
	run := fanoutRun{surface: surface, clients: n}
	c, err := e.newCluster(ctx, "fanout")
	if err != nil {
		run.err = err.Error()
		return run
	}
	defer c.close()
	in, err := c.start(ctx)
	if err != nil {
		run.err = err.Error()
		return run
	}
	run.fdLimit = in.fdLimit()
	if lim, err := strconv.Atoi(run.fdLimit); err == nil && lim < n+256 {
		progress(e.o, "fanout: the server may open only %d files, fewer than %d clients need: raise the hard limit (ulimit -Hn) and run again", lim, n)
	}
	agentID, err := firstAgent(ctx, in, c.key, "finance")
	if err != nil {
		run.err = err.Error()
		return run
	}
	dialURL := "ws://" + in.addr + surface
	header := http.Header{}
	origin := "http://" + in.addr
	if surface == surfaceStream {
		dialURL += "?type=agent.status"
		header.Set("Authorization", "Bearer "+c.key)
	} else {
		dialURL += "?page=agents"
		cookie, err := signIn(ctx, in, c.key)
		if err != nil {
			run.err = err.Error()
			return run
		}
		header.Set("Cookie", cookie)
		header.Set("Origin", origin)
	}
	rest := 5 * time.Second
	if e.o.short {
		rest = time.Second
	}
	settle(ctx, rest/2)
	run.rssIdle = in.rssMB()

	st := &fanState{clients: int64(n)}
	clients := make([]*fanClient, 0, n)
	var mu sync.Mutex
	defer func() {
		for _, fc := range clients {
			_ = fc.conn.Close()
		}
		for _, fc := range clients {
			<-fc.done
		}
	}()
	t0 := time.Now()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var dialErr atomic.Value
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	for range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			conn, resp, err := dialer.DialContext(dctx, dialURL, header)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			if err != nil {
				status := ""
				if resp != nil {
					status = fmt.Sprintf(" (%d)", resp.StatusCode)
				}
				dialErr.CompareAndSwap(nil, err.Error()+status)
				return
			}
			fc := &fanClient{conn: conn, done: make(chan struct{})}
			go func() {
				defer close(fc.done)
				for {
					_, raw, err := conn.ReadMessage()
					if err != nil {
						return
					}
					st.receive(fc, raw, surface)
				}
			}()
			mu.Lock()
			clients = append(clients, fc)
			mu.Unlock()
		}()
	}
	wg.Wait()
	run.connect = time.Since(t0)
	run.connected = len(clients)
	if v := dialErr.Load(); v != nil {
		run.err = fmt.Sprintf("%d of %d clients could not connect; first error: %s", n-len(clients), n, v)
	}
	st.clients = int64(len(clients))
	if len(clients) == 0 {
		return run
	}
	// The dashboard sends each page a snapshot on connect: let it pass.
	quiet(ctx, st, 500*time.Millisecond, 30*time.Second)
	run.rssConn = in.rssMB()

	peak := sampleRSS(in)
	status := []string{"paused", "active"}
	for i := range e.o.fanoutEvents {
		if ctx.Err() != nil {
			break
		}
		st.arm(int64(i + 1))
		st.mu.Lock()
		all := st.all
		st.mu.Unlock()
		if _, err := sendJSON(ctx, http.MethodPatch, in, c.key, "/api/v1/admin/agents/"+agentID, fmt.Sprintf(`{"status":%q}`, status[i%2])); err != nil {
			run.err = err.Error()
			break
		}
		run.events++
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
		run.missed += int(st.clients - st.got.Load())
		settle(ctx, 100*time.Millisecond)
	}
	// A burst: changes back to back, for the memory peak.
	st.seq.Store(0)
	for i := range 50 {
		if ctx.Err() != nil {
			break
		}
		_, _ = sendJSON(ctx, http.MethodPatch, in, c.key, "/api/v1/admin/agents/"+agentID, fmt.Sprintf(`{"status":%q}`, status[i%2]))
	}
	quiet(ctx, st, 500*time.Millisecond, 30*time.Second)
	run.rssPeak = peak()
	st.mu.Lock()
	run.lat, run.fromAt = st.lat, st.fromAt
	st.mu.Unlock()

	for _, fc := range clients {
		_ = fc.conn.Close()
	}
	for _, fc := range clients {
		<-fc.done
	}
	clients = nil
	settle(ctx, rest)
	run.rssAfter = in.rssMB()
	return run
}

// sampleRSS samples the process's RSS every 50 ms until the returned
// function is called, which returns the peak.
func sampleRSS(p *process) func() float64 {
	stop := make(chan struct{})
	done := make(chan float64)
	go func() {
		peak := p.rssMB()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				done <- max(peak, p.rssMB())
				return
			case <-t.C:
				peak = max(peak, p.rssMB())
			}
		}
	}()
	return func() float64 { close(stop); return <-done }
}

// quiet waits until no client has received a message for gap, at most
// limit.
func quiet(ctx context.Context, st *fanState, gap, limit time.Duration) {
	deadline := time.Now().Add(limit)
	st.lastMsg.Store(time.Now().UnixNano())
	for time.Now().Before(deadline) && ctx.Err() == nil {
		since := time.Since(time.Unix(0, st.lastMsg.Load()))
		if since >= gap {
			return
		}
		settle(ctx, gap-since)
	}
}

// settle waits d (or until ctx ends): used only to let a server reach a
// resting state before a memory reading.
func settle(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// firstAgent returns the id of an agent of type typ.
func firstAgent(ctx context.Context, in *process, key, typ string) (string, error) {
	code, raw, err := call(ctx, http.MethodGet, in.url("/api/v1/admin/agents?type="+typ), key, "")
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("GET /api/v1/admin/agents: %d %s", code, truncate(raw, 200))
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &page); err != nil || len(page.Items) == 0 {
		return "", fmt.Errorf("no %s agent in GET /api/v1/admin/agents: %s", typ, truncate(raw, 200))
	}
	return page.Items[0].ID, nil
}

// signIn signs in to the dashboard as a browser does and returns the
// session cookie as a Cookie header value.
func signIn(ctx context.Context, in *process, key string) (string, error) {
	form := url.Values{"api_key": {key}, "next": {"/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url("/login"), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+in.addr)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	for _, ck := range resp.Cookies() {
		if strings.HasSuffix(ck.Name, "bizmcp_session") && ck.Value != "" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("POST /login gave no session cookie: %d %s", resp.StatusCode, truncate(buf.Bytes(), 200))
}
