package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/testkit"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// echoLLM stands in for an external provider: it answers with the prompt,
// so llm_processor's path and whatever a client's prompt becomes in the
// result are exercised without a network.
type echoLLM struct{}

func (echoLLM) Configured() bool { return true }

func (echoLLM) Complete(_ context.Context, req tools.CompletionRequest) (tools.Completion, error) {
	return tools.Completion{Content: req.Prompt, Provider: "echo", Model: "echo", TotalTokens: int64(len(req.Prompt))}, nil
}

// toolSeeds are valid arguments for every built-in tool, the starting
// points of FuzzToolArguments.
var toolSeeds = map[string][]string{
	"financial_analyzer": {
		`{"data":[{"period":"Q1","revenue":1000,"costs":700,"investment":100},{"period":"Q2","revenue":1200,"costs":800}]}`,
		`{"analysis_type":"growth","data":[{"period":"a","revenue":0,"costs":0},{"period":"b","revenue":1e100,"costs":1}]}`,
	},
	"sales_forecaster": {
		`{"series":[10,12,14,13,15,17,16,18],"horizon":3,"season_length":4,"confidence":0.9}`,
		`{"series":[1,1]}`,
	},
	"customer_segmenter": {
		`{"customers":[{"customer_id":"c1","last_purchase_date":"2026-01-01","frequency":3,"monetary":120.5},{"customer_id":"c2","last_purchase_date":"2025-06-30","frequency":1,"monetary":10}],"reference_date":"2026-02-01"}`,
		`{"transactions":[{"customer_id":"a","date":"2026-01-01","amount":5},{"customer_id":"a","date":"2026-01-03","amount":7}]}`,
	},
	"data_analyzer": {
		`{"csv":"a,b,c\n1,2,x\n3,4,y\n5,,z\n"}`,
		`{"rows":[{"a":1,"b":"x"},{"a":2.5,"b":null}],"columns":["a"]}`,
	},
	"report_generator": {
		`{"title":"Q review","summary":"ok","sections":[{"heading":"Table","data":[{"a":1,"b":"x|y"}]},{"heading":"Raw","data":{"k":[1,{"n":2}]}}]}`,
		`{"title":"T","sections":[{"heading":"H","content":"text"}]}`,
	},
	"llm_processor": {
		`{"prompt":"Summarise the quarter.","system":"Be brief.","max_tokens":100}`,
	},
}

// FuzzToolArguments runs every built-in tool through the executor with
// arbitrary arguments (which picks the tool) against the real database:
// never a panic or an internal error, every run recorded and readable by
// the id it returns, whatever the arguments hold.
func FuzzToolArguments(f *testing.F) {
	pool := testkit.Pool(f)
	q := db.New(pool)
	builtins, err := tools.Builtins(echoLLM{})
	require.NoError(f, err)
	reg, err := tools.NewRegistry(q, builtins...)
	require.NoError(f, err)
	require.NoError(f, reg.Sync(context.Background()))
	exec := tools.NewExecutor(reg, q, events.NewHub(), metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	names := reg.Names()
	require.Len(f, toolSeeds, len(names), "a seed for every tool")
	for i, name := range names {
		for _, seed := range toolSeeds[name] {
			f.Add(uint8(i), []byte(seed))
		}
		f.Add(uint8(i), []byte(`{"title":"\u0000"}`))
	}

	f.Fuzz(func(t *testing.T, which uint8, args []byte) {
		name := names[int(which)%len(names)]
		ex, err := exec.Execute(context.Background(), tools.Request{Tool: name, Arguments: args, Source: tools.SourceMCP})
		if err != nil {
			switch c := apperr.CodeOf(err); c {
			case apperr.Invalid, apperr.TooLarge:
			default:
				t.Fatalf("%s(%q): error code %q: %v", name, args, c, err)
			}
			require.Equal(t, "failed", ex.Status)
		}
		require.NotEqual(t, uuid.Nil, ex.ID, "%s(%q): the run was not recorded: %v", name, args, err)
		row, err := q.ToolExecutionGet(context.Background(), ex.ID)
		require.NoError(t, err, "%s(%q): its record can be read", name, args)
		require.True(t, json.Valid(row.Parameters))
	})
}
