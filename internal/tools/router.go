package tools

import (
	"context"

	"github.com/bizmcp/bizmcp/internal/llm"
	"github.com/bizmcp/bizmcp/internal/metrics"
)

// RouterLLM adapts the LLM providers to what the tools need, and counts
// cost per provider and model.
type RouterLLM struct {
	router  *llm.Router
	metrics *metrics.Metrics
}

// NewRouterLLM wraps router.
func NewRouterLLM(router *llm.Router, m *metrics.Metrics) *RouterLLM {
	return &RouterLLM{router: router, metrics: m}
}

// Configured reports whether a provider is configured.
func (a *RouterLLM) Configured() bool {
	_, ok := a.router.Default()
	return ok
}

// Complete sends one prompt.
func (a *RouterLLM) Complete(ctx context.Context, req CompletionRequest) (Completion, error) {
	msgs := make([]llm.Message, 0, 2)
	if req.System != "" {
		msgs = append(msgs, llm.Message{Role: llm.RoleSystem, Content: req.System})
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: req.Prompt})
	resp, err := a.router.Complete(ctx, llm.Request{
		Provider: req.Provider, Model: req.Model, Messages: msgs, MaxTokens: req.MaxTokens, Temperature: req.Temperature,
	})
	if err != nil {
		return Completion{}, err
	}
	a.metrics.LLMCost.WithLabelValues(resp.Provider, resp.Model).Add(resp.Cost)
	return Completion{
		Content: resp.Content, Provider: resp.Provider, Model: resp.Model, FinishReason: resp.FinishReason,
		PromptTokens: resp.PromptTokens, CompletionTokens: resp.CompletionTokens, TotalTokens: resp.TotalTokens,
		Cost: resp.Cost, CostKnown: resp.CostKnown,
	}, nil
}
