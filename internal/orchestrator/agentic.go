package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/llm"
	"github.com/bizmcp/bizmcp/internal/validate"
)

// Bounds of the tool-calling loop.
const (
	DefaultMaxSteps       = 5
	MaxSteps              = 10
	DefaultMaxLoopTokens  = 20_000
	maxToolResultForModel = 16 << 10 // bytes of a tool result shown to the model
)

// LLM is the model an agent reasons with in the tool-calling loop.
type LLM interface {
	Default() (string, bool)
	Complete(ctx context.Context, req llm.Request) (llm.Response, error)
}

// agenticInput is what a task asks of the loop.
type agenticInput struct {
	Prompt      string   `json:"prompt"`
	UseTools    bool     `json:"use_tools"`
	MaxSteps    int      `json:"max_steps"`
	MaxTokens   int64    `json:"max_total_tokens"`
	Model       string   `json:"model"`
	Provider    string   `json:"provider"`
	Temperature *float64 `json:"temperature"`
}

// runAgentic lets the model decide which of the agent's tools to call, in a
// bounded loop: each model turn and each tool call is in the timeline, tools
// run through the executor (recorded with the task and agent), and tokens
// and cost are added to the task. It stops at the model's answer, at the step
// limit or at the token budget.
func (s *Service) runAgentic(ctx context.Context, task db.Task, agent db.Agent, in agenticInput) (json.RawMessage, error) {
	if s.llm == nil {
		return nil, apperr.E(apperr.Invalid, "use_tools needs an LLM provider: set OPENAI_API_KEY, OPENAI_BASE_URL or EVOLUTION_API_KEY")
	}
	if _, ok := s.llm.Default(); !ok {
		return nil, apperr.E(apperr.Invalid, "use_tools needs an LLM provider: set OPENAI_API_KEY, OPENAI_BASE_URL or EVOLUTION_API_KEY")
	}
	steps := in.MaxSteps
	if steps == 0 {
		steps = DefaultMaxSteps
	}
	if steps < 1 || steps > MaxSteps {
		return nil, apperr.E(apperr.Invalid, "max_steps must be between 1 and %d", MaxSteps)
	}
	budget := in.MaxTokens
	if budget == 0 {
		budget = DefaultMaxLoopTokens
	}

	offered := s.agentTools(agent)
	if len(offered) == 0 {
		return nil, apperr.E(apperr.Invalid, "agent %s has no tools to offer the model; give it capabilities", agent.Name)
	}
	var names []string
	for _, t := range offered {
		names = append(names, t.Name)
	}
	msgs := []llm.Message{
		{Role: llm.RoleSystem, Content: fmt.Sprintf("You are %s, a %s agent of a business. Task: %s. %s\n"+
			"Use the tools (%s) to compute figures; never invent numbers. Answer concisely when done.",
			agent.Name, agent.Type, task.Title, task.Description, strings.Join(names, ", "))},
		{Role: llm.RoleUser, Content: in.Prompt},
	}
	var used int64
	var calls []map[string]any
	for step := 1; step <= steps; step++ {
		s.progress(ctx, task, min(10+80*(step-1)/steps, 90), fmt.Sprintf("model turn %d of at most %d", step, steps))
		resp, err := s.llm.Complete(ctx, llm.Request{Provider: in.Provider, Model: in.Model, Messages: msgs, Tools: offered, Temperature: in.Temperature})
		if err != nil {
			return nil, err
		}
		used += resp.TotalTokens
		_ = s.queries.TaskAddUsage(context.WithoutCancel(ctx), db.TaskAddUsageParams{ID: task.ID, Tokens: resp.TotalTokens, Cost: resp.Cost})
		s.timeline(ctx, task.ID, "step", fmt.Sprintf("model turn %d: %d tool call(s)", step, len(resp.ToolCalls)),
			map[string]any{"model": resp.Model, "tokens": resp.TotalTokens, "cost": resp.Cost, "finish_reason": resp.FinishReason})
		if len(resp.ToolCalls) == 0 {
			return json.Marshal(map[string]any{"answer": resp.Content, "tool_calls": calls, "steps": step, "tokens_used": used})
		}
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls})
		for _, call := range resp.ToolCalls {
			result := s.loopToolCall(ctx, task, agent, names, call, &calls)
			msgs = append(msgs, llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Content: result})
		}
		if used >= budget {
			return nil, apperr.E(apperr.Invalid, "the model used %d tokens without finishing (budget %d): raise max_total_tokens or simplify the prompt", used, budget)
		}
	}
	return nil, apperr.E(apperr.Invalid, "the model did not finish within %d steps: raise max_steps or simplify the prompt", steps)
}

// loopToolCall runs one call the model asked for and returns what the model
// is shown: the result, or the error so it can correct itself.
func (s *Service) loopToolCall(ctx context.Context, task db.Task, agent db.Agent, allowed []string, call llm.ToolCall, calls *[]map[string]any) string {
	if !slices.Contains(allowed, call.Name) {
		return fmt.Sprintf(`{"error": "tool %q is not available to this agent; use one of %s"}`, call.Name, strings.Join(allowed, ", "))
	}
	var args any
	if err := json.Unmarshal(call.Arguments, &args); err != nil {
		args = map[string]any{}
	}
	exec, err := s.callTool(ctx, task, agent, call.Name, args)
	*calls = append(*calls, map[string]any{"tool": call.Name, "execution_id": exec.ID, "status": exec.Status})
	if err != nil {
		b, _ := json.Marshal(map[string]string{"error": validate.ErrorText(err)})
		return string(b)
	}
	out := string(exec.Result)
	if len(out) > maxToolResultForModel {
		out = exec.Summary
	}
	return out
}

// agentTools are the tools the model may call for an agent: its
// capabilities (every analysis tool for a general agent), never
// llm_processor (the model is already the LLM).
func (s *Service) agentTools(agent db.Agent) []llm.Tool {
	var out []llm.Tool
	for _, name := range s.executor.Registry().Names() {
		if name == "llm_processor" || (agent.Type != "general" && !slices.Contains(agent.Capabilities, name)) {
			continue
		}
		t, _ := s.executor.Registry().Lookup(name)
		out = append(out, llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	return out
}
