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
)

// Types lists every event type, for validating filters and documenting them.
func Types() []string {
	return []string{
		ToolExecuted, TaskCreated, TaskAssigned, TaskProgress, TaskCompleted,
		TaskFailed, TaskCancelled, AgentStatus, MessageSent, KeyCreated, KeyRevoked,
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

// Subscription receives events on C until it is closed by Close or dropped
// for being slow (then Dropped reports true).
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

// Hub fans events out to in-process subscribers.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[*Subscription]struct{}{}}
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

// Publish delivers e to every matching subscriber whose buffer has room and
// drops (closes) those whose buffer is full.
func (h *Hub) Publish(e Event) {
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
}

// Subscribers returns how many subscriptions are live (for metrics).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
