package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/mcptasks"
)

// The fixtures of the suite's tasks-* scenarios (the MCP Tasks extension,
// SEP-2663), run on mcptasks' in-memory backend: the same extension code
// that serves bizmcp's durable tasks at /mcp, with fixtures whose timing the
// scenarios control.

// taskTTL keeps fixture tasks readable for the length of a suite run.
const taskTTL = 10 * time.Minute

// maxComputeSeconds bounds slow_compute: the endpoint is unauthenticated.
const maxComputeSeconds = 120

type taskFixtures struct {
	mem *mcptasks.Memory
}

// taskSupport is how each fixture tool takes part in tasks.
func taskSupport() map[string]mcptasks.Support {
	return map[string]mcptasks.Support{
		"slow_compute":        mcptasks.Optional,
		"confirm_delete":      mcptasks.Optional,
		"multi_input":         mcptasks.Optional,
		"protocol_error_job":  mcptasks.Optional,
		"failing_job":         mcptasks.Required,
		"test_tool_with_task": mcptasks.Required,
	}
}

func addTaskTools(srv *mcp.Server, mem *mcptasks.Memory) error {
	f := taskFixtures{mem: mem}
	mcp.AddTool(srv, &mcp.Tool{Name: "greet", Description: "Sync only: returns Hello, {name}!"},
		func(_ context.Context, _ *mcp.CallToolRequest, in struct {
			Name string `json:"name,omitempty"`
		}) (*mcp.CallToolResult, any, error) {
			return textResult(fmt.Sprintf("Hello, %s!", in.Name)), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "slow_compute", Description: "Task-supporting: sleeps `seconds` (0 answers at once), then returns; cancellable."}, f.slowCompute)
	mcp.AddTool(srv, &mcp.Tool{Name: "failing_job", Description: "Task-required: after about a second, a tool execution error (completed, isError)."}, f.failingJob)
	mcp.AddTool(srv, &mcp.Tool{Name: "protocol_error_job", Description: "Task-supporting: fails with a protocol error (status failed)."}, f.protocolErrorJob)
	mcp.AddTool(srv, &mcp.Tool{Name: "confirm_delete", Description: "Task-supporting: asks for a confirmation (input_required), then completes."}, f.confirmDelete)
	mcp.AddTool(srv, &mcp.Tool{Name: "multi_input", Description: "Task-supporting: asks two questions at once; answers may come one at a time."}, f.multiInput)
	mcp.AddTool(srv, &mcp.Tool{Name: "test_tool_with_task", Description: "Task-required: asks for user_name (input-required), then runs as a task that greets the name."}, f.toolWithTask)
	return mcptasks.Install(srv, mem, taskSupport())
}

// dispatch runs work as a task when the call asked for one, else at once.
func (f taskFixtures) dispatch(ctx context.Context, req *mcp.CallToolRequest, work mcptasks.RunFunc) (*mcp.CallToolResult, any, error) {
	if mcptasks.Requested(ctx) {
		mcptasks.Created(ctx, f.mem.Start(mcptasks.Owner(req), work))
		return &mcp.CallToolResult{}, nil, nil
	}
	res, err := work(ctx, nil)
	return res, nil, err
}

type computeArgs struct {
	Seconds float64 `json:"seconds,omitempty"`
	Label   string  `json:"label,omitempty"`
}

func (f taskFixtures) slowCompute(ctx context.Context, req *mcp.CallToolRequest, in computeArgs) (*mcp.CallToolResult, any, error) {
	if in.Seconds < 0 || in.Seconds > maxComputeSeconds {
		return nil, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("seconds must be from 0 to %d", maxComputeSeconds)}
	}
	return f.dispatch(ctx, req, func(ctx context.Context, _ *mcptasks.Input) (*mcp.CallToolResult, error) {
		if err := sleep(ctx, time.Duration(in.Seconds*float64(time.Second))); err != nil {
			return nil, err
		}
		return textResult(fmt.Sprintf("slow_compute %q finished after %gs", in.Label, in.Seconds)), nil
	})
}

func (f taskFixtures) failingJob(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	return f.dispatch(ctx, req, func(ctx context.Context, _ *mcptasks.Input) (*mcp.CallToolResult, error) {
		if err := sleep(ctx, time.Second); err != nil {
			return nil, err
		}
		res := &mcp.CallToolResult{}
		res.SetError(errors.New("failing_job failed, as it always does"))
		return res, nil
	})
}

func (f taskFixtures) protocolErrorJob(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	return f.dispatch(ctx, req, func(context.Context, *mcptasks.Input) (*mcp.CallToolResult, error) {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "protocol_error_job: internal error, as it always does"}
	})
}

// ask puts questions to the client of a task; a call that is not a task
// cannot park, so it is told to declare the extension.
func ask(ctx context.Context, in *mcptasks.Input, reqs mcp.InputRequestMap) (mcp.InputResponseMap, error) {
	if in == nil {
		return nil, &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities,
			Message: "this tool asks questions as a task: declare the " + mcptasks.ExtensionID + " extension"}
	}
	return in.Ask(ctx, reqs)
}

func confirmSchema() *jsonschema.Schema {
	return objectSchema("confirm", map[string]*jsonschema.Schema{"confirm": {Type: "boolean"}})
}

func (f taskFixtures) confirmDelete(ctx context.Context, req *mcp.CallToolRequest, in struct {
	Filename string `json:"filename,omitempty"`
}) (*mcp.CallToolResult, any, error) {
	return f.dispatch(ctx, req, func(ctx context.Context, input *mcptasks.Input) (*mcp.CallToolResult, error) {
		answers, err := ask(ctx, input, mcp.InputRequestMap{
			"confirm": &mcp.ElicitParams{Message: fmt.Sprintf("Delete %q?", in.Filename), RequestedSchema: confirmSchema()},
		})
		if err != nil {
			return nil, err
		}
		if accepted(answers, "confirm") == nil {
			return textResult(fmt.Sprintf("deletion of %q not confirmed: nothing deleted", in.Filename)), nil
		}
		return textResult(fmt.Sprintf("deleted %q", in.Filename)), nil
	})
}

func (f taskFixtures) multiInput(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	return f.dispatch(ctx, req, func(ctx context.Context, in *mcptasks.Input) (*mcp.CallToolResult, error) {
		answers, err := ask(ctx, in, mcp.InputRequestMap{
			"first":  &mcp.ElicitParams{Message: "First question: your name?", RequestedSchema: nameSchema()},
			"second": &mcp.ElicitParams{Message: "Second question: confirm?", RequestedSchema: confirmSchema()},
		})
		if err != nil {
			return nil, err
		}
		return textResult(fmt.Sprintf("received %d answers", len(answers))), nil
	})
}

func (f taskFixtures) toolWithTask(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	name, _ := accepted(req.Params.InputResponses, "user_name")["name"].(string)
	if name == "" {
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
			"user_name": &mcp.ElicitParams{Message: "What is your name?", RequestedSchema: nameSchema()},
		}}, nil, nil
	}
	return f.dispatch(ctx, req, func(ctx context.Context, _ *mcptasks.Input) (*mcp.CallToolResult, error) {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
		return textResult(fmt.Sprintf("Hello, %s! (from a task)", name)), nil
	})
}
