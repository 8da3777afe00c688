package llm

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Price is what a model costs, in USD per million tokens.
type Price struct {
	InputPerMillion  float64
	OutputPerMillion float64
}

// Cost is the USD cost of a call with the given token counts. Cached-input
// discounts are not modelled: the cost is an upper bound.
func (p Price) Cost(promptTokens, completionTokens int64) float64 {
	return (float64(promptTokens)*p.InputPerMillion + float64(completionTokens)*p.OutputPerMillion) / 1e6
}

// DefaultPrices returns OpenAI's published list prices for the models an
// operator is most likely to pick. It returns a new map on each call so no
// caller can change another's table.
//
// Cloud.ru Evolution models are deliberately absent: their prices are set
// per contract, in roubles, and change; an invented number would be worse
// than none. Operators add them with WithPrices (LLM_PRICES through
// ParsePrices); until then their calls report CostKnown=false.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		"gpt-4o-mini":  {InputPerMillion: 0.15, OutputPerMillion: 0.60},
		"gpt-4o":       {InputPerMillion: 2.50, OutputPerMillion: 10.00},
		"gpt-4.1":      {InputPerMillion: 2.00, OutputPerMillion: 8.00},
		"gpt-4.1-mini": {InputPerMillion: 0.40, OutputPerMillion: 1.60},
		"gpt-4.1-nano": {InputPerMillion: 0.10, OutputPerMillion: 0.40},
	}
}

// ParsePrices reads a price list such as
// "gpt-4o-mini=0.15/0.60,zai-org/GLM-4.7=0.5/2" (model=input/output, USD per
// million tokens), the format of LLM_PRICES. The model is everything before
// the last "=", so model names with slashes work. An empty string is an
// empty list.
func ParsePrices(s string) (map[string]Price, error) {
	out := map[string]Price{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		eq := strings.LastIndex(item, "=")
		if eq <= 0 {
			return nil, fmt.Errorf("price %q must be model=input/output in USD per million tokens, such as gpt-4o-mini=0.15/0.60", item)
		}
		model := strings.TrimSpace(item[:eq])
		in, outPrice, ok := strings.Cut(item[eq+1:], "/")
		if !ok || model == "" {
			return nil, fmt.Errorf("price %q must be model=input/output in USD per million tokens, such as gpt-4o-mini=0.15/0.60", item)
		}
		var p Price
		var err error
		if p.InputPerMillion, err = priceNumber(in); err != nil {
			return nil, fmt.Errorf("price %q: input price %w", item, err)
		}
		if p.OutputPerMillion, err = priceNumber(outPrice); err != nil {
			return nil, fmt.Errorf("price %q: output price %w", item, err)
		}
		if _, dup := out[model]; dup {
			return nil, fmt.Errorf("model %q has two prices", model)
		}
		out[model] = p
	}
	return out, nil
}

func priceNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q must be a non-negative number", strings.TrimSpace(s))
	}
	return f, nil
}

// snapshotSuffix matches OpenAI's dated snapshot names (gpt-4o-mini-2024-07-18),
// which responses report instead of the alias that was requested.
var snapshotSuffix = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}$`)

// lookupPrice finds the price by the requested model, then the model that
// answered, then that model without its snapshot date. Prefix matching is
// avoided: it would price gpt-4o-audio-preview as gpt-4o.
func lookupPrice(prices map[string]Price, requested, answered string) (Price, bool) {
	for _, m := range []string{requested, answered, snapshotSuffix.ReplaceAllString(answered, "")} {
		if p, ok := prices[m]; ok && m != "" {
			return p, true
		}
	}
	return Price{}, false
}
