package tools

// CostEstimate is the most an llm_processor call can cost: its prompt
// (estimated from its length) and every completion token it allows.
type CostEstimate struct {
	Provider            string
	Model               string
	PromptTokens        int64
	MaxCompletionTokens int64
	// USD is the upper bound; 0 when the model has no configured price
	// (Known false).
	USD   float64
	Known bool
}

// bytesPerToken is a rough size of a token of English or code; an estimate
// need not be exact, only of the right order.
const bytesPerToken = 4

// EstimateCost prices req at its limit (req.MaxTokens completion tokens)
// before it is sent. The error is the one Complete would return for the
// same provider and model.
func (a *RouterLLM) EstimateCost(req CompletionRequest) (CostEstimate, error) {
	provider, model, price, known, err := a.router.Quote(req.Provider, req.Model)
	if err != nil {
		return CostEstimate{}, err
	}
	e := CostEstimate{
		Provider: provider, Model: model, Known: known,
		PromptTokens:        int64((len(req.System)+len(req.Prompt))/bytesPerToken + 1),
		MaxCompletionTokens: int64(req.MaxTokens),
	}
	if known {
		e.USD = price.Cost(e.PromptTokens, e.MaxCompletionTokens)
	}
	return e, nil
}
