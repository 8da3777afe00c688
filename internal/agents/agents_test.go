package agents_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

type noEvents struct{}

func (noEvents) Publish(events.Event) {}

// max_concurrency follows one rule on create and update: 1 to the type's
// limit, refused with a message naming the field; omitted, the type's
// default. A wider agent is announced as added capacity.
func TestMaxConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := agents.NewService(db.New(testkit.Pool(t)), func(string) bool { return true }, noEvents{})
	woken := 0
	s.OnCapacity(func(context.Context) { woken++ })

	a, err := s.Create(ctx, agents.CreateParams{Name: "Finance", Type: "finance"})
	require.NoError(t, err)
	require.Equal(t, agents.DefaultConcurrency("finance"), a.MaxConcurrency)
	require.Zero(t, a.Running)
	require.Equal(t, 1, woken)
	g, err := s.Create(ctx, agents.CreateParams{Name: "General", Type: "general"})
	require.NoError(t, err)
	require.Equal(t, 2, g.MaxConcurrency)

	for _, c := range []struct {
		typ string
		n   int
	}{{"finance", 0}, {"finance", -1}, {"finance", 33}, {"general", 9}} {
		n := c.n
		_, err := s.Create(ctx, agents.CreateParams{Name: "x", Type: c.typ, MaxConcurrency: &n})
		require.True(t, apperr.Is(err, apperr.Invalid), "%s %d: %v", c.typ, n, err)
		require.Equal(t, "max_concurrency", apperr.FieldOf(err))
		require.Contains(t, apperr.MessageOf(err), "max_concurrency")
		id := a.ID
		if c.typ == "general" {
			id = g.ID
		}
		_, err = s.Update(ctx, id, agents.UpdateParams{MaxConcurrency: &n})
		require.True(t, apperr.Is(err, apperr.Invalid), "update %s %d: %v", c.typ, n, err)
		require.Equal(t, "max_concurrency", apperr.FieldOf(err))
	}
	same, err := s.Get(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a.MaxConcurrency, same.MaxConcurrency, "a refused update changed nothing")

	n := 32
	wide, err := s.Update(ctx, a.ID, agents.UpdateParams{MaxConcurrency: &n})
	require.NoError(t, err)
	require.Equal(t, 32, wide.MaxConcurrency)
	require.Equal(t, 3, woken, "created twice, widened once")
}
