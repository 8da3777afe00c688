package ratelimit

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys NewLocal tracks at most. An entry
// costs roughly 150 bytes (key, timestamp, map and heap slots), so the cap
// bounds the limiter to about 15 MB even when the keys come from outside
// (client IPs of a login flood).
const DefaultMaxKeys = 100_000

// Local is an in-process GCRA limiter with the same semantics as Redis
// (rate perMinute per minute, burst perMinute; the same Remaining, RetryAfter
// and ResetAfter), but a budget private to this process. It is safe for
// concurrent use. Its integer arithmetic is exact where redis_rate's float
// seconds are not: at exact boundaries (7 per minute, first request) Redis may
// report one Remaining less than Local.
//
// Memory stays bounded without a background goroutine: a key whose budget is
// full again behaves exactly like a key never seen, so it is dropped. Keys
// are kept in a min-heap on the time their budget is full again, and every
// Allow first pops the keys whose time has passed, which costs O(log n) per
// dropped key and nothing when none is due. On top of that, the number of
// keys is capped (see NewLocalWithMaxKeys).
type Local struct {
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
	byFull  fullHeap
}

// bucket is GCRA's whole state for one key: the theoretical arrival time
// (TAT). The key's budget is full again at tat; each allowed request moves
// tat one emission interval (a minute / perMinute) further.
type bucket struct {
	key   string
	tat   time.Time
	index int // position in Local.byFull, maintained by the heap
}

// NewLocal returns a Local tracking at most DefaultMaxKeys keys. now is the
// clock, injectable for tests; nil means time.Now.
func NewLocal(now func() time.Time) *Local {
	return NewLocalWithMaxKeys(now, DefaultMaxKeys)
}

// NewLocalWithMaxKeys returns a Local tracking at most maxKeys keys (at least
// 1). When a new key arrives while maxKeys are tracked, the key whose budget
// is closest to full is forgotten: that forgives the fewest requests of any
// choice, so a flood of new keys can only ever reset keys that were nearly
// reset anyway (unless the flood exceeds maxKeys keys per minute).
func NewLocalWithMaxKeys(now func() time.Time, maxKeys int) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{
		now:     now,
		maxKeys: max(maxKeys, 1),
		buckets: make(map[string]*bucket),
	}
}

// Allow implements Limiter. ctx is unused: the answer never waits, and
// the fallback must answer even for a request whose Redis call timed out.
//
// The arithmetic mirrors redis_rate's Lua script line by line, in integer
// nanoseconds instead of float seconds.
func (l *Local) Allow(_ context.Context, key string, perMinute int) (Result, error) {
	if err := checkPerMinute(perMinute); err != nil {
		return Result{}, err
	}
	emission := time.Minute / time.Duration(perMinute)
	// Computed from emission rather than taken as a minute, so that exactly
	// perMinute requests fit in an empty bucket even when a minute is not a
	// multiple of perMinute nanoseconds.
	burstOffset := emission * time.Duration(perMinute)

	l.mu.Lock()
	defer l.mu.Unlock()

	now := l.now()
	l.pruneLocked(now)

	b := l.buckets[key]
	tat := now
	if b != nil && b.tat.After(now) {
		tat = b.tat
	}
	newTAT := tat.Add(emission)
	allowAt := newTAT.Add(-burstOffset)
	diff := now.Sub(allowAt)
	if diff < 0 {
		// Denied requests do not move tat: a client hammering a closed
		// limit does not push its own reopening further away.
		return Result{Limit: perMinute, RetryAfter: -diff, ResetAfter: tat.Sub(now)}, nil
	}

	if b == nil {
		l.insertLocked(key, newTAT)
	} else {
		b.tat = newTAT
		heap.Fix(&l.byFull, b.index)
	}
	return Result{
		Allowed:    true,
		Limit:      perMinute,
		Remaining:  int(diff / emission),
		ResetAfter: newTAT.Sub(now),
	}, nil
}

// Len returns the number of keys currently tracked, for tests and a memory
// gauge.
func (l *Local) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// pruneLocked forgets every key whose budget is full at now.
func (l *Local) pruneLocked(now time.Time) {
	for len(l.byFull) > 0 && !l.byFull[0].tat.After(now) {
		b := heap.Pop(&l.byFull).(*bucket)
		delete(l.buckets, b.key)
	}
}

// insertLocked adds a key, first making room by forgetting the key closest to
// a full budget when the cap is reached.
func (l *Local) insertLocked(key string, tat time.Time) {
	for len(l.buckets) >= l.maxKeys {
		b := heap.Pop(&l.byFull).(*bucket)
		delete(l.buckets, b.key)
	}
	b := &bucket{key: key, tat: tat}
	l.buckets[key] = b
	heap.Push(&l.byFull, b)
}

// fullHeap orders buckets by the time their budget is full again, soonest
// first; it implements heap.Interface.
type fullHeap []*bucket

func (h fullHeap) Len() int           { return len(h) }
func (h fullHeap) Less(i, j int) bool { return h[i].tat.Before(h[j].tat) }

func (h fullHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *fullHeap) Push(x any) {
	b := x.(*bucket)
	b.index = len(*h)
	*h = append(*h, b)
}

func (h *fullHeap) Pop() any {
	old := *h
	n := len(old)
	b := old[n-1]
	old[n-1] = nil // let the bucket be collected
	*h = old[:n-1]
	return b
}
