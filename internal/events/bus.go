package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Defaults of the Redis fan-out. They are small on purpose: pub/sub has no
// history, so an event that cannot reach the other instances soon is better
// dropped (and counted) than queued without bound.
const (
	defaultQueueSize = 1024
	// maxBatch bounds the events sent to Redis in one pipeline (one round
	// trip): what queued while the previous batch was on its way.
	maxBatch           = 64
	publishTimeout     = 2 * time.Second
	minBackoff         = 100 * time.Millisecond
	maxBackoff         = 5 * time.Second
	healthCheckEvery   = 15 * time.Second
	flushOnStopTimeout = time.Second
)

// envelope is an event on the Redis channel. Origin lets every instance skip
// its own events, which Redis also delivers back to it and which its hub has
// already had. A bus writes it by hand (Bus.encode) around the event's shared
// encoding; it is decoded with encoding/json.
type envelope struct {
	Origin string `json:"origin"`
	Event  Event  `json:"event"`
}

// BusOption adjusts a Bus.
type BusOption func(*Bus)

// WithQueueSize bounds the events waiting to go out to Redis (default 1024).
func WithQueueSize(n int) BusOption {
	return func(b *Bus) {
		if n > 0 {
			b.queueSize = n
		}
	}
}

// WithDropHook calls f for every event that did not reach Redis (queue full,
// Redis down, encoding failure), for a metric.
func WithDropHook(f func()) BusOption {
	return func(b *Bus) { b.onDrop = f }
}

// BusStats counts what the Redis side of a Bus did.
type BusStats struct {
	// Sent is how many events went out to Redis.
	Sent uint64
	// Dropped is how many events did not go out: the queue was full, Redis
	// was down, or the event could not be encoded. In-process delivery of
	// these events happened all the same.
	Dropped uint64
	// Received is how many events of other instances were handed to the hub.
	Received uint64
	// Malformed is how many messages on the channel could not be decoded.
	Malformed uint64
}

// Bus publishes events to the in-process Hub and, when Redis is configured,
// to the other instances through the Redis pub/sub channel <prefix>events,
// and hands the events of the other instances to the hub.
//
// Publishing never blocks and never fails: the hub delivers in process at
// once, and the Redis copy goes through a bounded queue drained by one
// goroutine (so events leave in order). While Redis is down, events are
// delivered in process only and the Redis copies are dropped and counted;
// the subscriber retries with backoff and events flow again when Redis is
// back. Events published while Redis was down are not replayed: pub/sub has
// no history, and live views re-sync from the database when they reconnect.
type Bus struct {
	hub     *Hub
	client  *redis.Client
	channel string
	origin  string
	logger  *slog.Logger

	queueSize int
	onDrop    func()
	queue     chan *Message
	// self is how every envelope this bus writes begins: {"origin":"<id>",
	// "event": (see encode). A message that begins so is its own.
	self string

	sent, dropped, received, malformed atomic.Uint64
	// overflowing is set while the queue is full, so a burst logs once.
	overflowing atomic.Bool
	stopped     atomic.Bool
	subscribed  atomic.Bool

	mu     sync.Mutex
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// NewBus returns a bus publishing to hub and, when client is not nil, to
// the Redis channel prefix+"events". A nil client keeps events in process
// (a single instance). Call Start to begin the Redis traffic.
func NewBus(hub *Hub, client *redis.Client, prefix string, logger *slog.Logger, opts ...BusOption) *Bus {
	b := &Bus{
		hub: hub, client: client, channel: prefix + "events", origin: uuid.NewString(),
		logger: logger, queueSize: defaultQueueSize,
	}
	// The origin is a UUID: nothing in it needs escaping.
	b.self = `{"origin":"` + b.origin + `","event":`
	for _, o := range opts {
		o(b)
	}
	if client != nil {
		b.queue = make(chan *Message, b.queueSize)
	}
	return b
}

// Hub returns the in-process hub, which subscribers use.
func (b *Bus) Hub() *Hub { return b.hub }

// Subscribe subscribes to the hub (see Hub.Subscribe): the events of this
// instance and, through Redis, of the others. It lets one Bus serve both
// as the services' publisher and as the live views' source.
func (b *Bus) Subscribe(buffer int, filter func(Event) bool) *Subscription {
	return b.hub.Subscribe(buffer, filter)
}

// Feed adds a feed to the hub (see Hub.Feed).
func (b *Bus) Feed(key any, buffer int, filter func(Event) bool) *Feed {
	return b.hub.Feed(key, buffer, filter)
}

// InstanceID is the origin id this bus tags its events with on Redis.
func (b *Bus) InstanceID() string { return b.origin }

// Channel is the Redis channel the bus uses.
func (b *Bus) Channel() string { return b.channel }

// Subscribed reports whether the bus currently holds a confirmed Redis
// subscription (always false without Redis).
func (b *Bus) Subscribed() bool { return b.subscribed.Load() }

// Stats returns the Redis counters.
func (b *Bus) Stats() BusStats {
	return BusStats{Sent: b.sent.Load(), Dropped: b.dropped.Load(), Received: b.received.Load(), Malformed: b.malformed.Load()}
}

// Publish delivers e in process and queues it for the other instances. It
// never blocks: when the queue is full the Redis copy is dropped. The event
// is encoded once: the Redis copy and this instance's feeds share the bytes.
func (b *Bus) Publish(e Event) {
	m := &Message{Event: e}
	b.hub.publish(m)
	if b.queue == nil || b.stopped.Load() {
		return
	}
	select {
	case b.queue <- m:
	default:
		b.drop()
		if b.overflowing.CompareAndSwap(false, true) {
			b.logger.Warn("event queue to Redis is full: events reach this instance's subscribers only until it drains",
				"queue_size", b.queueSize)
		}
	}
}

// Start begins sending queued events to Redis and receiving the other
// instances' events. Without Redis it does nothing. The goroutines run until
// Stop or until ctx ends; pass a context that outlives the HTTP drain (e.g.
// context.WithoutCancel) so that events of requests finishing during
// shutdown still reach the other instances.
func (b *Bus) Start(ctx context.Context) {
	if b.client == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel != nil {
		return
	}
	ctx, b.cancel = context.WithCancel(ctx)
	b.done.Add(2)
	go func() { defer b.done.Done(); b.send(ctx) }()
	go func() { defer b.done.Done(); b.receive(ctx) }()
}

// Stop stops the Redis traffic after trying, for up to a second, to send
// what is queued. Events published after Stop are delivered in process only.
func (b *Bus) Stop() {
	b.stopped.Store(true)
	b.mu.Lock()
	cancel := b.cancel
	b.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	b.done.Wait()
}

func (b *Bus) drop() {
	b.dropped.Add(1)
	if b.onDrop != nil {
		b.onDrop()
	}
}

// send drains the queue into Redis: each event that arrives alone goes out
// at once, and the events that queued while a batch was on its way go
// together in the next one, in order, as one pipeline (one round trip,
// however busy the instance is). After a failure it stops trying until a
// backoff has passed, dropping what comes meanwhile: each attempt against a
// dead Redis costs up to the client's dial timeout, and trying every event
// would only make the queue overflow later.
func (b *Bus) send(ctx context.Context) {
	var (
		down    bool
		retryAt time.Time
		backoff = minBackoff
		batch   = make([]*Message, 0, maxBatch)
	)
	for {
		batch = batch[:0]
		select {
		case m := <-b.queue:
			batch = append(batch, m)
		case <-ctx.Done():
			b.flush()
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case m := <-b.queue:
				batch = append(batch, m)
			default:
				break more
			}
		}
		if down && time.Now().Before(retryAt) {
			for range batch {
				b.drop()
			}
			continue
		}
		// Not ctx: an event taken from the queue when Stop is called still
		// goes out (within publishTimeout), as the queued ones do in flush.
		err := b.publishRemote(context.WithoutCancel(ctx), batch)
		if err == nil {
			if down {
				b.logger.Info("events reach the other instances again through Redis")
				down, backoff = false, minBackoff
			}
			if len(b.queue) < cap(b.queue)/2 {
				b.overflowing.Store(false)
			}
			continue
		}
		if ctx.Err() != nil {
			continue // stopping: the next select flushes
		}
		if errors.Is(err, errEncode) {
			b.logger.Warn("event could not be encoded for Redis; delivered in process only", "err", err)
			continue
		}
		if !down {
			b.logger.Warn("Redis does not take events: they reach this instance's subscribers only until it is back", "err", err)
			down = true
		}
		retryAt = time.Now().Add(backoff)
		backoff = min(backoff*2, maxBackoff)
	}
}

// flush sends what is queued when the bus stops, within a short bound.
func (b *Bus) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushOnStopTimeout)
	defer cancel()
	for {
		select {
		case m := <-b.queue:
			if ctx.Err() != nil {
				b.drop()
				continue
			}
			_ = b.publishRemote(ctx, []*Message{m}) // it counts what it could not send
		default:
			return
		}
	}
}

var errEncode = errors.New("encode event")

// publishRemote sends batch to Redis in one pipeline and counts each event
// as sent or dropped. It returns the pipeline's error, or else an encoding
// error (wrapping errEncode) when an event could not be encoded.
func (b *Bus) publishRemote(ctx context.Context, batch []*Message) error {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	var encodeErr error
	pipe := b.client.Pipeline()
	for _, m := range batch {
		msg, err := b.encode(m)
		if err != nil {
			b.drop()
			encodeErr = errors.Join(errEncode, fmt.Errorf("%s: %w", m.Event.Type, err))
			continue
		}
		pipe.Publish(ctx, b.channel, msg)
	}
	if pipe.Len() == 0 {
		return encodeErr
	}
	cmds, err := pipe.Exec(ctx)
	for _, c := range cmds {
		if c.Err() != nil {
			b.drop()
		} else {
			b.sent.Add(1)
		}
	}
	if err != nil {
		return err
	}
	return encodeErr
}

// encode writes m's envelope around the event's shared encoding
// (Message.JSON), which this instance's feeds also use: an event is encoded
// once however far it goes.
func (b *Bus) encode(m *Message) ([]byte, error) {
	event, err := m.JSON()
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(b.self)+len(event)+1)
	msg = append(msg, b.self...)
	msg = append(msg, event...)
	return append(msg, '}'), nil
}

// receive holds the subscription and hands other instances' events to the
// hub. go-redis's PubSub re-dials and re-subscribes by itself on the next
// read after a connection error (verified: releaseConn → reconnect → conn →
// resubscribe), but without any pause (a refused dial fails at once, so a
// plain loop would spin) and without noticing a half-open connection, where
// reads just block. Hence the backoff here, and a watchdog that pings a
// quiet subscription and replaces it when nothing, not even the pong, has
// been heard for two intervals.
func (b *Bus) receive(ctx context.Context) {
	r := receiver{bus: b, backoff: minBackoff}
	for ctx.Err() == nil {
		ps := b.client.Subscribe(ctx, b.channel)
		stale := r.consume(ctx, ps)
		b.subscribed.Store(false)
		_ = ps.Close()
		if stale && !r.down {
			b.logger.Warn("the Redis subscription went silent (no answer to pings): replacing it")
			r.down = true
		}
	}
}

// receiver is the state of the receive loop across subscriptions.
type receiver struct {
	bus     *Bus
	down    bool
	backoff time.Duration
}

// consume reads ps until ctx ends (false) or the watchdog closes it for
// being silent (true). Errors in between (Redis down, connection reset) are
// waited out with backoff; the PubSub reconnects on the next read.
func (r *receiver) consume(ctx context.Context, ps *redis.PubSub) (stale bool) {
	b := r.bus
	var heard atomic.Int64
	heard.Store(time.Now().UnixNano())
	var wasStale atomic.Bool
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	defer func() {
		stopWatch()
		<-watchDone // so that Stop leaves no goroutine behind
	}()
	go func() {
		defer close(watchDone)
		// Closing ps is what unblocks the read below, both on stop and
		// when the connection is found dead.
		defer ps.Close()
		t := time.NewTicker(healthCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-t.C:
			}
			if time.Since(time.Unix(0, heard.Load())) > 2*healthCheckEvery {
				wasStale.Store(true)
				return
			}
			pingCtx, cancel := context.WithTimeout(watchCtx, publishTimeout)
			_ = ps.Ping(pingCtx) // a failed write makes the PubSub reconnect; the answer is a message like any other
			cancel()
		}
	}()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) || ctx.Err() != nil {
				return wasStale.Load()
			}
			b.subscribed.Store(false)
			if !r.down {
				b.logger.Warn("lost the Redis subscription: events of other instances do not arrive until it is back", "err", err)
				r.down = true
			}
			sleep(ctx, r.backoff)
			r.backoff = min(r.backoff*2, maxBackoff)
			continue
		}
		heard.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.subscribed.Store(true)
				if r.down {
					b.logger.Info("receiving the other instances' events through Redis again")
					r.down = false
				}
				r.backoff = minBackoff
			}
		case *redis.Message:
			b.deliver(m.Payload)
		}
	}
}

func (b *Bus) deliver(payload string) {
	if strings.HasPrefix(payload, b.self) {
		return // our own, already delivered in process: not worth decoding
	}
	var env envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil || env.Origin == "" || env.Event.Type == "" {
		if b.malformed.Add(1) == 1 {
			b.logger.Warn("ignoring a malformed message on the events channel (logged once)", "channel", b.channel, "err", err)
		}
		return
	}
	if env.Origin == b.origin {
		return // our own (written by another encoder than encode)
	}
	b.received.Add(1)
	b.hub.Publish(env.Event)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
