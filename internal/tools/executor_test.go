package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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

// A run that could not be recorded has no id: the REST API puts the id of a
// failed run in its problem document, and an id of nothing would send the
// client to a 404.
func TestUnrecordedRunHasNoID(t *testing.T) {
	t.Parallel()
	pool := testkit.Pool(t)
	q := db.New(pool)
	reg, err := tools.NewRegistry(q, testTool("works", func(context.Context, tools.Call) (tools.Output, error) {
		return tools.Output{Result: map[string]int{"ok": 1}}, nil
	}))
	require.NoError(t, err)
	require.NoError(t, reg.Sync(context.Background()))
	exec := tools.NewExecutor(reg, q, events.NewHub(), metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))

	ex, err := exec.Execute(context.Background(), tools.Request{Tool: "works", Source: tools.SourceREST})
	require.NoError(t, err)
	require.NotEqual(t, uuid.Nil, ex.ID)

	_, err = pool.Exec(context.Background(), "ALTER TABLE mcp.tool_executions ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
	require.NoError(t, err)
	ex, err = exec.Execute(context.Background(), tools.Request{Tool: "works", Source: tools.SourceREST})
	require.Error(t, err)
	require.Equal(t, uuid.Nil, ex.ID, "nothing was recorded, so there is no id to point to")
}

// Arguments PostgreSQL cannot store are refused before the run and recorded
// as the reason, and a result beyond the bound is refused as too large.
func TestArgumentsAndResultsAreStorable(t *testing.T) {
	t.Parallel()
	exec, q, _ := setup(t,
		tools.Tool{
			Name: "echo", Description: "test", Scope: auth.ScopeRead,
			InputSchema: json.RawMessage(`{"type":"object"}`),
			Run: func(_ context.Context, c tools.Call) (tools.Output, error) {
				return tools.Output{Result: c.Arguments}, nil
			},
		},
		testTool("huge", func(context.Context, tools.Call) (tools.Output, error) {
			return tools.Output{Result: strings.Repeat("x", tools.MaxResultBytes)}, nil
		}),
	)
	for args, want := range map[string]string{
		`{"a":"\u0000"}`:                 `arguments.a contains a NUL character`,
		"{\"a\":\"\xff\"}":               `arguments.a is not valid UTF-8`,
		`{"a":["\ud800"]}`:               `arguments.a[0] contains a lone UTF-16 high surrogate`,
		`{"a":{"\u0000":1}}`:             `a key in arguments.a contains a NUL character`,
		`{"n":1e999}`:                    `arguments.n is 1e999, beyond the range`,
		`{"deep":` + deepJSON(100) + `}`: `nests objects and arrays more than 64 levels deep`,
	} {
		ex, err := exec.Execute(context.Background(), tools.Request{Tool: "echo", Arguments: json.RawMessage(args), Source: tools.SourceMCP})
		require.True(t, apperr.Is(err, apperr.Invalid), "%q: %v", args, err)
		require.Contains(t, ex.Error, want)
		row, err := q.ToolExecutionGet(context.Background(), ex.ID)
		require.NoError(t, err, "the refused run is recorded")
		var params map[string]string
		require.NoError(t, json.Unmarshal(row.Parameters, &params))
		require.Contains(t, params["omitted"], want, "the record says why, instead of holding the arguments")
	}

	ex, err := exec.Execute(context.Background(), tools.Request{Tool: "huge", Source: tools.SourceMCP})
	require.True(t, apperr.Is(err, apperr.TooLarge), "%v", err)
	require.Contains(t, ex.Error, "the result of huge would be")
	require.Nil(t, ex.Result)
}

func deepJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
