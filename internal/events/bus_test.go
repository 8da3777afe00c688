package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	// The server's settings (cli.newRedisClient): a dead Redis is noticed
	// in about a second.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	opts.MaxRetries = 1
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startBus starts a bus (one "instance") and stops it when the test ends.
func startBus(t *testing.T, client *redis.Client, prefix string, opts ...events.BusOption) *events.Bus {
	t.Helper()
	b := events.NewBus(events.NewHub(), client, prefix, testLogger(t), opts...)
	b.Start(context.Background())
	t.Cleanup(b.Stop)
	return b
}

func waitSubscribed(t *testing.T, buses ...*events.Bus) {
	t.Helper()
	for _, b := range buses {
		require.Eventually(t, b.Subscribed, 15*time.Second, 10*time.Millisecond, "bus %s never subscribed", b.InstanceID())
	}
}

func event(t *testing.T, typ string, n int) events.Event {
	t.Helper()
	e, err := events.New(typ, map[string]int{"n": n})
	require.NoError(t, err)
	return e
}

func receive(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	select {
	case e, ok := <-s.C:
		require.True(t, ok, "subscription closed")
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return events.Event{}
	}
}

func requireNothing(t *testing.T, s *events.Subscription, within time.Duration) {
	t.Helper()
	select {
	case e := <-s.C:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(within):
	}
}

func TestBusWithoutRedisIsInProcess(t *testing.T) {
	t.Parallel()
	b := events.NewBus(events.NewHub(), nil, "x:", testLogger(t))
	b.Start(context.Background())
	defer b.Stop()
	sub := b.Hub().Subscribe(4, nil)
	e := event(t, events.TaskCreated, 1)
	b.Publish(e)
	require.Equal(t, e, receive(t, sub))
	require.False(t, b.Subscribed())
	require.Equal(t, events.BusStats{}, b.Stats())
}

func TestBusFansOutBetweenInstances(t *testing.T) {
	t.Parallel()
	client := redisClient(t, testkit.RedisURL(t))
	prefix := testkit.Prefix(t)
	a, b := startBus(t, client, prefix), startBus(t, client, prefix)
	other := startBus(t, client, testkit.Prefix(t)) // another deployment
	waitSubscribed(t, a, b, other)
	require.Equal(t, prefix+"events", a.Channel())
	subA, subB, subOther := a.Hub().Subscribe(10, nil), b.Hub().Subscribe(10, nil), other.Hub().Subscribe(10, nil)

	e1 := event(t, events.TaskCompleted, 1)
	e1.TaskID, e1.AgentID, e1.APIKeyID = "task-1", "agent-1", "key-1"
	a.Publish(e1)
	require.Equal(t, e1, receive(t, subA), "in process at once")
	got := receive(t, subB)
	require.True(t, e1.At.Equal(got.At))
	got.At = e1.At // the monotonic clock reading does not cross the wire
	require.Equal(t, e1, got, "every field crosses")

	e2 := event(t, events.AgentStatus, 2)
	b.Publish(e2)
	require.Equal(t, e2.Type, receive(t, subB).Type)
	// A sees e2 from Redis, and not its own e1 a second time.
	require.JSONEq(t, `{"n":2}`, string(receive(t, subA).Data))
	requireNothing(t, subA, 200*time.Millisecond)
	requireNothing(t, subB, 0)
	requireNothing(t, subOther, 0)

	require.Eventually(t, func() bool { return a.Stats().Sent == 1 && b.Stats().Received == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, uint64(0), a.Stats().Dropped)
}

func TestBusIgnoresMalformedMessages(t *testing.T) {
	t.Parallel()
	client := redisClient(t, testkit.RedisURL(t))
	prefix := testkit.Prefix(t)
	b := startBus(t, client, prefix)
	waitSubscribed(t, b)
	sub := b.Hub().Subscribe(10, nil)
	ctx := context.Background()
	for _, junk := range []string{"not json", `{"origin":"x"}`, `{"event":{"type":"task.created"}}`, `[]`} {
		require.NoError(t, client.Publish(ctx, prefix+"events", junk).Err())
	}
	good, err := json.Marshal(map[string]any{"origin": "elsewhere", "event": event(t, events.TaskFailed, 3)})
	require.NoError(t, err)
	require.NoError(t, client.Publish(ctx, prefix+"events", good).Err())
	require.Equal(t, events.TaskFailed, receive(t, sub).Type, "the good one after the junk")
	requireNothing(t, sub, 100*time.Millisecond)
	require.Equal(t, uint64(4), b.Stats().Malformed)
}

func TestBusSlowSubscriberDoesNotHoldBackOthers(t *testing.T) {
	t.Parallel()
	client := redisClient(t, testkit.RedisURL(t))
	prefix := testkit.Prefix(t)
	a, b := startBus(t, client, prefix), startBus(t, client, prefix)
	waitSubscribed(t, a, b)
	slow := b.Hub().Subscribe(3, nil)
	fast := b.Hub().Subscribe(1000, nil)
	const n = 500
	for i := range n {
		a.Publish(event(t, events.TaskProgress, i))
	}
	for i := range n {
		require.JSONEq(t, fmt.Sprintf(`{"n":%d}`, i), string(receive(t, fast).Data), "in order, none lost")
	}
	require.True(t, slow.Dropped())
	require.False(t, fast.Dropped())
	require.Equal(t, 1, b.Hub().Subscribers())
}

func TestBusPublishNeverBlocksWhenRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	// Nothing listens there: every attempt fails.
	client := redisClient(t, fmt.Sprintf("redis://127.0.0.1:%d/0", testkit.FreePort(t)))
	var hooked int
	drops := make(chan struct{}, 10000)
	b := events.NewBus(events.NewHub(), client, "x:", testLogger(t), events.WithQueueSize(8),
		events.WithDropHook(func() { drops <- struct{}{} }))
	b.Start(context.Background())
	defer b.Stop()
	sub := b.Hub().Subscribe(10000, nil)
	start := time.Now()
	const n = 5000
	for i := range n {
		b.Publish(event(t, events.TaskProgress, i))
	}
	require.Less(t, time.Since(start), 2*time.Second, "publishing must not wait for Redis")
	require.Len(t, sub.C, n, "every event delivered in process")
	require.Eventually(t, func() bool { return b.Stats().Dropped >= n-8 }, 10*time.Second, 10*time.Millisecond)
	for len(drops) > 0 {
		<-drops
		hooked++
	}
	require.GreaterOrEqual(t, hooked, n-8)
	require.False(t, b.Subscribed())
}

// TestBusRecoversWhenRedisReturns stops Redis under two instances: each
// keeps delivering in process, and events cross again once Redis is back
// (the subscriber reconnects by itself).
func TestBusRecoversWhenRedisReturns(t *testing.T) {
	t.Parallel()
	rp := testkit.StartRedisProcess(t)
	clientA, clientB := redisClient(t, rp.URL), redisClient(t, rp.URL)
	prefix := testkit.Prefix(t)
	a, b := startBus(t, clientA, prefix), startBus(t, clientB, prefix)
	waitSubscribed(t, a, b)
	subA, subB := a.Hub().Subscribe(1000, nil), b.Hub().Subscribe(1000, nil)
	a.Publish(event(t, events.TaskCreated, 0))
	receive(t, subA)
	receive(t, subB)

	rp.Stop()
	require.Eventually(t, func() bool { return !a.Subscribed() && !b.Subscribed() }, 10*time.Second, 10*time.Millisecond)
	start := time.Now()
	for i := 1; i <= 100; i++ {
		a.Publish(event(t, events.TaskProgress, i))
	}
	// Waiting for the dead Redis would cost a dial timeout per event; not
	// waiting costs microseconds. The bound only separates the two.
	require.Less(t, time.Since(start), 5*time.Second)
	for i := 1; i <= 100; i++ {
		require.JSONEq(t, fmt.Sprintf(`{"n":%d}`, i), string(receive(t, subA).Data))
	}
	require.Eventually(t, func() bool { return a.Stats().Dropped > 0 }, 10*time.Second, 10*time.Millisecond)
	requireNothing(t, subB, 100*time.Millisecond)

	rp.Start()
	waitSubscribed(t, a, b)
	// The sender retries after its backoff; keep publishing until one
	// crosses, as a client would see it.
	var got events.Event
	require.Eventually(t, func() bool {
		probe, err := events.New(events.TaskCompleted, map[string]int{"n": 999})
		if err != nil {
			return false
		}
		a.Publish(probe)
		select {
		case got = <-subB.C:
			return true
		default:
			return false
		}
	}, 15*time.Second, 50*time.Millisecond)
	require.Equal(t, events.TaskCompleted, got.Type)
	// And the other way round.
	b.Publish(event(t, events.AgentStatus, 1000))
	require.Eventually(t, func() bool {
		for {
			select {
			case e := <-subA.C:
				if e.Type == events.AgentStatus {
					return true
				}
			default:
				return false
			}
		}
	}, 10*time.Second, 10*time.Millisecond)
}

func TestBusStopFlushesAndThenStaysLocal(t *testing.T) {
	t.Parallel()
	client := redisClient(t, testkit.RedisURL(t))
	prefix := testkit.Prefix(t)
	a := events.NewBus(events.NewHub(), client, prefix, testLogger(t))
	b := startBus(t, client, prefix)
	// Published before Start: queued, sent once started.
	a.Publish(event(t, events.TaskCreated, 1))
	subB := b.Hub().Subscribe(10, nil)
	waitSubscribed(t, b)
	a.Start(context.Background())
	require.Equal(t, events.TaskCreated, receive(t, subB).Type)
	a.Stop()
	a.Stop() // twice is harmless
	subA := a.Hub().Subscribe(10, nil)
	a.Publish(event(t, events.TaskFailed, 2))
	require.Equal(t, events.TaskFailed, receive(t, subA).Type)
	requireNothing(t, subB, 200*time.Millisecond)
}

// A burst goes out in batches (one pipeline per batch) and still reaches the
// other instance whole and in order; the Redis copy is made of the same bytes
// this instance's feeds share, so the other instance's clients get exactly
// what this one's get.
func TestBusBurstReachesOtherInstanceInOrderEncodedOnce(t *testing.T) {
	t.Parallel()
	client := redisClient(t, testkit.RedisURL(t))
	prefix := testkit.Prefix(t)
	a, b := startBus(t, client, prefix), startBus(t, client, prefix)
	waitSubscribed(t, a, b)
	const n = 500
	subB := b.Hub().Subscribe(n, nil)
	feedA, feedB := a.Feed("a", n, nil), b.Feed("b", n, nil)

	for i := range n {
		e := event(t, events.ToolExecuted, i)
		e.APIKeyID = fmt.Sprintf("key-%d", i)
		a.Publish(e)
	}
	for i := range n {
		got := receive(t, subB)
		require.Equal(t, fmt.Sprintf("key-%d", i), got.APIKeyID, "event %d out of order or lost", i)
		require.JSONEq(t, fmt.Sprintf(`{"n":%d}`, i), string(got.Data))
	}
	for i := range n {
		var ma, mb *events.Message
		select {
		case ma = <-feedA.C:
		case <-time.After(10 * time.Second):
			t.Fatalf("feed A: no event %d", i)
		}
		select {
		case mb = <-feedB.C:
		case <-time.After(10 * time.Second):
			t.Fatalf("feed B: no event %d", i)
		}
		ja, err := ma.JSON()
		require.NoError(t, err)
		jb, err := mb.JSON()
		require.NoError(t, err)
		require.JSONEq(t, string(ja), string(jb))
	}
	require.Eventually(t, func() bool { return a.Stats().Sent == n && b.Stats().Received == n }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, uint64(0), a.Stats().Dropped)
	require.Equal(t, uint64(0), b.Stats().Malformed)
}
