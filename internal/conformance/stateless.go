package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/mcpstate"
)

// The fixtures below serve the scenarios of revision 2026-07-28 (the suite's
// `--requirements 2026-07-28`): the stateless diagnostics of SEP-2575, the
// custom-header tool of SEP-2243 and the multi round-trip tools and prompt of
// SEP-2322. Their names and texts follow the Go SDK's everything-server,
// which the suite's scenarios were written against.

// listTTL is the caching hint (SEP-2549) on the fixtures' list results: they
// change only when a test_trigger_* tool runs, which also notifies listeners.
const listTTL = 60 * time.Second

// setCacheable gives every cacheable result of the fixtures a caching hint.
// The fixtures are the same for every client, hence public.
func setCacheable(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
	c.TTLMs = int(listTTL / time.Millisecond)
	c.CacheScope = "public"
}

func addStatelessTools(srv *mcp.Server, sealer *mcpstate.Sealer) {
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "test_x_mcp_header",
		Description: "Mirrors its region argument into the Mcp-Param-Region header (SEP-2243).",
		InputSchema: json.RawMessage(`{"type":"object","properties":{
			"region":{"type":"string","description":"mirrored into Mcp-Param-Region","x-mcp-header":"Region"},
			"level":{"type":"integer","description":"non-mirrored argument"}}}`),
	}, func(_ context.Context, _ *mcp.CallToolRequest, in struct {
		Region string `json:"region,omitempty"`
		Level  int    `json:"level,omitempty"`
	}) (*mcp.CallToolResult, any, error) {
		return textResult("region=" + in.Region), nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "test_missing_capability", Description: "Requires the sampling client capability; without it answers -32021 (SEP-2575)."}, missingCapabilityTool)
	mcp.AddTool(srv, &mcp.Tool{Name: "test_streaming_elicitation", Description: "Answers with a plain result: a response stream carries no server-to-client requests (SEP-2575)."},
		func(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
			return textResult("stream observed: result frames only, no top-level requests"), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "test_logging_tool", Description: "Tries to log; the SDK drops it unless the request set _meta logLevel (SEP-2575)."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
			_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "test_logging_tool executed"})
			return textResult("Log attempted; framework gates on _meta.../logLevel."), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "test_trigger_tool_change", Description: "Adds a tool, so subscribers get notifications/tools/list_changed (SEP-2575)."},
		func(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
			mcp.AddTool(srv, &mcp.Tool{Name: "__transient_tool_for_list_changed", Description: "Added by test_trigger_tool_change."},
				func(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
					return &mcp.CallToolResult{}, nil, nil
				})
			return textResult("tools_list_changed published"), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "test_trigger_prompt_change", Description: "Adds a prompt, so subscribers get notifications/prompts/list_changed (SEP-2575)."},
		func(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
			srv.AddPrompt(&mcp.Prompt{Name: "__transient_prompt_for_list_changed", Description: "Added by test_trigger_prompt_change."},
				func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					return &mcp.GetPromptResult{}, nil
				})
			return textResult("prompts_list_changed published"), nil, nil
		})

	mrtr := func(name, desc string, h mcp.ToolHandlerFor[noArgs, any]) {
		mcp.AddTool(srv, &mcp.Tool{Name: name, Description: desc}, h)
	}
	mrtr("test_input_required_result_elicitation", "Asks for the caller's name through an input-required elicitation (SEP-2322).", inputElicitation)
	mrtr("test_input_required_result_sampling", "Asks for an LLM completion through an input-required sampling request (SEP-2322).", inputSampling)
	mrtr("test_input_required_result_list_roots", "Asks for the client's roots through an input-required roots/list (SEP-2322).", inputRoots)
	s := statefulFixtures{sealer: sealer}
	mrtr("test_input_required_result_multiple_inputs", "Asks for elicitation, sampling and roots in one round, with signed requestState (SEP-2322).", s.multipleInputs)
	mrtr("test_input_required_result_request_state", "Round-trips a signed requestState beside an elicitation (SEP-2322).", s.requestState)
	mrtr("test_input_required_result_multi_round", "Two elicitation rounds, the first answer carried in signed requestState (SEP-2322).", s.multiRound)
	mrtr("test_input_required_result_tampered_state", "Refuses a requestState whose signature does not verify (SEP-2322).", s.tamperedState)
	mrtr("test_input_required_result_capabilities", "Asks only for the kinds of input the client declared it can give (SEP-2322).", inputCapabilities)

	srv.AddPrompt(&mcp.Prompt{Name: "test_input_required_result_prompt", Description: "Asks for context through an input-required elicitation, then returns it as a message (SEP-2322)."},
		inputPrompt)
}

func missingCapabilityTool(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	if caps := req.ClientCapabilities(); caps != nil && caps.Sampling != nil {
		return textResult("Client declared the sampling capability; tool executed."), nil, nil
	}
	data, err := json.Marshal(mcp.MissingRequiredClientCapabilityData{
		RequiredCapabilities: &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}},
	})
	if err != nil {
		return nil, nil, err
	}
	return nil, nil, &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities,
		Message: "sampling capability required but not declared by client", Data: data}
}

func objectSchema(required string, props map[string]*jsonschema.Schema) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "object", Properties: props, Required: []string{required}}
}

func nameSchema() *jsonschema.Schema {
	return objectSchema("name", map[string]*jsonschema.Schema{"name": {Type: "string"}})
}

func confirmRequest() mcp.InputRequestMap {
	return mcp.InputRequestMap{"confirm": &mcp.ElicitParams{Message: "Please confirm",
		RequestedSchema: objectSchema("ok", map[string]*jsonschema.Schema{"ok": {Type: "boolean"}})}}
}

// accepted is the content of an accepted elicitation answer, nil otherwise.
func accepted(responses mcp.InputResponseMap, key string) map[string]any {
	r, ok := responses[key].(*mcp.ElicitResult)
	if !ok || r == nil || r.Action != "accept" {
		return nil
	}
	return r.Content
}

// sampled is the first text of a sampling answer.
func sampled(responses mcp.InputResponseMap, key string) (string, bool) {
	r, ok := responses[key].(*mcp.CreateMessageWithToolsResult)
	if !ok || r == nil {
		return "", false
	}
	for _, c := range r.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			return t.Text, true
		}
	}
	return "(non-text response)", true
}

func inputElicitation(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	if name, _ := accepted(req.Params.InputResponses, "user_name")["name"].(string); name != "" {
		return textResult(fmt.Sprintf("Hello, %s!", name)), nil, nil
	}
	return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
		"user_name": &mcp.ElicitParams{Message: "What is your name?", RequestedSchema: nameSchema()},
	}}, nil, nil
}

func inputSampling(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	if text, ok := sampled(req.Params.InputResponses, "capital_question"); ok {
		return textResult("Sampling response: " + text), nil, nil
	}
	return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
		"capital_question": &mcp.CreateMessageParams{MaxTokens: 100, Messages: []*mcp.SamplingMessage{
			{Role: "user", Content: &mcp.TextContent{Text: "What is the capital of France?"}}}},
	}}, nil, nil
}

func inputRoots(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	if r, ok := req.Params.InputResponses["client_roots"].(*mcp.ListRootsResult); ok && r != nil {
		var uris []string
		for _, root := range r.Roots {
			uris = append(uris, root.URI)
		}
		return textResult(fmt.Sprintf("Client exposed %d root(s): %s", len(r.Roots), strings.Join(uris, ", "))), nil, nil
	}
	return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"client_roots": &mcp.ListRootsParams{}}}, nil, nil
}

func (s statefulFixtures) multipleInputs(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	const tool = "test_input_required_result_multiple_inputs"
	if req.Params.RequestState != "" {
		if _, err := s.open(tool, req.Params.RequestState); err != nil {
			return nil, nil, err
		}
	}
	in := req.Params.InputResponses
	name, _ := accepted(in, "user_name")["name"].(string)
	greeting, hasGreeting := sampled(in, "greeting")
	roots, hasRoots := in["client_roots"].(*mcp.ListRootsResult)
	if name != "" && hasGreeting && hasRoots && roots != nil {
		return textResult(fmt.Sprintf("%s %s — %d root(s) visible", greeting, name, len(roots.Roots))), nil, nil
	}
	state, err := s.seal(tool, roundState{Round: 1})
	return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
		"user_name": &mcp.ElicitParams{Message: "What is your name?", RequestedSchema: nameSchema()},
		"greeting": &mcp.CreateMessageParams{MaxTokens: 50, Messages: []*mcp.SamplingMessage{
			{Role: "user", Content: &mcp.TextContent{Text: "Generate a greeting"}}}},
		"client_roots": &mcp.ListRootsParams{},
	}, RequestState: state}, nil, err
}

func inputCapabilities(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	if len(req.Params.InputResponses) > 0 {
		return textResult("Capability-aware input requests fulfilled"), nil, nil
	}
	caps := req.ClientCapabilities()
	reqs := mcp.InputRequestMap{}
	if caps != nil && caps.Elicitation != nil {
		reqs["user_name"] = &mcp.ElicitParams{Message: "What is your name?", RequestedSchema: nameSchema()}
	}
	if caps != nil && caps.Sampling != nil {
		reqs["greeting"] = &mcp.CreateMessageParams{MaxTokens: 50, Messages: []*mcp.SamplingMessage{
			{Role: "user", Content: &mcp.TextContent{Text: "Generate a short greeting"}}}}
	}
	if caps != nil && (caps.RootsV2 != nil || caps.Roots.ListChanged) {
		reqs["client_roots"] = &mcp.ListRootsParams{}
	}
	if len(reqs) == 0 {
		return textResult("No declared client capability supports an in-band input request"), nil, nil
	}
	return &mcp.CallToolResult{InputRequests: reqs}, nil, nil
}

func inputPrompt(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	if content := accepted(req.Params.InputResponses, "user_context"); content != nil {
		text, _ := content["context"].(string)
		return &mcp.GetPromptResult{Description: "A prompt with elicited context",
			Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "Context: " + text}}}}, nil
	}
	return &mcp.GetPromptResult{InputRequests: mcp.InputRequestMap{
		"user_context": &mcp.ElicitParams{Message: "Please provide context for the prompt",
			RequestedSchema: objectSchema("context", map[string]*jsonschema.Schema{"context": {Type: "string"}})},
	}}, nil
}

// statefulFixtures are the multi round-trip tools that carry state between
// rounds; the state is sealed (HMAC) so that a changed one is refused.
type statefulFixtures struct {
	sealer *mcpstate.Sealer
}

// roundState is what the multi-round fixtures remember between rounds.
type roundState struct {
	Round int    `json:"round"`
	Name  string `json:"name,omitempty"`
}

// open verifies a state the client sent back for tool; a bad one is the
// invalid-params error the suite expects.
func (s statefulFixtures) open(tool, state string) (roundState, error) {
	var rs roundState
	if err := s.sealer.Open(tool, state, &rs); err != nil {
		return rs, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
	}
	return rs, nil
}

func (s statefulFixtures) seal(tool string, rs roundState) (string, error) {
	return s.sealer.Seal(tool, rs, mcpstate.DefaultTTL)
}

func (s statefulFixtures) requestState(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	const tool = "test_input_required_result_request_state"
	if accepted(req.Params.InputResponses, "confirm") != nil {
		if _, err := s.open(tool, req.Params.RequestState); err != nil {
			return nil, nil, err
		}
		return textResult("state-ok: requestState received and confirmation accepted"), nil, nil
	}
	state, err := s.seal(tool, roundState{Round: 1})
	return &mcp.CallToolResult{InputRequests: confirmRequest(), RequestState: state}, nil, err
}

func (s statefulFixtures) tamperedState(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	const tool = "test_input_required_result_tampered_state"
	if req.Params.RequestState != "" {
		if _, err := s.open(tool, req.Params.RequestState); err != nil {
			return nil, nil, err
		}
		if accepted(req.Params.InputResponses, "confirm") != nil {
			return textResult("state-ok: requestState received and confirmation accepted"), nil, nil
		}
	}
	state, err := s.seal(tool, roundState{Round: 1})
	return &mcp.CallToolResult{InputRequests: confirmRequest(), RequestState: state}, nil, err
}

func (s statefulFixtures) multiRound(_ context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	const tool = "test_input_required_result_multi_round"
	rs := roundState{}
	if req.Params.RequestState != "" {
		var err error
		if rs, err = s.open(tool, req.Params.RequestState); err != nil {
			return nil, nil, err
		}
	}
	switch rs.Round {
	case 0:
		state, err := s.seal(tool, roundState{Round: 1})
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
			"step1": &mcp.ElicitParams{Message: "Step 1: What is your name?", RequestedSchema: nameSchema()},
		}, RequestState: state}, nil, err
	case 1:
		name, _ := accepted(req.Params.InputResponses, "step1")["name"].(string)
		if name == "" {
			name = "unknown"
		}
		state, err := s.seal(tool, roundState{Round: 2, Name: name})
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
			"step2": &mcp.ElicitParams{Message: "Step 2: What is your favorite color?",
				RequestedSchema: objectSchema("color", map[string]*jsonschema.Schema{"color": {Type: "string"}})},
		}, RequestState: state}, nil, err
	default:
		color, _ := accepted(req.Params.InputResponses, "step2")["color"].(string)
		if color == "" {
			color = "unknown"
		}
		return textResult(fmt.Sprintf("Multi-round complete: %s likes %s", rs.Name, color)), nil, nil
	}
}
