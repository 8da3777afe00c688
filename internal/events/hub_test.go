package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHubDeliversAndFilters(t *testing.T) {
	t.Parallel()
	h := NewHub()
	all := h.Subscribe(10, nil)
	onlyTask := h.Subscribe(10, func(e Event) bool { return e.TaskID == "t1" })
	e1, err := New(ToolExecuted, map[string]int{"n": 1})
	require.NoError(t, err)
	e2 := e1
	e2.TaskID = "t1"
	h.Publish(e1)
	h.Publish(e2)
	require.Equal(t, e1, <-all.C)
	require.Equal(t, e2, <-all.C)
	require.Equal(t, e2, <-onlyTask.C)
	require.Empty(t, onlyTask.C)
	all.Close()
	_, open := <-all.C
	require.False(t, open)
	require.Equal(t, 1, h.Subscribers())
}

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	t.Parallel()
	h := NewHub()
	slow := h.Subscribe(2, nil)
	fast := h.Subscribe(100, nil)
	e, err := New(ToolExecuted, nil)
	require.NoError(t, err)
	for range 5 {
		h.Publish(e) // never blocks, though slow reads nothing
	}
	require.True(t, slow.Dropped())
	require.False(t, fast.Dropped())
	require.Len(t, fast.C, 5)
	n := 0
	for range slow.C {
		n++
	}
	require.Equal(t, 2, n, "the buffered events, then closed")
	slow.Close() // closing a dropped subscription is harmless
}
