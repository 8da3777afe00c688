package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Protocol revisions the load generator speaks.
const (
	protoStateful  = "2025-11-25"
	protoStateless = "2026-07-28"
)

// mcpTarget is one server and the tool the load calls on it.
type mcpTarget struct {
	server string // "bizmcp", or a peer kind
	proto  string
	url    string
	tool   string
	// keys are the bearer keys, one per client (peers ignore them, but get
	// the header too, so the client's work is the same for every server).
	keys []string
}

func (t mcpTarget) label() string {
	return fmt.Sprintf("%s %s %s", t.server, t.proto, t.tool)
}

// loadResult is one timed run of the load against one target.
type loadResult struct {
	calls    int
	allCalls int // warm-up included: what the server answered
	errors   int
	limited  int // of the errors, calls refused with 429
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.calls) / r.elapsed.Seconds()
}

// callArgs are the arguments of every call: five points of a series.
const callArgs = `{"series":[12,15,14,18,21],"horizon":2}`

// mcpClient is one client of the load: a hand-rolled JSON-RPC-over-HTTP
// client that does exactly what a Streamable HTTP client must do and no
// more, so its cost is the same for every server.
type mcpClient struct {
	t   mcpTarget
	hc  *http.Client
	key string
	// keyAt is where this client starts in t.keys: a 2026-07-28 client
	// sends each call with the next key (every request is authenticated on
	// its own), so no key's limit, at most 100,000 a minute, caps the
	// load; a 2025-11-25 session stays with the key that opened it.
	keyAt   int
	session string
	id      int
	body    bytes.Buffer
}

func (c *mcpClient) post(ctx context.Context, body []byte, method, name string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["Accept"] = []string{"application/json, text/event-stream"}
	h["Authorization"] = []string{"Bearer " + c.key}
	if c.t.proto == protoStateless {
		h["Mcp-Protocol-Version"] = []string{protoStateless}
		h["Mcp-Method"] = []string{method}
		if name != "" {
			h["Mcp-Name"] = []string{name}
		}
	} else if c.session != "" || method != "initialize" {
		h["Mcp-Protocol-Version"] = []string{protoStateful}
		if c.session != "" {
			h["Mcp-Session-Id"] = []string{c.session}
		}
	}
	return c.hc.Do(req)
}

// open starts a 2025-11-25 session (initialize, then the initialized
// notification); a 2026-07-28 client has nothing to open.
func (c *mcpClient) open(ctx context.Context) error {
	if c.t.proto == protoStateless {
		return nil
	}
	body := []byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + protoStateful +
		`","capabilities":{},"clientInfo":{"name":"bizmcp-bench","version":"1.0.0"}}}`)
	resp, err := c.post(ctx, body, "initialize", "")
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"result"`)) {
		return fmt.Errorf("initialize: %d %s", resp.StatusCode, truncate(raw, 300))
	}
	c.session = resp.Header.Get("Mcp-Session-Id")
	resp, err = c.post(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), "notifications/initialized", "")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notifications/initialized: %d", resp.StatusCode)
	}
	return nil
}

// close ends a 2025-11-25 session, so servers do not accumulate them.
func (c *mcpClient) close(ctx context.Context) {
	if c.session == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.t.url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Mcp-Session-Id", c.session)
	req.Header.Set("Mcp-Protocol-Version", protoStateful)
	if resp, err := c.hc.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// callTool sends one tools/call and reads the whole answer (a JSON body, or
// an SSE stream that ends after the response).
func (c *mcpClient) callTool(ctx context.Context) error {
	c.id++
	c.body.Reset()
	c.body.WriteString(`{"jsonrpc":"2.0","id":`)
	c.body.WriteString(strconv.Itoa(c.id))
	c.body.WriteString(`,"method":"tools/call","params":{"name":"`)
	c.body.WriteString(c.t.tool)
	c.body.WriteString(`","arguments":`)
	c.body.WriteString(callArgs)
	if c.t.proto == protoStateless {
		c.body.WriteString(`,"_meta":{"io.modelcontextprotocol/protocolVersion":"` + protoStateless +
			`","io.modelcontextprotocol/clientInfo":{"name":"bizmcp-bench","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}`)
	}
	c.body.WriteString(`}}`)
	if c.t.proto == protoStateless {
		c.key = c.t.keys[(c.keyAt+c.id)%len(c.t.keys)]
	}
	resp, err := c.post(ctx, c.body.Bytes(), "tools/call", c.t.tool)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return errRateLimited
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"result"`)) || bytes.Contains(raw, []byte(`"isError":true`)) {
		return fmt.Errorf("tools/call: %d %s", resp.StatusCode, truncate(raw, 300))
	}
	return nil
}

// runLoad runs clients closed-loop clients against t: each opens its
// session, calls for warm (not measured) and then for dur (measured), and
// closes its session. Every call has the timeout of its context.
func runLoad(ctx context.Context, t mcpTarget, clients int, warm, dur time.Duration) loadResult {
	tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	ready := make(chan struct{})
	var readyWG sync.WaitGroup
	var start time.Time
	for i := range clients {
		wg.Add(1)
		readyWG.Add(1)
		go func() {
			defer wg.Done()
			c := &mcpClient{t: t, hc: hc, key: t.keys[i%len(t.keys)], keyAt: i}
			err := c.open(ctx)
			readyWG.Done()
			<-ready
			defer c.close(context.WithoutCancel(ctx))
			var lat []time.Duration
			calls, all, errs, limited := 0, 0, 0, 0
			var first string
			if err != nil {
				errs, first = 1, err.Error()
			} else {
				measureFrom, end := start.Add(warm), start.Add(warm+dur)
				for ctx.Err() == nil {
					t0 := time.Now()
					if !t0.Before(end) {
						break
					}
					err := c.callTool(ctx)
					d := time.Since(t0)
					all++
					if t0.Before(measureFrom) {
						continue
					}
					if err != nil {
						errs++
						if errors.Is(err, errRateLimited) {
							limited++
						}
						if first == "" {
							first = err.Error()
						}
						continue
					}
					calls++
					lat = append(lat, d)
				}
			}
			mu.Lock()
			res.calls += calls
			res.allCalls += all
			res.errors += errs
			res.limited += limited
			res.lat = append(res.lat, lat...)
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	readyWG.Wait()
	start = time.Now()
	close(ready)
	wg.Wait()
	res.elapsed = dur
	return res
}

// errRateLimited is a call the server refused with 429.
var errRateLimited = errors.New("tools/call: 429: refused by the key's rate limit")

func truncate(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
