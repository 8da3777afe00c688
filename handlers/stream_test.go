package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

const streamWait = 15 * time.Second

// executeAnalyzer runs a tool over REST and returns the execution id; the
// executor publishes tool.executed for it.
func executeAnalyzer(t *testing.T, srv *testkit.Server, key string) string {
	t.Helper()
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", key,
		strings.NewReader(`{"tool_name":"data_analyzer","parameters":{"rows":[{"v":1},{"v":2}]}}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var exec execJSON
	require.NoError(t, json.Unmarshal(b, &exec))
	return exec.ID
}

func toolRun(id string) func(events.Event) bool {
	return func(e events.Event) bool {
		var d struct {
			ID string `json:"id"`
		}
		return e.Type == events.ToolExecuted && json.Unmarshal(e.Data, &d) == nil && d.ID == id
	}
}

// injector is "another instance" on srv's Redis and prefix, which publishes
// whatever event a test needs (the orchestration events included).
func injector(t *testing.T, srv *testkit.Server) *events.Bus {
	t.Helper()
	opts, err := redis.ParseURL(srv.Env["REDIS_URL"])
	require.NoError(t, err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	b := events.NewBus(events.NewHub(), client, srv.Env["REDIS_PREFIX"], slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Start(context.Background())
	t.Cleanup(b.Stop)
	return b
}

func ev(t *testing.T, typ, taskID, agentID, keyID string, n int) events.Event {
	t.Helper()
	e, err := events.New(typ, map[string]int{"n": n})
	require.NoError(t, err)
	e.TaskID, e.AgentID, e.APIKeyID = taskID, agentID, keyID
	return e
}

func evN(t *testing.T, e events.Event) int {
	t.Helper()
	var d struct{ N int }
	require.NoError(t, json.Unmarshal(e.Data, &d), string(e.Data))
	return d.N
}

func keyID(t *testing.T, srv *testkit.Server, key string) string {
	t.Helper()
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/me", key, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var me struct {
		KeyID string `json:"key_id"`
	}
	require.NoError(t, json.Unmarshal(b, &me))
	return me.KeyID
}

var gaugeRE = regexp.MustCompile(`(?m)^bizmcp_websocket_clients (\S+)$`)

// wsClients reads the bizmcp_websocket_clients gauge; t may be an
// EventuallyWithT's *assert.CollectT.
func wsClients(t require.TestingT, srv *testkit.Server) int {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	resp, b := srv.Do(t, http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := gaugeRE.FindSubmatch(b)
	require.NotNil(t, m, "bizmcp_websocket_clients not exported")
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return int(v)
}

func TestStreamAuthentication(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	writeKey := testkit.CreateKey(t, srv.Env, "writer", "write")

	conn, resp, body := testkit.DialWS(t, srv, "/api/v1/stream", "")
	require.Nil(t, conn)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.Contains(t, problem(t, resp, body).Detail, "API key")

	conn, resp, body = testkit.DialWS(t, srv, "/api/v1/stream", "bz_not-a-key")
	require.Nil(t, conn)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))

	conn, resp, body = testkit.DialWS(t, srv, "/api/v1/stream", writeKey)
	require.Nil(t, conn)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
	require.Contains(t, problem(t, resp, body).Detail, `"read" scope`)

	conn, resp, _ = testkit.DialWS(t, srv, "/api/v1/stream", readKey)
	require.NotNil(t, conn)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"), "middleware headers reach the 101")
	require.NotEmpty(t, resp.Header.Get("RateLimit-Limit"))

	conn, _, body = testkit.DialWS(t, srv, "/api/v1/stream", "", "X-API-Key", srv.AdminKey)
	require.NotNil(t, conn, string(body))
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, 2, wsClients(c, srv)) }, streamWait, 20*time.Millisecond)
	require.NoError(t, conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second)))
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, 1, wsClients(c, srv)) }, streamWait, 20*time.Millisecond, "gauge follows disconnects")
}

func TestStreamRefusesBadRequests(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	for _, tc := range []struct {
		path, key string
		headers   []string
		status    int
		want      string
	}{
		{"/api/v1/stream?task_id=42", srv.AdminKey, nil, 400, `task_id "42" is not a UUID`},
		{"/api/v1/stream?agent_id=x%27%3B--", srv.AdminKey, nil, 400, "agent_id"},
		{"/api/v1/stream?agent_id=" + uuid.NewString() + "&agent_id=" + uuid.NewString(), srv.AdminKey, nil, 400, "once"},
		{"/api/v1/stream?type=task.exploded", srv.AdminKey, nil, 400, "tool.executed, task.created"},
		{"/api/v1/stream?type=task.created,bogus", srv.AdminKey, nil, 400, `"bogus"`},
		{"/api/v1/stream?type=message.sent", readKey, nil, 403, "admin scope"},
		{"/api/v1/stream", srv.AdminKey, []string{"Origin", "https://evil.example"}, 403, "cross-origin"},
		{"/api/v1/stream", srv.AdminKey, []string{"Origin", "null"}, 403, "cross-origin"},
	} {
		conn, resp, body := testkit.DialWS(t, srv, tc.path, tc.key, tc.headers...)
		require.Nil(t, conn, tc.path)
		require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.path, body)
		require.Contains(t, problem(t, resp, body).Detail, tc.want, tc.path)
	}

	// A plain GET is told what the endpoint is.
	resp, body := srv.Do(t, http.MethodGet, "/api/v1/stream", srv.AdminKey, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, problem(t, resp, body).Detail, "WebSocket")

	// A handshake gorilla refuses is answered with a problem document too,
	// not gorilla's plain text.
	ws := []string{"Connection", "Upgrade", "Upgrade", "websocket"}
	for _, tc := range []struct {
		headers []string
		want    string
	}{
		{[]string{"Sec-WebSocket-Version", "8", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, "unsupported version"},
		{[]string{"Sec-WebSocket-Version", "13"}, "Sec-WebSocket-Key"},
		{[]string{"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "not base64 at all"}, "Sec-WebSocket-Key"},
	} {
		resp, body := srv.Do(t, http.MethodGet, "/api/v1/stream", srv.AdminKey, nil, append(ws, tc.headers...)...)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%v: %s", tc.headers, body)
		detail := problem(t, resp, body).Detail
		require.Contains(t, detail, "the WebSocket handshake was refused", "%v", tc.headers)
		require.Contains(t, detail, tc.want, "%v", tc.headers)
	}

	// The server's own origin is fine (a page it serves).
	testkit.OpenStream(t, srv, "/api/v1/stream", srv.AdminKey, "Origin", srv.URL)
}

func TestStreamDeliversToolRuns(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	all := testkit.OpenStream(t, srv, "/api/v1/stream", srv.AdminKey)
	tasksOnly := testkit.OpenStream(t, srv, "/api/v1/stream?type=task.completed", srv.AdminKey)

	id := executeAnalyzer(t, srv, srv.AdminKey)
	e := all.Next(t, streamWait)
	require.True(t, toolRun(id)(e), "%s %s", e.Type, e.Data)
	require.WithinDuration(t, time.Now(), e.At, time.Minute)
	var exec execJSON
	require.NoError(t, json.Unmarshal(e.Data, &exec))
	require.Equal(t, "completed", exec.Status)
	require.Equal(t, "rest", exec.Source)
	require.Contains(t, string(exec.Result), `"mean":1.5`)

	// The filtered stream skipped it: the first thing it gets is the
	// task.completed published after it.
	inj := injector(t, srv)
	testkit.WaitEventSubscribers(t, srv, 2)
	inj.Publish(ev(t, events.TaskCompleted, uuid.NewString(), "", "", 1))
	got := tasksOnly.Next(t, streamWait)
	require.Equal(t, events.TaskCompleted, got.Type)
	require.Equal(t, 1, evN(t, got))
	require.Equal(t, events.TaskCompleted, all.Next(t, streamWait).Type)
	all.None(t, 200*time.Millisecond)
}

func TestStreamFilters(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	task, agent := uuid.NewString(), uuid.NewString()
	byTask := testkit.OpenStream(t, srv, "/api/v1/stream?task_id="+strings.ToUpper(task), srv.AdminKey)
	byAgent := testkit.OpenStream(t, srv, "/api/v1/stream?agent_id="+agent, srv.AdminKey)
	byTypes := testkit.OpenStream(t, srv, "/api/v1/stream?type=task.failed,agent.status&type=task.cancelled", srv.AdminKey)
	both := testkit.OpenStream(t, srv, "/api/v1/stream?task_id="+task+"&agent_id="+agent+"&type=task.progress", srv.AdminKey)

	inj := injector(t, srv)
	testkit.WaitEventSubscribers(t, srv, 2)
	other := uuid.NewString()
	for i, e := range []events.Event{
		ev(t, events.TaskCreated, other, other, "", 0),
		ev(t, events.TaskProgress, task, "", "", 1),
		ev(t, events.AgentStatus, "", agent, "", 2),
		ev(t, events.TaskProgress, task, agent, "", 3),
		ev(t, events.TaskFailed, other, "", "", 4),
		ev(t, events.TaskCancelled, task, agent, "", 5),
		ev(t, events.ToolExecuted, "", "", "", 6),
	} {
		require.Equal(t, i, evN(t, e))
		inj.Publish(e)
	}
	want := map[*testkit.EventStream][]int{
		byTask:  {1, 3, 5},
		byAgent: {2, 3, 5},
		byTypes: {2, 4, 5},
		both:    {3},
	}
	for s, ns := range want {
		for _, w := range ns {
			require.Equal(t, w, evN(t, s.Next(t, streamWait)))
		}
	}
	for s := range want {
		s.None(t, 100*time.Millisecond)
	}
}

// TestStreamVisibility: a key without the admin scope sees task and agent
// events and its own tool runs, never another key's tool runs or agent
// messages (as in GET /api/v1/tools/executions).
func TestStreamVisibility(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	mine, admins := keyID(t, srv, readKey), keyID(t, srv, srv.AdminKey)
	reader := testkit.OpenStream(t, srv, "/api/v1/stream", readKey)
	admin := testkit.OpenStream(t, srv, "/api/v1/stream", srv.AdminKey)

	executeAnalyzer(t, srv, srv.AdminKey) // a real run by another key
	inj := injector(t, srv)
	testkit.WaitEventSubscribers(t, srv, 2)
	for i, e := range []events.Event{
		ev(t, events.ToolExecuted, "", "", admins, 0),
		ev(t, events.MessageSent, "", uuid.NewString(), "", 1),
		ev(t, events.ToolExecuted, "", "", "", 2), // an agent's run: no key
		ev(t, events.ToolExecuted, "", "", mine, 3),
		ev(t, events.TaskCreated, uuid.NewString(), "", admins, 4),
		ev(t, events.AgentStatus, "", uuid.NewString(), "", 5),
		ev(t, "future.thing", "", "", "", 6),
	} {
		require.Equal(t, i, evN(t, e))
		inj.Publish(e)
	}
	require.Equal(t, events.ToolExecuted, admin.Next(t, streamWait).Type, "the real run")
	for i := range 7 {
		require.Equal(t, i, evN(t, admin.Next(t, streamWait)))
	}
	for _, w := range []int{3, 4, 5} {
		require.Equal(t, w, evN(t, reader.Next(t, streamWait)))
	}
	reader.None(t, 200*time.Millisecond)
}

// TestStreamAcrossInstances: a client of instance B sees the tool run made
// on instance A, and A's own client sees it once.
func TestStreamAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	onA := testkit.OpenStream(t, a, "/api/v1/stream?type=tool.executed", a.AdminKey)
	onB := testkit.OpenStream(t, b, "/api/v1/stream?type=tool.executed", b.AdminKey)
	testkit.WaitEventSubscribers(t, a, 2)

	id := executeAnalyzer(t, a, a.AdminKey)
	require.True(t, toolRun(id)(onB.Next(t, streamWait)))
	require.True(t, toolRun(id)(onA.Next(t, streamWait)))
	id = executeAnalyzer(t, b, b.AdminKey)
	require.True(t, toolRun(id)(onA.Next(t, streamWait)))
	require.True(t, toolRun(id)(onB.Next(t, streamWait)))
	onA.None(t, 200*time.Millisecond)
	onB.None(t, 0)
}

// TestStreamTaskLifecycleAcrossInstances: a client of instance B, with a
// read-only key, follows a task posted on instance A from creation to
// completion, whichever instance runs it.
func TestStreamTaskLifecycleAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	readKey := testkit.CreateKey(t, a.Env, "watcher", "read")
	onB := testkit.OpenStream(t, b, "/api/v1/stream?type=task.created,task.assigned,task.completed,task.failed", readKey)
	testkit.WaitEventSubscribers(t, a, 2)

	id := postTask(t, a, financeTask)
	ofTask := func(typ string) func(events.Event) bool {
		return func(e events.Event) bool { return e.Type == typ && e.TaskID == id }
	}
	created := onB.Await(t, streamWait, ofTask(events.TaskCreated))
	var task taskJSON
	require.NoError(t, json.Unmarshal(created.Data, &task))
	require.Equal(t, id, task.ID)
	assigned := onB.Await(t, 60*time.Second, ofTask(events.TaskAssigned))
	require.NotEmpty(t, assigned.AgentID, "assignment names the agent")
	done := onB.Await(t, 60*time.Second, func(e events.Event) bool {
		return e.TaskID == id && (e.Type == events.TaskCompleted || e.Type == events.TaskFailed)
	})
	require.Equal(t, events.TaskCompleted, done.Type, string(done.Data))
	require.NoError(t, json.Unmarshal(done.Data, &task))
	require.Equal(t, "completed", task.Status)
	require.Equal(t, 100, task.Progress)
}

// socketCapacity bounds the bytes a connection to a client that does not
// read can absorb before the server's writes block: the largest send buffer
// plus the default receive buffer (which does not grow while nothing is
// read).
func socketCapacity(t *testing.T) int {
	t.Helper()
	field := func(path string, i int) int {
		b, err := os.ReadFile(path)
		if err != nil {
			return 8 << 20 // not Linux: a generous guess
		}
		f := strings.Fields(string(b))
		v, err := strconv.Atoi(f[i])
		require.NoError(t, err)
		return v
	}
	return field("/proc/sys/net/ipv4/tcp_wmem", 2) + field("/proc/sys/net/ipv4/tcp_rmem", 1)
}

// TestStreamDropsSlowClients: a client that falls a buffer behind is told
// to reconnect with 1013, a client that stops reading altogether is cut
// off when a write has waited 10s, and a client that keeps up gets every
// event in order all the while.
func TestStreamDropsSlowClients(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	stalled, _, body := testkit.DialWS(t, srv, "/api/v1/stream", srv.AdminKey)
	require.NotNil(t, stalled, string(body))
	late, _, body := testkit.DialWS(t, srv, "/api/v1/stream", srv.AdminKey)
	require.NotNil(t, late, string(body))
	fast := testkit.OpenStream(t, srv, "/api/v1/stream", srv.AdminKey)
	inj := injector(t, srv)
	testkit.WaitEventSubscribers(t, srv, 2)
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, 3, wsClients(c, srv)) }, streamWait, 20*time.Millisecond)

	// Enough 1 KiB events to fill the sockets of the clients that do not
	// read and then the 128 of the stream buffer, with room to spare. Small
	// events make the last stretch (from the server's first blocked write
	// to the drop) quick, well within the 10s write timeout.
	payload := strings.Repeat("x", 1<<10)
	total := socketCapacity(t)/(1<<10) + 128 + 1000
	// Batches well under the stream buffer, so that the fast client is
	// never a buffer behind even on a loaded machine.
	const batch = 64
	for i := 0; i < total; i += batch {
		for j := i; j < min(i+batch, total); j++ {
			e, err := events.New(events.TaskProgress, map[string]any{"n": j, "pad": payload})
			require.NoError(t, err)
			inj.Publish(e)
		}
		for j := i; j < min(i+batch, total); j++ {
			require.Equal(t, j, evN(t, fast.Next(t, streamWait)), "the fast client gets every event in order")
		}
	}

	// The late client now reads: what its socket held, then the close.
	lateStream := testkit.ReadEvents(late)
	ce := lateStream.Closed(t, streamWait)
	require.NotNil(t, ce, "a close frame")
	require.Equal(t, websocket.CloseTryAgainLater, ce.Code)
	require.Equal(t, "too slow: reconnect and re-sync", ce.Text)
	got := 0
	for {
		if _, ok := lateStream.Poll(0); !ok {
			break
		}
		got++
	}
	require.Less(t, got, total)

	// The stalled client is cut off when a write has waited 10s.
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, 1, wsClients(c, srv)) }, 30*time.Second, 50*time.Millisecond)
	require.Contains(t, srv.Logs(), "i/o timeout")

	// The fast client is still served.
	inj.Publish(ev(t, events.TaskCompleted, "", "", "", -1))
	require.Equal(t, -1, evN(t, fast.Next(t, streamWait)))
}

// TestStreamSurvivesRedisOutage: with Redis stopped, each instance's
// streams still get that instance's events; once Redis is back, events
// cross between instances again without any restart.
func TestStreamSurvivesRedisOutage(t *testing.T) {
	t.Parallel()
	rp := testkit.StartRedisProcess(t)
	a := testkit.StartServer(t, testkit.WithEnv("REDIS_URL", rp.URL))
	b := a.StartInstance(t)
	onA := testkit.OpenStream(t, a, "/api/v1/stream?type=tool.executed", a.AdminKey)
	onB := testkit.OpenStream(t, b, "/api/v1/stream?type=tool.executed", b.AdminKey)
	testkit.WaitEventSubscribers(t, a, 2)
	id := executeAnalyzer(t, a, a.AdminKey)
	require.True(t, toolRun(id)(onB.Next(t, streamWait)))
	require.True(t, toolRun(id)(onA.Next(t, streamWait)))

	rp.Stop()
	id = executeAnalyzer(t, a, a.AdminKey)
	require.True(t, toolRun(id)(onA.Next(t, streamWait)), "in process without Redis")
	onB.None(t, 500*time.Millisecond)

	rp.Start()
	// Pub/sub has no history: B never gets the run made during the
	// outage, but gets the next ones once both instances are back on.
	deadline := time.Now().Add(30 * time.Second)
	for {
		id := executeAnalyzer(t, a, a.AdminKey)
		onA.Await(t, streamWait, toolRun(id))
		if e, ok := onB.Poll(500 * time.Millisecond); ok {
			require.Equal(t, events.ToolExecuted, e.Type)
			break
		}
		require.True(t, time.Now().Before(deadline), "events did not cross between instances within 30s of Redis's return")
	}
	id = executeAnalyzer(t, b, b.AdminKey)
	onA.Await(t, streamWait, toolRun(id))
	require.Contains(t, a.Logs(), "Redis does not take events")
	require.Contains(t, a.Logs(), "events reach the other instances again through Redis")
}

func TestStreamEndsWhenKeyExpires(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	key := testkit.CreateKey(t, srv.Env, "short-lived", "read", "--expires-in", "4s")
	s := testkit.OpenStream(t, srv, "/api/v1/stream", key)
	ce := s.Closed(t, streamWait)
	require.NotNil(t, ce)
	require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
	require.Equal(t, "API key expired", ce.Text)
}

func TestStreamClosesOnShutdown(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	s := testkit.OpenStream(t, srv, "/api/v1/stream", srv.AdminKey)
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, 1, wsClients(c, srv)) }, streamWait, 20*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- srv.Stop() }()
	ce := s.Closed(t, streamWait)
	require.NotNil(t, ce)
	require.Equal(t, websocket.CloseGoingAway, ce.Code)
	require.NoError(t, <-done)
}
