// Package events is bizmcp's live event hub: services publish what happened
// (a tool ran, a task moved, an agent changed state) and the live views
// (WebSocket streams, the dashboard) subscribe. Publishing never blocks: a
// subscriber that cannot keep up is dropped and must resubscribe and
// re-sync, so one slow client never slows the server or other clients.
//
// Hub is the in-process fan-out; Bus wraps it and adds the other instances
// of a deployment through Redis pub/sub.
package events

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// The event types. Task and agent events carry TaskID and AgentID so that
// subscribers can filter on them without decoding Data.
const (
	ToolExecuted  = "tool.executed"
	TaskCreated   = "task.created"
	TaskAssigned  = "task.assigned"
	TaskProgress  = "task.progress"
	TaskCompleted = "task.completed"
	TaskFailed    = "task.failed"
	TaskCancelled = "task.cancelled"
	AgentStatus   = "agent.status"
	MessageSent   = "message.sent"
	// KeyCreated and KeyRevoked carry the key as listed (never its secret);
	// only admin streams see them.
	KeyCreated = "key.created"
	KeyRevoked = "key.revoked"
	// ToolStatus says a tool was enabled or disabled ({"name", "status"}):
	// every instance reloads its tool statuses.
	ToolStatus = "tool.status"
)

// Types lists every event type, for validating filters and documenting them.
func Types() []string {
	return []string{
		ToolExecuted, TaskCreated, TaskAssigned, TaskProgress, TaskCompleted,
		TaskFailed, TaskCancelled, AgentStatus, MessageSent, KeyCreated, KeyRevoked,
		ToolStatus,
	}
}

// Event is one thing that happened.
type Event struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	// Subject ids let subscribers filter without decoding Data.
	TaskID  string `json:"task_id,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
	// APIKeyID is the key whose call caused the event, when the event is
	// private to that key (a tool run's parameters may hold one team's
	// data): streams of keys without the admin scope see such events only
	// for their own key.
	APIKeyID string          `json:"api_key_id,omitempty"`
	Data     json.RawMessage `json:"data"`
}

// New builds an event with data marshalled to JSON.
func New(typ string, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{Type: typ, At: time.Now().UTC(), Data: b}, nil
}

// Message is one published event as the feeds share it: the hub makes one
// per Publish and hands the same pointer to every feed that takes the
// event, so the event is encoded once however many clients it goes to.
type Message struct {
	Event Event

	jsonOnce sync.Once
	json     []byte
	jsonErr  error

	prepOnce sync.Once
	prep     any
	prepErr  error
}

// JSON returns the event encoded as JSON, encoded by the first caller and
// shared by all: callers must not modify it.
func (m *Message) JSON() ([]byte, error) {
	m.jsonOnce.Do(func() { m.json, m.jsonErr = json.Marshal(m.Event) })
	return m.json, m.jsonErr
}

// Prepared returns prepare(JSON) for this message, run by the first caller
// only: every other caller gets the same value. It lets the adapter that
// writes events to clients build its wire form (the WebSocket stream's
// prepared frame) once per event instead of once per client. A message has
// one prepared form, so every caller must prepare it the same way.
func (m *Message) Prepared(prepare func(json []byte) (any, error)) (any, error) {
	m.prepOnce.Do(func() {
		b, err := m.JSON()
		if err != nil {
			m.prepErr = err
			return
		}
		m.prep, m.prepErr = prepare(b)
	})
	return m.prep, m.prepErr
}

// Subscription receives events on C until it is closed by Close or dropped
// for being slow (then Dropped reports true). Each subscriber gets its own
// copy of every event: fine for the server's few internal subscribers; the
// client streams, which can be thousands, use a Feed.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	filter func(Event) bool
	hub    *Hub
	// dropped is atomic so that a consumer can check it before each event
	// without the hub's lock: once dropped, the events still buffered in C
	// are stale to a client that has to re-sync anyway.
	dropped atomic.Bool
}

// Dropped reports whether the hub dropped this subscriber for falling
// behind. It turns true as soon as the hub gives up, before C has been
// drained.
func (s *Subscription) Dropped() bool {
	return s.dropped.Load()
}

// Close ends the subscription; C is closed.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.c)
	}
}

// Feed is a subscription for a client connection: it receives the shared
// *Message of each event it takes (one pointer per queued event, not a
// copy), and it belongs to a group of feeds that see the same events, so
// that the hub decides once per group, not once per client, whether an
// event goes out.
type Feed struct {
	C     <-chan *Message
	c     chan *Message
	group *feedGroup
	// at is the feed's index in group.feeds, for removal in constant time.
	at      int
	dropped atomic.Bool
}

// Dropped reports whether the hub dropped this feed for falling behind (see
// Subscription.Dropped).
func (f *Feed) Dropped() bool {
	return f.dropped.Load()
}

// Close ends the feed; C is closed.
func (f *Feed) Close() {
	h := f.group.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeFeed(f)
}

// feedGroup is the feeds that share a key, hence a filter.
type feedGroup struct {
	hub    *Hub
	key    any
	filter func(Event) bool
	feeds  []*Feed
}

// Hub fans events out to in-process subscribers.
type Hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	groups map[any]*feedGroup
	feeds  int
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[*Subscription]struct{}{}, groups: map[any]*feedGroup{}}
}

// Subscribe returns a subscription buffering up to buffer events; filter
// (nil: everything) selects the events wanted.
func (h *Hub) Subscribe(buffer int, filter func(Event) bool) *Subscription {
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, filter: filter, hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Feed returns a feed queueing up to buffer messages. Feeds with the same
// key (a comparable value) form one group and are given the same events:
// filter (nil: everything) is the group's, taken from the feed that created
// the group, and runs once per event for the whole group. So the key must
// say everything filter depends on: two feeds whose filters could differ on
// an event must not share a key.
func (h *Hub) Feed(key any, buffer int, filter func(Event) bool) *Feed {
	c := make(chan *Message, buffer)
	f := &Feed{C: c, c: c}
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.groups[key]
	if g == nil {
		g = &feedGroup{hub: h, key: key, filter: filter}
		h.groups[key] = g
	}
	f.group, f.at = g, len(g.feeds)
	g.feeds = append(g.feeds, f)
	h.feeds++
	return f
}

// removeFeed takes f out of its group and closes its channel, once. The
// caller holds h.mu.
func (h *Hub) removeFeed(f *Feed) {
	g := f.group
	if f.at < 0 {
		return
	}
	last := len(g.feeds) - 1
	g.feeds[f.at] = g.feeds[last]
	g.feeds[f.at].at = f.at
	g.feeds[last] = nil
	g.feeds = g.feeds[:last]
	f.at = -1
	h.feeds--
	close(f.c)
	if len(g.feeds) == 0 {
		delete(h.groups, g.key)
		return
	}
	// A group that shrank a lot gives its array back.
	if cap(g.feeds) > 64 && len(g.feeds) < cap(g.feeds)/4 {
		g.feeds = append(make([]*Feed, 0, 2*len(g.feeds)), g.feeds...)
	}
}

// Publish delivers e to every matching subscriber and feed whose buffer has
// room and drops (closes) those whose buffer is full.
func (h *Hub) Publish(e Event) { h.publish(&Message{Event: e}) }

// publish delivers m; the Bus passes its own Message so that the bytes its
// Redis copy is made of are the ones the feeds share (see Message.JSON).
func (h *Hub) publish(m *Message) {
	e := m.Event
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.filter != nil && !s.filter(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped.Store(true)
			delete(h.subs, s)
			close(s.c)
		}
	}
	for _, g := range h.groups {
		if g.filter != nil && !g.filter(e) {
			continue
		}
		// Backwards, so that a feed dropped (swapped with the last) does
		// not make the loop skip one.
		for i := len(g.feeds) - 1; i >= 0; i-- {
			f := g.feeds[i]
			select {
			case f.c <- m:
			default:
				f.dropped.Store(true)
				h.removeFeed(f)
			}
		}
	}
}

// Subscribers returns how many subscriptions and feeds are live (for
// metrics).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) + h.feeds
}
