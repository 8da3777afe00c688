package api

import (
	"github.com/bizmcp/bizmcp/handlers/web"

	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
)

// Event stream settings. The buffer absorbs bursts (a task's progress
// steps, a burst of task creations); a client further behind than that is
// dropped rather than allowed to hold events in memory or slow the
// publishers. It queues pointers to messages every client shares, so 128
// slots cost a client 1 KiB.
const (
	streamBuffer = 128
	// streamWriteWait bounds each write: a client whose socket does not
	// take a message in that time is gone or hopelessly slow.
	streamWriteWait = 10 * time.Second
	// streamPongWait is how long a client may stay silent; the pings every
	// streamPingEvery make a live client answer well within it.
	streamPongWait  = 60 * time.Second
	streamPingEvery = 30 * time.Second
	// streamReauthEvery is how often a stream re-verifies its key, so a
	// revoked key's streams end within that time.
	streamReauthEvery = time.Minute
	// streamCloseGrace is how long to wait for the client's answer to our
	// close frame before dropping the connection.
	streamCloseGrace = time.Second
	// streamReadLimit: clients have nothing to send but control frames.
	streamReadLimit = 4 << 10
	// streamReadBuffer is the connection's read buffer: enough for any
	// control frame (at most 125 bytes of payload), which is all a client
	// has to send, instead of gorilla's 4 KiB per idle connection.
	streamReadBuffer = 256
)

// Close reasons sent to stream clients (at most 123 bytes each).
const (
	closeTooSlow      = "too slow: reconnect and re-sync"
	closeShutdown     = "server shutting down: reconnect"
	closeKeyExpired   = "API key expired"
	closeKeyNotValid  = "API key revoked or no longer valid"
	streamProtocolMsg = "GET /api/v1/stream is a WebSocket: connect with a WebSocket client (Connection: Upgrade, Upgrade: websocket)"
)

// stream serves GET /api/v1/stream: the live events as a WebSocket of JSON
// text messages, one event each ({"type", "at", "task_id", "agent_id",
// "api_key_id", "data"}). Optional filters: task_id, agent_id, and type
// (repeated or comma-separated). Keys without the admin scope see task and
// agent events and their own tool runs only. A client that falls more than
// streamBuffer events behind is disconnected with close code 1013 and must
// reconnect and re-read what it needs over REST: events are live, not a log.
func (h *Handler) stream(c echo.Context) error {
	p, ok := web.PrincipalOf(c)
	if !ok {
		return apperr.E(apperr.Unauthorized, "an API key is required")
	}
	req := c.Request()
	filter, err := parseStreamFilter(c.QueryParams(), p)
	if err != nil {
		return err
	}
	if origin := req.Header.Get("Origin"); origin != "" && !h.mw.TrustedOrigin(origin, req.Host) {
		return apperr.E(apperr.Forbidden, "cross-origin WebSocket from %q refused; set PUBLIC_URL to this server's address if it is served behind a proxy", apperr.Truncate(origin, 100))
	}
	if !websocket.IsWebSocketUpgrade(req) {
		return apperr.E(apperr.Invalid, streamProtocolMsg)
	}
	if h.deps.Events == nil {
		return apperr.E(apperr.Unavailable, "live events are not enabled on this server")
	}

	// Subscribing before the upgrade loses nothing published during the
	// handshake. Streams with the same filter share one group in the hub.
	sub := h.deps.Events.Feed(filter.key(), streamBuffer, filter.match)
	// gorilla answers a refused handshake (a wrong Sec-WebSocket-Version, a
	// missing Sec-WebSocket-Key) in plain text unless told otherwise: its
	// refusal is kept here and returned, so the error handler answers with
	// a problem document like every other API error.
	var refused error
	upgrader := websocket.Upgrader{
		HandshakeTimeout: streamWriteWait,
		ReadBufferSize:   streamReadBuffer,
		// Every event goes out as a prepared frame and control frames
		// bring their own buffer, so the connection keeps no write buffer.
		WriteBufferPool: noWriteBuffer{},
		// Checked above with a problem document; this is the backstop.
		CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return o == "" || h.mw.TrustedOrigin(o, r.Host)
		},
		Error: func(_ http.ResponseWriter, _ *http.Request, status int, reason error) {
			refused = handshakeError(status, reason)
		},
	}
	conn, err := upgrader.Upgrade(c.Response(), req, passHeaders(c.Response().Header()))
	if err != nil {
		sub.Close()
		h.mw.Logger().DebugContext(req.Context(), "event stream upgrade failed", "err", err)
		// Without a refusal the connection was already taken over (a
		// failed write of the 101): there is no one left to answer.
		return refused
	}
	// The response went out on the hijacked connection; record it as what
	// the client saw for the access log and metrics.
	c.Response().Status = http.StatusSwitchingProtocols

	h.deps.Metrics.WebSocketClients.Inc()
	presented, _ := web.PresentedKey(req)
	st := &eventStream{
		conn: conn, sub: sub, principal: p, presented: presented,
		keys: h.deps.Keys, stopping: h.deps.Stopping,
	}
	// The connection is served from a goroutine of its own and the
	// request's goroutine ends here: its stack grew through the middleware,
	// the key check and the upgrade to tens of KiB, and parked for the
	// stream's whole life it would be most of what an idle client costs.
	// The request's context ends with its goroutine; its values (the
	// request id for the log) stay.
	ctx := context.WithoutCancel(req.Context())
	logger := h.mw.Logger()
	go func() {
		defer h.deps.Metrics.WebSocketClients.Dec()
		reason := st.run(ctx)
		logger.InfoContext(ctx, "event stream closed", "key_prefix", p.Prefix,
			"reason", reason, "task_id", filter.taskID, "agent_id", filter.agentID, "types", strings.Join(filter.types, ","))
	}()
	return nil
}

// handshakeError is the API error for a WebSocket handshake gorilla
// refused with status.
func handshakeError(status int, reason error) error {
	why := strings.TrimPrefix(reason.Error(), "websocket: ")
	switch status {
	case http.StatusBadRequest:
		return apperr.E(apperr.Invalid, "the WebSocket handshake was refused: %s; connect with a WebSocket client (RFC 6455, version 13)", why)
	case http.StatusForbidden:
		return apperr.E(apperr.Forbidden, "the WebSocket handshake was refused: %s", why)
	case http.StatusMethodNotAllowed:
		return echo.NewHTTPError(status)
	}
	return apperr.Wrap(reason, apperr.Internal, "the WebSocket handshake failed")
}

// passHeaders returns the headers set by the middleware (request id, rate
// limit) for the 101 response, which the upgrader writes itself.
func passHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{web.HeaderRequestID, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if v := h.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

// streamFilter selects the events one stream receives. It runs under the
// hub's lock for every event and group of streams, so it only compares
// strings.
type streamFilter struct {
	taskID, agentID string
	types           []string
	// admin sees every event; other keys see task and agent events and the
	// tool runs of their own key, as in GET /api/v1/tools/executions.
	admin bool
	keyID string
}

// streamGroup is a streamFilter as a comparable key: the streams whose
// filters select the same events share it, and with it one group in the
// hub.
type streamGroup struct {
	taskID, agentID string
	// types is the sorted list, comma-separated.
	types string
	admin bool
	// keyID matters only to a stream without the admin scope.
	keyID string
}

func (f streamFilter) key() streamGroup {
	types := slices.Clone(f.types)
	slices.Sort(types)
	k := streamGroup{taskID: f.taskID, agentID: f.agentID, types: strings.Join(types, ","), admin: f.admin}
	if !f.admin {
		k.keyID = f.keyID
	}
	return k
}

func (f streamFilter) match(e events.Event) bool {
	if f.taskID != "" && e.TaskID != f.taskID {
		return false
	}
	if f.agentID != "" && e.AgentID != f.agentID {
		return false
	}
	if len(f.types) > 0 && !slices.Contains(f.types, e.Type) {
		return false
	}
	return f.admin || visibleToNonAdmin(e, f.keyID)
}

// visibleToNonAdmin is an allow list, so that a new event type stays
// admin-only until someone decides who may see it.
func visibleToNonAdmin(e events.Event, keyID string) bool {
	switch e.Type {
	case events.TaskCreated, events.TaskAssigned, events.TaskProgress, events.TaskCompleted,
		events.TaskFailed, events.TaskCancelled, events.AgentStatus:
		return true
	case events.ToolExecuted:
		return e.APIKeyID != "" && e.APIKeyID == keyID
	}
	return false
}

// parseStreamFilter validates the query before the upgrade, so that a
// mistake is a 400 the client can read rather than a closed socket.
func parseStreamFilter(q url.Values, p auth.Principal) (streamFilter, error) {
	f := streamFilter{admin: auth.HasScope(p.Scopes, auth.ScopeAdmin), keyID: p.KeyID.String()}
	for _, param := range []struct {
		name string
		dst  *string
	}{{"task_id", &f.taskID}, {"agent_id", &f.agentID}} {
		vals := q[param.name]
		if len(vals) == 0 {
			continue
		}
		if len(vals) > 1 {
			return f, apperr.E(apperr.Invalid, "%s may be given once", param.name)
		}
		id, err := uuid.Parse(strings.TrimSpace(vals[0]))
		if err != nil {
			return f, apperr.E(apperr.Invalid, "%s %q is not a UUID", param.name, apperr.Truncate(vals[0], 100))
		}
		*param.dst = id.String()
	}
	known := events.Types()
	for _, v := range q["type"] {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !slices.Contains(known, t) {
				return f, apperr.E(apperr.Invalid, "type %q is not one of %s", apperr.Truncate(t, 100), strings.Join(known, ", "))
			}
			if !f.admin && t == events.MessageSent {
				return f, apperr.E(apperr.Forbidden, "%s events need a key with the admin scope, as agent messages do", t)
			}
			if !slices.Contains(f.types, t) {
				f.types = append(f.types, t)
			}
		}
	}
	return f, nil
}

// eventStream is one connected client.
type eventStream struct {
	conn      *websocket.Conn
	sub       *events.Feed
	principal auth.Principal
	presented string
	keys      KeyService
	stopping  <-chan struct{}
}

// run writes events until the stream ends and returns why it ended. The
// handler goroutine is the only writer; a second goroutine reads, which is
// what processes pongs and the client's close frame (gorilla handles
// control frames inside reads).
func (st *eventStream) run(ctx context.Context) string {
	conn := st.conn
	readDone := make(chan struct{})
	defer func() {
		st.sub.Close()
		_ = conn.Close()
		<-readDone
	}()
	conn.SetReadLimit(streamReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(streamPongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(streamPongWait))
	})
	go func() {
		defer close(readDone)
		for {
			// Messages from the client carry nothing; they are discarded.
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()

	ping := time.NewTicker(streamPingEvery)
	defer ping.Stop()
	reauth := time.NewTicker(streamReauthEvery)
	defer reauth.Stop()
	var expired <-chan time.Time
	if exp := st.principal.ExpiresAt; exp != nil {
		t := time.NewTimer(time.Until(*exp))
		defer t.Stop()
		expired = t.C
	}

	for {
		select {
		case m, ok := <-st.sub.C:
			// Once dropped, what is still buffered is not worth sending:
			// the client must re-sync anyway, and the sooner it knows the
			// better.
			if st.sub.Dropped() {
				st.close(readDone, websocket.CloseTryAgainLater, closeTooSlow)
				return "too slow"
			}
			if !ok {
				st.close(readDone, websocket.CloseGoingAway, closeShutdown)
				return "subscription closed"
			}
			// The frame is built once, by the first stream to get the
			// message, and written as is by every other.
			pm, err := m.Prepared(prepareFrame)
			if err != nil {
				continue // not produced by events.New; nothing a client could use
			}
			_ = conn.SetWriteDeadline(time.Now().Add(streamWriteWait))
			if err := conn.WritePreparedMessage(pm.(*websocket.PreparedMessage)); err != nil {
				return "write failed: " + err.Error()
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(streamWriteWait)); err != nil {
				return "ping failed: " + err.Error()
			}
		case <-readDone:
			// The client closed (the read loop already answered its close
			// frame), went away, or stopped answering pings.
			return "client gone"
		case <-st.stopping:
			st.close(readDone, websocket.CloseGoingAway, closeShutdown)
			return "server shutting down"
		case <-expired:
			st.close(readDone, websocket.ClosePolicyViolation, closeKeyExpired)
			return "key expired"
		case <-reauth.C:
			if !onOwnStack(func() bool { return st.keyStillValid(ctx) }) {
				st.close(readDone, websocket.ClosePolicyViolation, closeKeyNotValid)
				return "key no longer valid"
			}
		}
	}
}

// prepareFrame makes an event's JSON into the WebSocket text frame every
// stream writes.
func prepareFrame(b []byte) (any, error) {
	return websocket.NewPreparedMessage(websocket.TextMessage, b)
}

// noWriteBuffer is a write buffer pool that keeps nothing: should a
// message ever be written other than as a prepared frame, gorilla makes a
// buffer for it and lets it go afterwards, instead of holding 4 KiB on
// every idle connection.
type noWriteBuffer struct{}

func (noWriteBuffer) Get() any { return nil }
func (noWriteBuffer) Put(any)  {}

// onOwnStack runs f on a goroutine of its own and returns its answer. f
// goes deep (database, Redis); on the connection's goroutine, the stack it
// grew would stay with the connection until garbage collections shrink it.
func onOwnStack(f func() bool) bool {
	c := make(chan bool, 1)
	go func() { c <- f() }()
	return <-c
}

// keyStillValid re-verifies the key. Only a definite refusal (revoked,
// deactivated) ends the stream: a database or Redis outage, or the key's
// rate limit, is no reason to cut a working stream.
func (st *eventStream) keyStillValid(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _, err := st.keys.Verify(ctx, st.presented)
	return !apperr.Is(err, apperr.Unauthorized)
}

// close sends a close frame and waits briefly for the client's answer, so
// that both sides see a clean close with our code and reason.
func (st *eventStream) close(readDone <-chan struct{}, code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	if err := st.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(streamWriteWait)); err != nil {
		return
	}
	select {
	case <-readDone:
	case <-time.After(streamCloseGrace):
	}
}
