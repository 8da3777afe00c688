package testkit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/bizmcp/bizmcp/internal/events"
)

// DialWS opens a WebSocket to path (with its query) on srv, with key as a
// bearer token ("" for none) and extra headers as name, value pairs. When
// the server refuses the handshake, the connection is nil and the response
// comes back with its body read. The connection is closed when the test
// ends.
func DialWS(t testing.TB, srv *Server, path, key string, headers ...string) (*websocket.Conn, *http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return DialWSWith(t, &websocket.Dialer{HandshakeTimeout: 10 * time.Second}, srv, path, h)
}

// DialWSWith is DialWS with a dialer of the test's own (e.g. one with a
// small receive buffer) and the request headers as given.
func DialWSWith(t testing.TB, d *websocket.Dialer, srv *Server, path string, h http.Header) (*websocket.Conn, *http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, resp, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path, h)
	if err != nil {
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return nil, resp, body
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, resp, nil
}

// EventStream reads a /api/v1/stream connection in the background, so a
// test can wait for an event, or check that none comes, without the read
// deadline that would break a gorilla connection.
type EventStream struct {
	Conn   *websocket.Conn
	events chan events.Event
	done   chan struct{}
	err    error
}

// ReadEvents starts reading conn.
func ReadEvents(conn *websocket.Conn) *EventStream {
	s := &EventStream{Conn: conn, events: make(chan events.Event, 100000), done: make(chan struct{})}
	go func() {
		// events closes after its last event, so readers see every event
		// before the end; done is for Closed.
		defer close(s.done)
		defer close(s.events)
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				s.err = err
				return
			}
			var e events.Event
			if typ != websocket.TextMessage || json.Unmarshal(msg, &e) != nil {
				s.err = errors.New("not a JSON text message: " + string(msg))
				return
			}
			s.events <- e
		}
	}()
	return s
}

// OpenStream dials path and starts reading it, failing the test when the
// handshake is refused.
func OpenStream(t testing.TB, srv *Server, path, key string, headers ...string) *EventStream {
	t.Helper()
	conn, resp, body := DialWS(t, srv, path, key, headers...)
	if conn == nil {
		t.Fatalf("stream %s refused: %d %s", path, resp.StatusCode, body)
	}
	return ReadEvents(conn)
}

// Next returns the next event, failing the test after timeout or when the
// stream ends.
func (s *EventStream) Next(t testing.TB, timeout time.Duration) events.Event {
	t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			t.Fatalf("stream ended before the next event: %v", s.err)
		}
		return e
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
	}
	return events.Event{}
}

// Await skips events until one matches, within timeout.
func (s *EventStream) Await(t testing.TB, timeout time.Duration, match func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended before the awaited event: %v", s.err)
			}
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("awaited event did not come within %s", timeout)
		}
	}
}

// Poll returns the next event if one comes within d.
func (s *EventStream) Poll(d time.Duration) (events.Event, bool) {
	select {
	case e, ok := <-s.events:
		return e, ok
	case <-time.After(d):
		return events.Event{}, false
	}
}

// None fails the test if an event arrives within d.
func (s *EventStream) None(t testing.TB, d time.Duration) {
	t.Helper()
	if e, ok := s.Poll(d); ok {
		t.Fatalf("unexpected event %s %s", e.Type, e.Data)
	}
}

// Closed waits for the stream to end and returns the close frame the
// server sent (nil if it ended without one).
func (s *EventStream) Closed(t testing.TB, timeout time.Duration) *websocket.CloseError {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("stream still open after %s", timeout)
	}
	var ce *websocket.CloseError
	if errors.As(s.err, &ce) {
		return ce
	}
	return nil
}

// WaitEventSubscribers waits until at least n instances (Redis clients)
// listen on srv's events channel, so that an event published now reaches
// them all.
func WaitEventSubscribers(t testing.TB, srv *Server, n int64) {
	t.Helper()
	opts, err := redis.ParseURL(srv.Env["REDIS_URL"])
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	channel := srv.Env["REDIS_PREFIX"] + "events"
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts, err := client.PubSubNumSub(context.Background(), channel).Result()
		if err == nil && counts[channel] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d subscribers on %s after 20s (%v, %v)", n, channel, counts, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
