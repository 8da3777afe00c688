package mcpserver

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/mcpstate"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// CostEstimator prices an LLM call before it is made (tools.RouterLLM).
type CostEstimator interface {
	EstimateCost(req tools.CompletionRequest) (tools.CostEstimate, error)
}

// ConfirmMaxTokens is the largest max_tokens llm_processor runs without
// asking: above it a client that can ask a person (elicitation) is asked to
// confirm the estimated cost first.
const ConfirmMaxTokens = 4096

// costInput is the id of llm_processor's question.
const costInput = "confirm_cost"

// llmTool is the tool that spends money per call.
const llmTool = "llm_processor"

// llmArgs are the arguments of llm_processor that its price depends on.
type llmArgs struct {
	Prompt    string  `json:"prompt"`
	System    string  `json:"system"`
	Provider  string  `json:"provider"`
	Model     string  `json:"model"`
	MaxTokens float64 `json:"max_tokens"`
}

// confirmCost decides whether an llm_processor call runs. It returns a
// result to answer with instead (a question, a declined call, a refused
// state) or nil to run the call. Calls that allow at most ConfirmMaxTokens
// completion tokens, that the estimate cannot price because they would fail
// anyway (an unknown provider: the tool says so), or whose client cannot be
// asked run as before; the cost is reported in the result either way.
//
// The question travels as an input-required result for 2026-07-28 clients
// and as an elicitation for 2025-11-25 sessions (the SDK bridges), with its
// request state sealed like create_task's: bound to the key and to these
// exact arguments, so a confirmation cannot be replayed onto a costlier call.
func (s *Server) confirmCost(req *mcp.CallToolRequest, keyID string) *mcp.CallToolResult {
	if s.costs == nil {
		return nil
	}
	var in llmArgs
	if json.Unmarshal(req.Params.Arguments, &in) != nil || in.MaxTokens <= ConfirmMaxTokens {
		return nil // bad arguments are the executor's to report
	}
	binding := "llm_processor/" + costInput + "/" + keyID
	var args map[string]any
	_ = json.Unmarshal(req.Params.Arguments, &args)
	digest := argsDigest(args)

	if state := req.Params.RequestState; state != "" {
		var st askState
		if err := s.sealer.Open(binding, state, &st); err != nil {
			return errorResult(err)
		}
		if st.Args != digest {
			return errorResult(apperr.E(apperr.Invalid, "requestState refused: it was issued for other arguments; call again without requestState to start over"))
		}
		if answer, ok := req.Params.InputResponses[costInput].(*mcp.ElicitResult); ok && answer != nil {
			if confirmed, _ := answer.Content["confirm"].(bool); answer.Action == "accept" && confirmed {
				return nil
			}
			return declined(in, answer.Action)
		}
		// No answer to the question: ask it again below.
	} else if req.Params.InputResponses != nil {
		return errorResult(apperr.E(apperr.Invalid, "inputResponses without the requestState they answer; call again without inputResponses"))
	}

	if caps := req.ClientCapabilities(); caps == nil || caps.Elicitation == nil {
		return nil
	}
	est, err := s.costs.EstimateCost(tools.CompletionRequest{
		Provider: in.Provider, Model: in.Model, System: in.System, Prompt: in.Prompt, MaxTokens: int(in.MaxTokens),
	})
	if err != nil {
		return nil
	}
	state, err := s.sealer.Seal(binding, askState{Args: digest}, mcpstate.DefaultTTL)
	if err != nil {
		return errorResult(err)
	}
	return &mcp.CallToolResult{
		InputRequests: mcp.InputRequestMap{costInput: &mcp.ElicitParams{
			Message: costMessage(est),
			RequestedSchema: map[string]any{
				"type":     "object",
				"required": []any{"confirm"},
				"properties": map[string]any{"confirm": map[string]any{
					"type": "boolean", "title": "Run the completion",
					"description": "true runs it; false (or declining) sends nothing to the provider and costs nothing",
				}},
			},
		}},
		RequestState: state,
	}
}

// costMessage states the estimate for a person.
func costMessage(e tools.CostEstimate) string {
	limit := fmt.Sprintf("up to %d completion tokens and about %d prompt tokens from %s (%s)",
		e.MaxCompletionTokens, e.PromptTokens, apperr.Truncate(e.Model, 80), e.Provider)
	if !e.Known {
		return "This LLM completion allows " + limit + "; no price is configured for this model (LLM_PRICES), so its cost is not known. Run it?"
	}
	return fmt.Sprintf("This LLM completion may cost up to $%s: %s. Run it?", usd(e.USD), limit)
}

// usd shows a small amount with enough digits to mean something.
func usd(v float64) string {
	s := fmt.Sprintf("%.4f", v)
	if v >= 1 {
		s = fmt.Sprintf("%.2f", v)
	}
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}

// declined is the answer to a call whose cost the person did not accept:
// not an error (nothing failed), and shaped by the tool's output schema, with
// finish_reason saying why there is no completion.
func declined(in llmArgs, action string) *mcp.CallToolResult {
	how := map[string]string{"accept": "declined", "decline": "declined", "cancel": "cancelled"}[action]
	if how == "" {
		how = "not accepted"
	}
	msg := "Not run: the estimated cost was " + how + "; nothing was sent to the LLM provider and nothing was charged."
	out, _ := json.Marshal(map[string]any{
		"content": "", "provider": in.Provider, "model": in.Model, "finish_reason": "declined",
		"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0, "cost_known": true,
	})
	return &mcp.CallToolResult{StructuredContent: json.RawMessage(out), Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
}
