package events

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFeedsShareOneMessage: every feed that takes an event gets the same
// message, encoded once and prepared once whoever asks.
func TestFeedsShareOneMessage(t *testing.T) {
	t.Parallel()
	h := NewHub()
	var feeds []*Feed
	for range 20 {
		feeds = append(feeds, h.Feed("all", 4, nil))
	}
	e, err := New(AgentStatus, map[string]string{"status": "paused"})
	require.NoError(t, err)
	h.Publish(e)

	var prepared int
	var wg sync.WaitGroup
	got := make([]*Message, len(feeds))
	vals := make([]any, len(feeds))
	for i, f := range feeds {
		wg.Go(func() {
			m := <-f.C
			got[i] = m
			vals[i], _ = m.Prepared(func(b []byte) (any, error) {
				prepared++ // racy if prepare ran twice: -race would say so
				return string(b), nil
			})
		})
	}
	wg.Wait()
	for i := range got {
		require.Same(t, got[0], got[i])
		require.Equal(t, vals[0], vals[i])
	}
	require.Equal(t, 1, prepared)
	b, err := got[0].JSON()
	require.NoError(t, err)
	var back Event
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, e.Type, back.Type)
	require.JSONEq(t, string(e.Data), string(back.Data))
	require.Equal(t, 20, h.Subscribers())
}

// TestFeedGroupsFilterOncePerGroup: the filter of a group runs once per
// event for all its feeds, and groups see different events.
func TestFeedGroupsFilterOncePerGroup(t *testing.T) {
	t.Parallel()
	h := NewHub()
	calls := 0
	onlyT1 := func(e Event) bool { calls++; return e.TaskID == "t1" }
	a1 := h.Feed("task t1", 4, onlyT1)
	a2 := h.Feed("task t1", 4, onlyT1)
	b := h.Feed("everything", 4, nil)
	e1, err := New(TaskProgress, nil)
	require.NoError(t, err)
	e2 := e1
	e2.TaskID = "t1"
	h.Publish(e1)
	h.Publish(e2)
	require.Equal(t, 2, calls, "once per event for the group of two")
	require.Equal(t, "t1", (<-a1.C).Event.TaskID)
	require.Equal(t, "t1", (<-a2.C).Event.TaskID)
	require.Empty(t, a1.C)
	require.Equal(t, "", (<-b.C).Event.TaskID)
	require.Equal(t, "t1", (<-b.C).Event.TaskID)

	// The group lives on while one feed does, and goes with the last.
	a1.Close()
	_, open := <-a1.C
	require.False(t, open)
	h.Publish(e2)
	require.Equal(t, "t1", (<-a2.C).Event.TaskID)
	a2.Close()
	a2.Close() // harmless
	require.Len(t, h.groups, 1)
	require.Equal(t, 1, h.Subscribers())
}

// TestSlowFeedIsDroppedOthersServed: a feed whose queue is full is dropped
// and closed, the others of its group get every event, and the group's
// bookkeeping stays right (no feed skipped when one is removed mid-loop).
func TestSlowFeedIsDroppedOthersServed(t *testing.T) {
	t.Parallel()
	h := NewHub()
	var fast []*Feed
	var slow []*Feed
	for i := range 10 {
		if i%3 == 0 {
			slow = append(slow, h.Feed("g", 2, nil))
		} else {
			fast = append(fast, h.Feed("g", 100, nil))
		}
	}
	e, err := New(ToolExecuted, nil)
	require.NoError(t, err)
	for range 5 {
		h.Publish(e)
	}
	for _, f := range slow {
		require.True(t, f.Dropped())
		n := 0
		for range f.C {
			n++
		}
		require.Equal(t, 2, n, "the queued messages, then closed")
		f.Close() // closing a dropped feed is harmless
	}
	for _, f := range fast {
		require.False(t, f.Dropped())
		require.Len(t, f.C, 5)
	}
	require.Equal(t, len(fast), h.Subscribers())
	require.Len(t, h.groups["g"].feeds, len(fast))
	for i, f := range h.groups["g"].feeds {
		require.Equal(t, i, f.at)
	}
}
