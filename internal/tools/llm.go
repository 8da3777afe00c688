package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/bizmcp/bizmcp/internal/auth"
)

// LLM is what the tools need of the LLM providers; cmd wiring adapts
// internal/llm to it, and a server without a provider passes one whose
// Configured is false.
type LLM interface {
	// Configured reports whether any provider is configured.
	Configured() bool
	Complete(ctx context.Context, req CompletionRequest) (Completion, error)
}

// CompletionRequest is one prompt.
type CompletionRequest struct {
	Provider    string // "" = the default provider
	Model       string // "" = the configured or provider default model
	System      string
	Prompt      string
	MaxTokens   int      // 0 = LLM_MAX_TOKENS
	Temperature *float64 // nil = LLM_TEMPERATURE
}

// Completion is the answer with its accounting.
type Completion struct {
	Content          string  `json:"content"`
	Provider         string  `json:"provider"`
	Model            string  `json:"model"`
	FinishReason     string  `json:"finish_reason"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	TotalTokens      int64   `json:"total_tokens"`
	Cost             float64 `json:"cost"`
	CostKnown        bool    `json:"cost_known"`
}

// MaxPromptBytes bounds llm_processor's prompt.
const MaxPromptBytes = 256 << 10

func llmProcessor(lm LLM) Tool {
	return Tool{
		Name: "llm_processor", Title: "LLM processor", Category: "ai", Tags: []string{"llm", "completion"},
		Description: "Sends a prompt (and an optional system instruction) to the configured LLM provider (OpenAI, " +
			"Cloud.ru Evolution, or any OpenAI-compatible endpoint) and returns the completion with token and cost accounting.",
		InputSchema: []byte(fmt.Sprintf(`{
  "type": "object",
  "additionalProperties": false,
  "required": ["prompt"],
  "properties": {
    "prompt": {"type": "string", "minLength": 1, "maxLength": %d, "description": "The user prompt."},
    "system": {"type": "string", "maxLength": %d, "description": "Optional system instruction."},
    "provider": {"type": "string", "description": "openai or evolution; default: DEFAULT_LLM_PROVIDER or the first configured."},
    "model": {"type": "string", "maxLength": 200, "description": "Model name; default: LLM_MODEL or the provider's default."},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": 32768, "description": "Completion token limit; default LLM_MAX_TOKENS."},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2}
  }
}`, MaxPromptBytes, MaxPromptBytes)),
		OutputSchema: []byte(`{
  "type": "object",
  "required": ["content", "provider", "model", "total_tokens", "cost"],
  "properties": {
    "content": {"type": "string"},
    "provider": {"type": "string"},
    "model": {"type": "string"},
    "finish_reason": {"type": "string"},
    "prompt_tokens": {"type": "integer"},
    "completion_tokens": {"type": "integer"},
    "total_tokens": {"type": "integer"},
    "cost": {"type": "number", "description": "USD; 0 when the model has no configured price (cost_known false)."},
    "cost_known": {"type": "boolean"}
  }
}`),
		Scope: auth.ScopeWrite, OpenWorld: true, Timeout: 3 * time.Minute,
		Run: func(ctx context.Context, call Call) (Output, error) {
			var in struct {
				Prompt      string   `json:"prompt"`
				System      string   `json:"system"`
				Provider    string   `json:"provider"`
				Model       string   `json:"model"`
				MaxTokens   int      `json:"max_tokens"`
				Temperature *float64 `json:"temperature"`
			}
			if err := decodeArgs(call, &in); err != nil {
				return Output{}, err
			}
			call.Progress(0, 1, "waiting for the LLM provider")
			resp, err := lm.Complete(ctx, CompletionRequest{
				Provider: in.Provider, Model: in.Model, System: in.System, Prompt: in.Prompt,
				MaxTokens: in.MaxTokens, Temperature: in.Temperature,
			})
			if err != nil {
				return Output{}, err
			}
			call.Progress(1, 1, "completed")
			return Output{Result: resp, Summary: resp.Content, TokensUsed: resp.TotalTokens, Cost: resp.Cost}, nil
		},
	}
}
