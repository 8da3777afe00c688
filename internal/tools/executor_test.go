package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/testkit"
	"github.com/bizmcp/bizmcp/internal/tools"
)

func testTool(name string, run func(context.Context, tools.Call) (tools.Output, error)) tools.Tool {
	return tools.Tool{
		Name: name, Description: "test", Scope: auth.ScopeRead, Timeout: 200 * time.Millisecond,
		InputSchema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"}},"additionalProperties":false}`),
		Run:         run,
	}
}

func setup(t *testing.T, defs ...tools.Tool) (*tools.Executor, *db.Queries, *events.Hub) {
	t.Helper()
	q := db.New(testkit.Pool(t))
	reg, err := tools.NewRegistry(q, defs...)
	require.NoError(t, err)
	require.NoError(t, reg.Sync(context.Background()))
	hub := events.NewHub()
	return tools.NewExecutor(reg, q, hub, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil))), q, hub
}

// A tool that panics fails its own call; the executor, and the process,
// live on, and the failure is recorded.
func TestPanickingToolFailsOnlyItsCall(t *testing.T) {
	t.Parallel()
	exec, q, hub := setup(t,
		testTool("explodes", func(context.Context, tools.Call) (tools.Output, error) { panic("boom") }),
		testTool("works", func(context.Context, tools.Call) (tools.Output, error) {
			return tools.Output{Result: map[string]int{"ok": 1}}, nil
		}),
	)
	sub := hub.Subscribe(10, nil)
	ex, err := exec.Execute(context.Background(), tools.Request{Tool: "explodes", Source: tools.SourceAgent})
	require.True(t, apperr.Is(err, apperr.Internal))
	require.Equal(t, "failed", ex.Status)
	require.Contains(t, ex.Error, "failed unexpectedly")
	row, err := q.ToolExecutionGet(context.Background(), ex.ID)
	require.NoError(t, err)
	require.NotNil(t, row.Error)

	ex, err = exec.Execute(context.Background(), tools.Request{Tool: "works", Arguments: json.RawMessage(`{"n":2}`), Source: tools.SourceREST})
	require.NoError(t, err)
	require.JSONEq(t, `{"ok":1}`, string(ex.Result))
	require.Len(t, sub.C, 2, "both runs were published")
}

func TestTimeoutAndValidation(t *testing.T) {
	t.Parallel()
	exec, _, _ := setup(t, testTool("slow", func(ctx context.Context, _ tools.Call) (tools.Output, error) {
		<-ctx.Done()
		return tools.Output{}, ctx.Err()
	}))
	ex, err := exec.Execute(context.Background(), tools.Request{Tool: "slow", Source: tools.SourceREST})
	require.True(t, apperr.Is(err, apperr.Unavailable))
	require.Contains(t, ex.Error, "did not finish within 200ms")

	for _, args := range []string{`{"n":"two"}`, `{"m":1}`, `[1]`, `not json`} {
		ex, err := exec.Execute(context.Background(), tools.Request{Tool: "slow", Arguments: json.RawMessage(args), Source: tools.SourceREST})
		require.True(t, apperr.Is(err, apperr.Invalid), args)
		require.Equal(t, "failed", ex.Status, args)
	}
	_, err = exec.Execute(context.Background(), tools.Request{Tool: "nope"})
	require.True(t, apperr.Is(err, apperr.NotFound))
}
