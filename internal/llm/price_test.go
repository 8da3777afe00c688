package llm_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/llm"
)

func TestParsePrices(t *testing.T) {
	t.Parallel()
	got, err := llm.ParsePrices(" gpt-4o-mini=0.15/0.60 , zai-org/GLM-4.7=0.5/2,local=0/0,")
	require.NoError(t, err)
	require.Equal(t, map[string]llm.Price{
		"gpt-4o-mini":     {InputPerMillion: 0.15, OutputPerMillion: 0.60},
		"zai-org/GLM-4.7": {InputPerMillion: 0.5, OutputPerMillion: 2},
		"local":           {},
	}, got)

	empty, err := llm.ParsePrices("")
	require.NoError(t, err)
	require.Empty(t, empty)

	for _, bad := range []string{"gpt-4o", "=1/2", "m=1", "m=a/2", "m=1/-2", "m=1/NaN", "m=1/2,m=3/4", "m=1/2/3"} {
		_, err := llm.ParsePrices(bad)
		require.Error(t, err, bad)
	}
}

func TestPriceCost(t *testing.T) {
	t.Parallel()
	// gpt-4.1-mini: 1M × 0.40/1M + 1M × 1.60/1M = 2.00 USD.
	require.InDelta(t, 2.0, llm.DefaultPrices()["gpt-4.1-mini"].Cost(1_000_000, 1_000_000), 1e-12)
	require.Zero(t, llm.Price{}.Cost(10, 10))
}

func TestDefaultPricesAreACopy(t *testing.T) {
	t.Parallel()
	a := llm.DefaultPrices()
	a["gpt-4o-mini"] = llm.Price{InputPerMillion: 99}
	require.InDelta(t, 0.15, llm.DefaultPrices()["gpt-4o-mini"].InputPerMillion, 1e-12)
}

func TestWithPricesOverridesDefaults(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("gpt-4o-mini-2024-07-18", "ok", 1000, 1000)))
	r := openAIRouter(f, llm.WithPrices(map[string]llm.Price{"gpt-4o-mini": {InputPerMillion: 1, OutputPerMillion: 2}}))
	resp, err := r.Complete(t.Context(), hello())
	require.NoError(t, err)
	// 1000 × 1/1M + 1000 × 2/1M = 0.003 USD.
	require.True(t, resp.CostKnown)
	require.InDelta(t, 0.003, resp.Cost, 1e-12)
}

func TestCostByAnsweringModel(t *testing.T) {
	t.Parallel()
	// The request names a model without a price, an alias the operator
	// uses, and the provider answers with a dated snapshot of a priced one.
	f := newFake(t, reply(200, completion("gpt-4.1-mini-2025-04-14", "ok", 1000, 500)))
	req := hello()
	req.Model = "company-default"
	resp, err := openAIRouter(f).Complete(t.Context(), req)
	require.NoError(t, err)
	// gpt-4.1-mini: 1000 × 0.40/1M + 500 × 1.60/1M = 0.0004 + 0.0008 = 0.0012 USD.
	require.True(t, resp.CostKnown)
	require.InDelta(t, 0.0012, resp.Cost, 1e-12)

	// gpt-4o-audio-preview is not priced as gpt-4o: no prefix matching.
	g := newFake(t, reply(http.StatusOK, completion("gpt-4o-audio-preview", "ok", 10, 10)))
	req.Model = "gpt-4o-audio-preview"
	resp, err = openAIRouter(g).Complete(t.Context(), req)
	require.NoError(t, err)
	require.False(t, resp.CostKnown)
	require.Zero(t, resp.Cost)
}
