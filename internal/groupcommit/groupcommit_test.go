package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/groupcommit"
)

// doubler answers each call with twice its input, records the batch sizes,
// and holds the first flush until release is closed.
type doubler struct {
	held, release chan struct{}
	once          sync.Once
	mu            sync.Mutex
	batches       []int
}

func newDoubler() *doubler {
	return &doubler{held: make(chan struct{}), release: make(chan struct{})}
}

func (d *doubler) flush(_ context.Context, batch []*groupcommit.Call[int, int]) {
	d.once.Do(func() {
		close(d.held)
		<-d.release
	})
	d.mu.Lock()
	d.batches = append(d.batches, len(batch))
	d.mu.Unlock()
	for _, c := range batch {
		if c.In < 0 {
			c.Finish(0, errors.New("negative"))
			continue
		}
		c.Finish(2*c.In, nil)
	}
}

func TestCallsArrivingDuringAFlushShareTheNext(t *testing.T) {
	t.Parallel()
	d := newDoubler()
	g := groupcommit.New(4, d.flush)
	ctx := t.Context()

	type answer struct{ in, out int }
	answers := make(chan answer, 11)
	go func() {
		out, err := g.Do(ctx, 100)
		assert.NoError(t, err)
		answers <- answer{100, out}
	}()
	<-d.held // the first call is in flight, alone
	for i := range 10 {
		go func() {
			out, err := g.Do(ctx, i)
			assert.NoError(t, err)
			answers <- answer{i, out}
		}()
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, 10, g.Queued())
	}, 10*time.Second, time.Millisecond)
	require.False(t, g.Idle())
	close(d.release)

	for range 11 {
		a := <-answers
		require.Equal(t, 2*a.in, a.out, "each call gets its own answer")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, g.Idle())
	}, 10*time.Second, time.Millisecond)
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Equal(t, []int{1, 4, 4, 2}, d.batches, "the leader alone, then the queue in batches of at most 4")
}

func TestEachCallGetsItsOwnError(t *testing.T) {
	t.Parallel()
	d := newDoubler()
	close(d.release)
	g := groupcommit.New(4, d.flush)
	_, err := g.Do(t.Context(), -1)
	require.EqualError(t, err, "negative")
	out, err := g.Do(t.Context(), 3)
	require.NoError(t, err)
	require.Equal(t, 6, out)
	require.True(t, g.Idle(), "a lone call leaves the group idle when it returns")
}

func TestAWaitingCallerStopsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	d := newDoubler()
	g := groupcommit.New(4, d.flush)
	go func() { _, _ = g.Do(context.Background(), 1) }()
	<-d.held

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := g.Do(ctx, 2)
		errc <- err
	}()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, 1, g.Queued())
	}, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	close(d.release)
	// The call was still sent, with the next batch.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, g.Idle())
	}, 10*time.Second, time.Millisecond)
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Equal(t, []int{1, 1}, d.batches)
}
