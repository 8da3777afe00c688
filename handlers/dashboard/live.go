package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/views"
)

// The live channel's pages: what a connection's "page" parameter may name.
const (
	livePageKeys  = "keys"
	livePageTasks = "tasks"
	livePageTask  = "task"
	// livePageAgents is every page that shows agent cards (the list, an
	// agent's page, the overview): each card changes in place by its id.
	livePageAgents = "agents"
	// livePageOverview shows agent cards and the most recent tasks.
	livePageOverview = "overview"
	// livePageMessages is the messages list (type and agent filter, cursor).
	livePageMessages = "messages"
)

// Live channel settings.
const (
	// liveBuffer is how many fragments may wait for one connection; a page
	// further behind than that is closed (1013) and, reconnecting, gets a
	// fresh snapshot: cheaper than holding a slow browser's backlog.
	liveBuffer = 64
	// liveReadBuffer is a connection's read buffer: pages send nothing but
	// control frames (at most 125 bytes of payload), so gorilla's 4 KiB on
	// every open page would be waste.
	liveReadBuffer = 256
	// liveHubBuffer is the dashboard's one subscription to the event hub.
	liveHubBuffer    = 4096
	liveWriteWait    = 10 * time.Second
	livePongWait     = 60 * time.Second
	livePingEvery    = 25 * time.Second
	liveReauthEvery  = 30 * time.Second
	liveReadLimit    = 4 << 10
	liveCloseGrace   = time.Second
	liveRetryDelay   = time.Second
	closeSessionOver = 4401 // app-defined: the page reloads and lands on sign-in
)

// liveTopic is what one page shows, parsed from its /ws URL.
type liveTopic struct {
	page string
	// cursor is the list page shown ("" for the first, the only one new
	// items are added to).
	cursor string
	// state is the key list's filter.
	state string
	// tasks is the task list's filter, and taskFilter its view.
	tasks     orchestrator.Filter
	taskQuery views.TaskFilter
	// taskID is the task of a task page.
	taskID uuid.UUID
	// agentType and agentStatus are the agent list's filter.
	agentType, agentStatus string
	// messages is the messages list's filter.
	messages orchestrator.MessageFilter
}

func parseLiveTopic(q url.Values) (liveTopic, error) {
	t := liveTopic{page: q.Get("page"), state: q.Get("state"), cursor: q.Get("cursor"), agentType: q.Get("type"), agentStatus: q.Get("status")}
	var err error
	switch t.page {
	case livePageKeys:
		if t.state != "" && !slices.Contains(auth.States(), t.state) {
			return t, apperr.E(apperr.Invalid, "state %q is not a key state", apperr.Truncate(t.state, 32))
		}
	case livePageTasks:
		t.taskQuery, t.tasks, err = parseTaskFilter(q)
	case livePageAgents:
		if t.agentType != "" && !slices.Contains(agents.Types(), t.agentType) || t.agentStatus != "" && !slices.Contains(agents.Statuses(), t.agentStatus) {
			err = apperr.E(apperr.Invalid, "the agent filter is not valid")
		}
	case livePageOverview:
	case livePageMessages:
		_, t.messages, err = parseMessageFilter(q)
	case livePageTask:
		if t.taskID, err = uuid.Parse(q.Get("id")); err != nil {
			err = apperr.E(apperr.Invalid, "id %q is not a task id", apperr.Truncate(q.Get("id"), 40))
		}
	default:
		err = apperr.E(apperr.Invalid, "page %q has no live view; use one of %s, %s, %s", apperr.Truncate(t.page, 32), livePageKeys, livePageTasks, livePageTask)
	}
	return t, err
}

// showsNewTask reports whether a new task belongs at the top of a task list
// page with this topic.
func (t liveTopic) showsNewTask(task orchestrator.Task) bool {
	f := t.tasks
	return t.page == livePageTasks && t.cursor == "" &&
		(f.Status == "" || f.Status == task.Status) && (f.Domain == "" || f.Domain == task.Domain) &&
		(f.Priority == "" || f.Priority == task.Priority) &&
		(f.AgentID == nil || (task.AgentID != nil && *f.AgentID == *task.AgentID)) &&
		(f.CreatedFrom == nil || !task.CreatedAt.Before(*f.CreatedFrom)) &&
		(f.CreatedBefore == nil || task.CreatedAt.Before(*f.CreatedBefore))
}

// liveConn is one connected page.
type liveConn struct {
	topic   liveTopic
	session auth.Session
	// token is the session cookie's value, to re-check the session with.
	token string
	// send queues fragments as prepared frames: built once per event and
	// shared by every connection that shows the fragment.
	send chan *websocket.PreparedMessage
	// end carries the close code when the hub ends the connection (session
	// over, too slow, shutdown); closed once.
	end     chan int
	endOnce sync.Once
	dropped atomic.Bool
}

func (lc *liveConn) close(code int) {
	lc.endOnce.Do(func() { lc.end <- code; close(lc.end) })
}

// offer queues a fragment without waiting: a full buffer ends the
// connection instead.
func (lc *liveConn) offer(pm *websocket.PreparedMessage) bool {
	select {
	case lc.send <- pm:
		return true
	default:
		if lc.dropped.CompareAndSwap(false, true) {
			lc.close(websocket.CloseTryAgainLater)
		}
		return false
	}
}

// liveHub fans the event hub out to connected pages as rendered fragments.
// It holds the dashboard's only subscription: each event is rendered once
// per distinct fragment, and those bytes are shared by every connection
// that shows it.
type liveHub struct {
	h *Handler

	mu    sync.Mutex
	conns map[*liveConn]struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

func newLiveHub(h *Handler) *liveHub {
	return &liveHub{h: h, conns: map[*liveConn]struct{}{}}
}

// Start subscribes to the event hub and fans out until Stop.
func (l *liveHub) Start(ctx context.Context) {
	if l.h.deps.Events == nil || l.cancel != nil {
		return
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
}

// Stop ends the fan-out and closes every page's connection with 1012
// (service restart), which the htmx ws extension reconnects after.
func (l *liveHub) Stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.closeAll(websocket.CloseServiceRestart)
}

func (l *liveHub) closeAll(code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for lc := range l.conns {
		lc.close(code)
	}
}

func (l *liveHub) run(ctx context.Context) {
	for ctx.Err() == nil {
		sub := l.h.deps.Events.Subscribe(liveHubBuffer, func(e events.Event) bool {
			switch e.Type {
			case events.KeyCreated, events.KeyRevoked, events.AgentStatus, events.MessageSent, events.TaskCreated, events.TaskAssigned,
				events.TaskProgress, events.TaskCompleted, events.TaskFailed, events.TaskCancelled:
				return true
			}
			return false
		})
		l.consume(ctx, sub)
		sub.Close()
		if ctx.Err() == nil {
			// Dropped for falling behind (a burst of events): pages may
			// have missed some, so they reconnect and re-sync.
			l.h.deps.Logger.Warn("dashboard live fan-out fell behind the event hub: pages re-sync")
			l.closeAll(websocket.CloseTryAgainLater)
			sleepCtx(ctx, liveRetryDelay)
		}
	}
}

// statsEvery is how often open overviews get their counts and charts again
// (from the cache, rendered once for all of them).
const statsEvery = 10 * time.Second

func (l *liveHub) consume(ctx context.Context, sub *events.Subscription) {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.pushStats(ctx)
		case e, ok := <-sub.C:
			if !ok || sub.Dropped() {
				return
			}
			l.dispatch(ctx, e)
		}
	}
}

// pushStats sends the overview's aggregates to every open overview.
func (l *liveHub) pushStats(ctx context.Context) {
	l.mu.Lock()
	var conns []*liveConn
	for lc := range l.conns {
		if lc.topic.page == livePageOverview {
			conns = append(conns, lc)
		}
	}
	l.mu.Unlock()
	if len(conns) == 0 || l.h.deps.Stats == nil {
		return
	}
	st, err := l.h.deps.Stats.Overview(ctx)
	if err != nil {
		return
	}
	pm, err := renderFrame(ctx, views.OverviewStatsUpdate(st))
	if err != nil {
		l.h.deps.Logger.Warn("could not render the overview's aggregates", "err", err)
		return
	}
	for _, lc := range conns {
		lc.offer(pm)
	}
}

func (l *liveHub) add(lc *liveConn) {
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
}

func (l *liveHub) remove(lc *liveConn) {
	l.mu.Lock()
	delete(l.conns, lc)
	l.mu.Unlock()
}

// dispatch renders what an event changes on each kind of page, once, and
// queues the bytes on every connection showing it. Rendering happens outside
// the lock (a task page's timeline is read from the database), on a copy of
// the connection set.
func (l *liveHub) dispatch(ctx context.Context, e events.Event) {
	l.mu.Lock()
	conns := make([]*liveConn, 0, len(l.conns))
	for lc := range l.conns {
		conns = append(conns, lc)
	}
	l.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	// Each fragment is rendered, and framed, once for all the pages that
	// show it: none depends on who is looking.
	rendered := map[string]*websocket.PreparedMessage{}
	fragment := func(name string, render func() (templ.Component, error)) *websocket.PreparedMessage {
		if pm, ok := rendered[name]; ok {
			return pm
		}
		var pm *websocket.PreparedMessage
		c, err := render()
		if err == nil {
			pm, err = renderFrame(ctx, c)
		}
		if err != nil {
			l.h.deps.Logger.Warn("could not render a live fragment", "fragment", name, "err", err)
		}
		rendered[name] = pm
		return pm
	}
	now := time.Now()
	send := func(lc *liveConn, msgs ...*websocket.PreparedMessage) {
		for _, pm := range msgs {
			if pm != nil && !lc.offer(pm) {
				l.h.deps.Metrics.LiveDropped.Inc()
				return
			}
		}
	}
	switch e.Type {
	case events.KeyCreated, events.KeyRevoked:
		var key auth.Key
		if err := json.Unmarshal(e.Data, &key); err != nil {
			l.h.deps.Logger.Warn("ignoring a key event without a key", "type", e.Type, "err", err)
			return
		}
		for _, lc := range conns {
			switch {
			case e.Type == events.KeyRevoked && lc.session.KeyID == key.ID:
				lc.close(closeSessionOver)
			case lc.topic.page != livePageKeys:
			case e.Type == events.KeyCreated && lc.topic.cursor == "" && (lc.topic.state == "" || lc.topic.state == key.State()):
				send(lc, fragment("key-remove", func() (templ.Component, error) { return views.KeyRemove(key), nil }),
					fragment("key-insert", func() (templ.Component, error) { return views.KeyInsert(key, now), nil }))
			case e.Type == events.KeyRevoked:
				send(lc, fragment("key-update", func() (templ.Component, error) { return views.KeyUpdate(key, now), nil }))
			}
		}
	case events.AgentStatus:
		var agent agents.Agent
		if err := json.Unmarshal(e.Data, &agent); err != nil || agent.ID == uuid.Nil {
			l.h.deps.Logger.Warn("ignoring an agent event without an agent", "err", err)
			return
		}
		for _, lc := range conns {
			if lc.topic.page == livePageAgents || lc.topic.page == livePageOverview {
				send(lc, fragment("agent-update", func() (templ.Component, error) { return views.AgentUpdate(agent, now), nil }))
			}
		}
	case events.MessageSent:
		var m orchestrator.Message
		if err := json.Unmarshal(e.Data, &m); err != nil || m.ID == uuid.Nil {
			l.h.deps.Logger.Warn("ignoring a message event without a message", "err", err)
			return
		}
		for _, lc := range conns {
			if lc.topic.page == livePageMessages && lc.topic.cursor == "" && lc.topic.messages.Shows(m) {
				send(lc, fragment("message-insert", func() (templ.Component, error) {
					names, err := l.h.agentNames(ctx)
					return views.MessageInsert(m, names, now), err
				}))
			}
		}
	default: // task events
		var task orchestrator.Task
		if err := json.Unmarshal(e.Data, &task); err != nil || task.ID == uuid.Nil {
			l.h.deps.Logger.Warn("ignoring a task event without a task", "type", e.Type, "err", err)
			return
		}
		for _, lc := range conns {
			switch lc.topic.page {
			case livePageTasks, livePageOverview:
				if e.Type == events.TaskCreated {
					if lc.topic.page == livePageOverview || lc.topic.showsNewTask(task) {
						send(lc, fragment("task-remove", func() (templ.Component, error) { return views.TaskRemove(task), nil }),
							fragment("task-insert", func() (templ.Component, error) { return views.TaskInsert(task, now), nil }))
					}
					continue
				}
				send(lc, fragment("task-update", func() (templ.Component, error) { return views.TaskUpdate(task, now), nil }))
			case livePageTask:
				if lc.topic.taskID != task.ID {
					continue
				}
				send(lc, fragment("task-live", func() (templ.Component, error) {
					live, err := l.h.taskLive(ctx, task.ID)
					return views.TaskLiveSnapshot(live), err
				}))
			}
		}
	}
}

// snapshot renders the page's live fragments as they are now, sent first
// on every (re)connect so that a page that was offline is right again.
func (h *Handler) snapshot(ctx context.Context, t liveTopic) ([]byte, error) {
	switch t.page {
	case livePageKeys:
		page, err := h.deps.Keys.List(ctx, auth.ListFilter{State: t.state}, t.cursor, keysPageSize)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, views.KeyRowsSnapshot(page.Items, time.Now()))
	case livePageTasks:
		page, err := h.deps.Tasks.List(ctx, t.tasks, t.cursor, tasksPageSize)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, views.TaskRowsSnapshot(page.Items, time.Now()))
	case livePageOverview:
		tasks, err := h.deps.Tasks.List(ctx, orchestrator.Filter{}, "", overviewRecentTasks)
		if err != nil {
			return nil, err
		}
		agentPage, err := h.deps.Agents.List(ctx, "", "", "", agentsPageSize)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, views.OverviewSnapshot(agentPage.Items, tasks.Items, time.Now()))
	case livePageAgents:
		agentPage, err := h.deps.Agents.List(ctx, t.agentType, t.agentStatus, t.cursor, agentsPageSize)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, views.AgentGridSnapshot(agentPage.Items, time.Now()))
	case livePageMessages:
		page, err := h.deps.Messages.AllMessages(ctx, t.messages, t.cursor, messagesPageSize)
		if err != nil {
			return nil, err
		}
		names, err := h.agentNames(ctx)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, views.MessageRows(page.Items, names, time.Now(), templ.Attributes{"hx-swap-oob": "outerHTML"}))
	case livePageTask:
		live, err := h.taskLive(ctx, t.taskID)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, views.TaskLiveSnapshot(live))
	}
	return nil, nil
}

// liveChannel serves GET /ws: the dashboard's live channel, connected by the htmx
// ws extension. It needs a session (requireSession ran) and this server's
// Origin; a foreign Origin is 403 before any upgrade.
func (h *Handler) liveChannel(c echo.Context) error {
	req := c.Request()
	sess, ok := sessionOf(c)
	if !ok {
		return apperr.E(apperr.Unauthorized, "sign in to use the dashboard")
	}
	if origin := req.Header.Get("Origin"); origin != "" && !h.mw.TrustedOrigin(origin, req.Host) {
		return apperr.E(apperr.Forbidden, "cross-origin WebSocket from %q refused; set PUBLIC_URL to this server's address if it is served behind a proxy", apperr.Truncate(origin, 100))
	}
	topic, err := parseLiveTopic(c.QueryParams())
	if err != nil {
		return err
	}
	if !websocket.IsWebSocketUpgrade(req) {
		return apperr.E(apperr.Invalid, "/ws is the dashboard's live WebSocket: pages connect to it by themselves")
	}
	ck, _ := c.Cookie(h.cookieName(req))
	lc := &liveConn{topic: topic, session: sess, token: ck.Value, send: make(chan *websocket.PreparedMessage, liveBuffer), end: make(chan int, 1)}
	// Registered before the snapshot is read, so that nothing that happens
	// meanwhile is missed; the fragments are idempotent, so seeing a change
	// twice is harmless.
	h.fanout.add(lc)
	snap, err := h.snapshot(req.Context(), topic)
	if err != nil {
		h.fanout.remove(lc)
		return err
	}
	upgrader := websocket.Upgrader{
		HandshakeTimeout: liveWriteWait,
		ReadBufferSize:   liveReadBuffer,
		// Fragments go out as prepared frames; only the snapshot needs a
		// write buffer, made for it and let go after.
		WriteBufferPool: noWriteBuffer{},
		CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return o == "" || h.mw.TrustedOrigin(o, r.Host)
		},
	}
	conn, err := upgrader.Upgrade(c.Response(), req, nil)
	if err != nil {
		h.fanout.remove(lc)
		h.deps.Logger.DebugContext(req.Context(), "live channel upgrade failed", "err", err)
		return nil
	}
	c.Response().Status = http.StatusSwitchingProtocols
	h.deps.Metrics.LiveClients.Inc()
	// The page is served from a goroutine of its own and the request's
	// goroutine ends here: its stack grew through the session check, the
	// snapshot's queries and rendering to tens of KiB, and parked for the
	// page's whole life it would be most of what an open page costs. The
	// request's context ends with its goroutine; its values stay.
	ctx := context.WithoutCancel(req.Context())
	go func() {
		defer h.deps.Metrics.LiveClients.Dec()
		defer h.fanout.remove(lc)
		reason := h.serveLive(ctx, conn, lc, snap)
		h.deps.Logger.DebugContext(ctx, "live channel closed", "page", topic.page, "reason", reason)
	}()
	return nil
}

// serveLive writes the snapshot, then fragments, until the connection
// ends. This goroutine is the only writer; a reader goroutine processes
// pongs and the browser's close.
func (h *Handler) serveLive(ctx context.Context, conn *websocket.Conn, lc *liveConn, snap []byte) string {
	readDone := make(chan struct{})
	defer func() {
		_ = conn.Close()
		<-readDone
	}()
	conn.SetReadLimit(liveReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(livePongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(livePongWait)) })
	go func() {
		defer close(readDone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	if len(snap) > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
		if err := conn.WriteMessage(websocket.TextMessage, snap); err != nil {
			return "write failed"
		}
	}
	ping := time.NewTicker(livePingEvery)
	defer ping.Stop()
	reauth := time.NewTicker(liveReauthEvery)
	defer reauth.Stop()
	closeWith := func(code int, text string) {
		msg := websocket.FormatCloseMessage(code, text)
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(liveWriteWait))
		select {
		case <-readDone:
		case <-time.After(liveCloseGrace):
		}
	}
	for {
		select {
		case pm := <-lc.send:
			if lc.dropped.Load() {
				closeWith(websocket.CloseTryAgainLater, "too slow: reconnect")
				return "too slow"
			}
			_ = conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
			if err := conn.WritePreparedMessage(pm); err != nil {
				return "write failed"
			}
		case code := <-lc.end:
			switch code {
			case closeSessionOver:
				closeWith(code, "session ended: sign in again")
				return "session ended"
			case websocket.CloseServiceRestart:
				closeWith(code, "server restarting: reconnect")
				return "shutdown"
			default:
				h.deps.Metrics.LiveDropped.Inc()
				closeWith(code, "too slow: reconnect")
				return "too slow"
			}
		case <-h.deps.Stopping:
			closeWith(websocket.CloseServiceRestart, "server restarting: reconnect")
			return "shutdown"
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(liveWriteWait)); err != nil {
				return "ping failed"
			}
		case <-reauth.C:
			// Signed out in another tab, or past its absolute expiry: the
			// session's own checks, as on every page request. (An open
			// page counts as use, so it keeps an idle session alive.)
			if sessionOver(ctx, h.deps.Sessions, lc.token) {
				closeWith(closeSessionOver, "session ended: sign in again")
				return "session ended"
			}
		case <-readDone:
			return "client gone"
		}
	}
}

// renderFrame renders c into the WebSocket text frame that every page
// showing it is sent.
func renderFrame(ctx context.Context, c templ.Component) (*websocket.PreparedMessage, error) {
	b, err := renderBytes(ctx, c)
	if err != nil {
		return nil, err
	}
	return websocket.NewPreparedMessage(websocket.TextMessage, b)
}

// noWriteBuffer is a write buffer pool that keeps nothing: gorilla makes a
// buffer for a message written other than as a prepared frame (the
// snapshot) and lets it go afterwards, instead of holding 4 KiB on every
// open page.
type noWriteBuffer struct{}

func (noWriteBuffer) Get() any { return nil }
func (noWriteBuffer) Put(any)  {}

// sessionOver reports whether the session has definitely ended. The lookup
// runs on a goroutine of its own: it goes deep (database), and on the
// page's goroutine the stack it grew would stay with the page until
// garbage collections shrink it.
func sessionOver(ctx context.Context, sessions SessionService, token string) bool {
	c := make(chan bool, 1)
	go func() {
		_, err := sessions.Lookup(ctx, token)
		c <- apperr.Is(err, apperr.Unauthorized)
	}()
	return <-c
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
