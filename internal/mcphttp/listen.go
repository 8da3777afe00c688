package mcphttp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
)

// methodListen opens a 2026-07-28 notification stream (SEP-2575).
const methodListen = "subscriptions/listen"

// Listen is the response stream of one 2026-07-28 subscriptions/listen
// request, handed to the server's handlers through the request context.
//
// The SDK serves subscriptions/listen for the notification types it knows
// (list changes, resource updates) and offers no way to send any other
// notification, yet an extension may define its own: the Tasks extension
// (SEP-2663) adds a taskIds filter and notifications/tasks. Listen lets such
// an extension add its part to the stream the SDK owns: the filter fields it
// honours go into the SDK's acknowledgement, and its notifications are
// written as whole SSE events between the SDK's own, never interleaved.
type Listen struct {
	// Filter is params.notifications as the client sent it.
	Filter json.RawMessage
	// ID is the request's JSON-RPC id, which names the subscription in
	// every notification's _meta.
	ID json.RawMessage
	// Stopping is closed when the server shuts down: a listen should then
	// end gracefully instead of holding the drain until its timeout.
	Stopping <-chan struct{}

	mu       sync.Mutex
	w        http.ResponseWriter
	ackExtra map[string]any
	acked    chan struct{}
	ackDone  bool
}

type listenKey struct{}

// ListenFrom returns the listen stream of the request ctx belongs to.
func ListenFrom(ctx context.Context) (*Listen, bool) {
	l, ok := ctx.Value(listenKey{}).(*Listen)
	return l, ok
}

// AddToAck adds a field to the notifications the acknowledgement reports as
// agreed. Call it before the SDK acknowledges (before calling the next
// handler).
func (l *Listen) AddToAck(field string, v any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ackExtra == nil {
		l.ackExtra = map[string]any{}
	}
	l.ackExtra[field] = v
}

// Acked is closed once the acknowledgement, which must be the first message
// of the stream, has been written.
func (l *Listen) Acked() <-chan struct{} { return l.acked }

// Notify writes one JSON-RPC notification on the stream. It must not be
// called before Acked is closed.
func (l *Listen) Notify(method string, params any) error {
	data, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(len(data) + 24)
	b.WriteString("event: message\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(b.Bytes()); err != nil {
		return err
	}
	return http.NewResponseController(l.w).Flush()
}

// newListen wraps w for a subscriptions/listen request whose body is msg,
// and returns the writer the SDK must write through and the request carrying
// the Listen.
func newListen(w http.ResponseWriter, r *http.Request, id, filter json.RawMessage, stopping <-chan struct{}) (http.ResponseWriter, *http.Request) {
	l := &Listen{Filter: filter, ID: id, Stopping: stopping, w: w, acked: make(chan struct{})}
	return &listenWriter{l: l}, r.WithContext(context.WithValue(r.Context(), listenKey{}, l))
}

// listenWriter is the ResponseWriter the SDK writes the listen stream to.
// The SDK writes each SSE event in one Write; holding the Listen's lock for
// each keeps an extension's events whole between them.
type listenWriter struct{ l *Listen }

func (lw *listenWriter) Header() http.Header { return lw.l.w.Header() }

func (lw *listenWriter) WriteHeader(status int) {
	lw.l.mu.Lock()
	defer lw.l.mu.Unlock()
	lw.l.w.WriteHeader(status)
}

func (lw *listenWriter) Write(b []byte) (int, error) {
	l := lw.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ackDone || !bytes.Contains(b, []byte(`"notifications/subscriptions/acknowledged"`)) {
		return l.w.Write(b)
	}
	out := addToAck(b, l.ackExtra)
	l.ackDone = true
	defer close(l.acked)
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// FlushError lets http.ResponseController flush under the lock: a flush must
// not run concurrently with another event's write.
func (lw *listenWriter) FlushError() error {
	lw.l.mu.Lock()
	defer lw.l.mu.Unlock()
	return http.NewResponseController(lw.l.w).Flush()
}

// Flush implements http.Flusher.
func (lw *listenWriter) Flush() { _ = lw.FlushError() }

// Unwrap gives http.ResponseController the other controls (deadlines).
func (lw *listenWriter) Unwrap() http.ResponseWriter { return lw.l.w }

// addToAck adds extra to params.notifications of the SSE event that carries
// the acknowledgement. An event it cannot read is written as it came.
func addToAck(event []byte, extra map[string]any) []byte {
	if len(extra) == 0 {
		return event
	}
	start := bytes.Index(event, []byte("data: "))
	if start < 0 {
		return event
	}
	start += len("data: ")
	end := bytes.Index(event[start:], []byte("\n"))
	if end < 0 {
		return event
	}
	end += start
	var msg map[string]any
	if json.Unmarshal(event[start:end], &msg) != nil {
		return event
	}
	params, _ := msg["params"].(map[string]any)
	if params == nil {
		return event
	}
	notifications, _ := params["notifications"].(map[string]any)
	if notifications == nil {
		notifications = map[string]any{}
		params["notifications"] = notifications
	}
	for k, v := range extra {
		notifications[k] = v
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return event
	}
	out := make([]byte, 0, len(event)+len(data))
	out = append(out, event[:start]...)
	out = append(out, data...)
	return append(out, event[end:]...)
}
