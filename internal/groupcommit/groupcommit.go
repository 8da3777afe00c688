// Package groupcommit lets concurrent callers share round trips to a store.
//
// A call that finds no round trip in flight is sent at once, alone (no timer
// delays it); calls that arrive while one is in flight queue up and go
// together in the next round trip, at most Max at a time, until none is
// left. The execution log (one multi-row INSERT per batch) and the Redis
// rate limit (one pipeline of scripts per batch) both work this way.
package groupcommit

import (
	"context"
	"sync"
)

// Call is one caller's input waiting for its batch; Flush finishes it.
type Call[In, Out any] struct {
	In   In
	out  Out
	err  error
	done chan struct{}
}

// NewCall returns a call waiting for in's answer; Do makes its own, and a
// test may make some to drive a flush function directly.
func NewCall[In, Out any](in In) *Call[In, Out] {
	return &Call[In, Out]{In: in, done: make(chan struct{})}
}

// Wait returns the call's answer once it is finished.
func (c *Call[In, Out]) Wait() (Out, error) {
	<-c.done
	return c.out, c.err
}

// Finish gives the call its answer. Flush must finish every call of its
// batch exactly once.
func (c *Call[In, Out]) Finish(out Out, err error) {
	c.out, c.err = out, err
	close(c.done)
}

// Group batches calls for one store.
type Group[In, Out any] struct {
	max   int
	flush func(ctx context.Context, batch []*Call[In, Out])

	mu    sync.Mutex
	queue []*Call[In, Out]
	busy  bool
}

// New returns a group that sends batches of at most max calls through
// flush. flush runs on the goroutine of the call that found the group idle
// (with that call's context, its batch being that call alone) or on a
// goroutine of the group's own that drains the queue (with that context
// without its cancellation: a batch serves several callers).
func New[In, Out any](max int, flush func(ctx context.Context, batch []*Call[In, Out])) *Group[In, Out] {
	return &Group[In, Out]{max: max, flush: flush}
}

// Do sends in with the next round trip and returns its answer. A call that
// finds the group idle is sent at once and its caller then returns: the
// calls queued meanwhile are drained by a goroutine. A waiting caller stops
// waiting when ctx ends; its call may still be sent.
func (g *Group[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	c := NewCall[In, Out](in)
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if lead {
		// Nothing was in flight, so the queue held only c.
		g.flush(ctx, g.take())
		if g.more() {
			go g.drain(context.WithoutCancel(ctx))
		}
	}
	select {
	case <-c.done: // a leader's call is already answered
		return c.out, c.err
	default:
	}
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// take removes up to max queued calls.
func (g *Group[In, Out]) take() []*Call[In, Out] {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := min(len(g.queue), g.max)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	if len(g.queue) == 0 {
		g.queue = nil
	}
	return batch
}

// more reports whether calls wait, and otherwise ends the busy state, under
// one lock, so that a call queued just after is led by its caller.
func (g *Group[In, Out]) more() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) > 0 {
		return true
	}
	g.busy = false
	return false
}

// drain sends batches until the queue is empty.
func (g *Group[In, Out]) drain(ctx context.Context) {
	for {
		g.flush(ctx, g.take())
		if !g.more() {
			return
		}
	}
}

// Queued is how many calls wait for the next round trip.
func (g *Group[In, Out]) Queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// Idle reports whether nothing is queued or in flight.
func (g *Group[In, Out]) Idle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.busy && len(g.queue) == 0
}
