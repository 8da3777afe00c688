package mcptasks_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
)

func waitStatus(t *testing.T, m *mcptasks.Memory, owner, id string, want mcptasks.Status) mcptasks.Task {
	t.Helper()
	var got mcptasks.Task
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		got, err = m.Get(context.Background(), owner, id)
		if assert.NoError(c, err) {
			assert.Equal(c, want, got.Status)
		}
	}, 10*time.Second, 5*time.Millisecond)
	return got
}

func accept(content string) json.RawMessage {
	return json.RawMessage(`{"action":"accept","content":{"v":"` + content + `"}}`)
}

// A task asking two questions stays input_required, showing only the open
// ones, until both are answered; answers to questions never asked are
// ignored; then it completes with what it was told.
func TestMemoryPartialAnswers(t *testing.T) {
	t.Parallel()
	m := mcptasks.NewMemory(time.Minute)
	ctx := context.Background()
	task := m.Start("alice", func(ctx context.Context, in *mcptasks.Input) (*mcp.CallToolResult, error) {
		answers, err := in.Ask(ctx, mcp.InputRequestMap{
			"a": &mcp.ElicitParams{Message: "a?"}, "b": &mcp.ElicitParams{Message: "b?"},
		})
		if err != nil {
			return nil, err
		}
		a := answers["a"].(*mcp.ElicitResult).Content["v"]
		b := answers["b"].(*mcp.ElicitResult).Content["v"]
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.(string) + b.(string)}}}, nil
	})
	got := waitStatus(t, m, "alice", task.ID, mcptasks.InputRequired)
	require.Len(t, got.InputRequests, 2)

	ignored, err := m.Update(ctx, "alice", task.ID, map[string]json.RawMessage{"a": accept("x"), "zzz": json.RawMessage(`1`)})
	require.NoError(t, err)
	require.Equal(t, []string{"zzz"}, ignored, "an answer to a question never asked is ignored")
	got = waitStatus(t, m, "alice", task.ID, mcptasks.InputRequired)
	require.Len(t, got.InputRequests, 1)
	require.Contains(t, got.InputRequests, "b")

	// A second answer to "a" is ignored: the first one stands.
	ignored, err = m.Update(ctx, "alice", task.ID, map[string]json.RawMessage{"a": accept("changed")})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ignored)

	// An answer that is not one fails the whole update: nothing applied.
	_, err = m.Update(ctx, "alice", task.ID, map[string]json.RawMessage{"b": json.RawMessage(`12345`)})
	require.ErrorContains(t, err, "not an answer")
	got = waitStatus(t, m, "alice", task.ID, mcptasks.InputRequired)
	require.Contains(t, got.InputRequests, "b")

	ignored, err = m.Update(ctx, "alice", task.ID, map[string]json.RawMessage{"b": accept("y")})
	require.NoError(t, err)
	require.Empty(t, ignored)
	got = waitStatus(t, m, "alice", task.ID, mcptasks.Completed)
	require.Equal(t, "xy", got.Result.Content[0].(*mcp.TextContent).Text)

	// A task that asks nothing now takes nothing.
	ignored, err = m.Update(ctx, "alice", task.ID, map[string]json.RawMessage{"b": accept("late")})
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, ignored)
	_, err = m.Update(ctx, "bob", task.ID, map[string]json.RawMessage{"b": accept("y")})
	require.True(t, apperr.Is(err, apperr.NotFound), "another owner's task is not found")

	_, err = m.Get(ctx, "bob", task.ID)
	require.True(t, apperr.Is(err, apperr.NotFound), "another owner's task is not found")
}

func TestMemoryCancelStopsTheWorkAndStays(t *testing.T) {
	t.Parallel()
	m := mcptasks.NewMemory(time.Minute)
	ctx := context.Background()
	stopped := make(chan struct{})
	task := m.Start("", func(ctx context.Context, _ *mcptasks.Input) (*mcp.CallToolResult, error) {
		<-ctx.Done()
		close(stopped)
		return &mcp.CallToolResult{}, nil // a late result must not undo the cancellation
	})
	require.NoError(t, m.Cancel(ctx, "", task.ID))
	<-stopped
	require.NoError(t, m.Cancel(ctx, "", task.ID), "cancelling again is acknowledged")
	got := waitStatus(t, m, "", task.ID, mcptasks.Cancelled)
	require.Nil(t, got.Result)

	failing := m.Start("", func(context.Context, *mcptasks.Input) (*mcp.CallToolResult, error) { panic("boom") })
	got = waitStatus(t, m, "", failing.ID, mcptasks.Failed)
	require.Contains(t, got.Error.Message, "boom")
}
