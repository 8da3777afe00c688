package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/bizmcp/bizmcp/internal/analytics"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
)

// Builtins returns the business tools every bizmcp server has. lm may have
// no provider configured: then llm_processor fails with a clear error and
// financial_analyzer reports its figures without a narrative.
func Builtins(lm LLM) ([]Tool, error) {
	financial, err := financialAnalyzer(lm)
	if err != nil {
		return nil, err
	}
	return []Tool{
		financial,
		{
			Name: "sales_forecaster", Title: "Sales forecaster", Category: "sales", Tags: []string{"forecast", "time-series"},
			Description: "Forecasts a sales series with a least-squares linear trend and optional additive seasonality, " +
				"with Student-t prediction intervals. Give the series oldest first.",
			InputSchema: analytics.ForecastInputSchema(), OutputSchema: analytics.ForecastOutputSchema(),
			Scope: auth.ScopeRead, ReadOnly: true,
			Run: analysisTool(analytics.ForecastSales, func(o analytics.ForecastOutput) string {
				parts := make([]string, 0, len(o.Forecasts))
				for _, f := range o.Forecasts {
					parts = append(parts, fmt.Sprintf("step %d: %.2f", f.Step, f.Value))
				}
				return fmt.Sprintf("Forecast (%s, %d points, %.0f%% intervals): %s.", o.Method, o.Points, o.Confidence*100, strings.Join(parts, "; "))
			}),
		},
		{
			Name: "customer_segmenter", Title: "Customer RFM segmenter", Category: "marketing", Tags: []string{"rfm", "segmentation", "customers"},
			Description: "Scores customers by recency, frequency and monetary value (quintiles 1-5) and names their RFM segment " +
				"(Champions, Loyal Customers, At Risk, ...). Give either customer records or raw transactions.",
			InputSchema: analytics.SegmentInputSchema(), OutputSchema: analytics.SegmentOutputSchema(),
			Scope: auth.ScopeRead, ReadOnly: true,
			Run: analysisTool(analytics.SegmentCustomers, func(o analytics.SegmentOutput) string {
				parts := make([]string, 0, len(o.Segments))
				for _, s := range o.Segments {
					parts = append(parts, fmt.Sprintf("%s %d", s.Segment, s.Count))
				}
				return fmt.Sprintf("%d customers segmented as of %s: %s.", o.CustomerCount, o.ReferenceDate, strings.Join(parts, ", "))
			}),
		},
		{
			Name: "data_analyzer", Title: "Data analyzer", Category: "analytics", Tags: []string{"statistics", "csv", "correlation"},
			Description: "Descriptive statistics (mean, median, sample stdev, quartiles), IQR outliers, top values and Pearson " +
				"correlations of a table given as JSON rows or CSV text with a header.",
			InputSchema: analytics.DataInputSchema(), OutputSchema: analytics.DataOutputSchema(),
			Scope: auth.ScopeRead, ReadOnly: true,
			Run: analysisTool(analytics.AnalyzeData, func(o analytics.DataOutput) string {
				return fmt.Sprintf("Analysed %d rows and %d columns from %s.", o.RowCount, len(o.Columns), o.Source)
			}),
		},
		{
			Name: "report_generator", Title: "Report generator", Category: "reporting", Tags: []string{"markdown", "report"},
			Description: "Renders a Markdown report from a title, a summary and sections of text or data (arrays of objects " +
				"become tables), for example the outputs of earlier tool calls or tasks.",
			InputSchema: analytics.ReportInputSchema(), OutputSchema: analytics.ReportOutputSchema(),
			Scope: auth.ScopeRead, ReadOnly: true,
			Run: analysisTool(analytics.GenerateReport, func(o analytics.ReportOutput) string { return o.Markdown }),
		},
		llmProcessor(lm),
	}, nil
}

// analysisTool adapts a pure analytics function: decode, compute, summarise.
// Progress is reported per stage actually done.
func analysisTool[In, Out any](compute func(In) (Out, error), summarise func(Out) string) func(context.Context, Call) (Output, error) {
	return func(ctx context.Context, call Call) (Output, error) {
		var in In
		if err := decodeArgs(call, &in); err != nil {
			return Output{}, err
		}
		call.Progress(1, 2, "arguments decoded")
		out, err := compute(in)
		if err != nil {
			return Output{}, err
		}
		call.Progress(2, 2, "computed")
		return Output{Result: out, Summary: summarise(out)}, ctx.Err()
	}
}

// financialOutput is financial_analyzer's result: the computed figures and,
// with an LLM provider, a narrative written from them.
type financialOutput struct {
	analytics.FinancialOutput
	Narrative *string `json:"narrative"`
}

func financialAnalyzer(lm LLM) (Tool, error) {
	outputSchema, err := withNarrative(analytics.FinancialOutputSchema())
	if err != nil {
		return Tool{}, fmt.Errorf("financial_analyzer output schema: %w", err)
	}
	return Tool{
		Name: "financial_analyzer", Title: "Financial analyzer", Category: "finance", Tags: []string{"finance", "margin", "growth", "roi"},
		Description: "Analyses revenue, costs and investment per period: profit and margin per period, revenue growth and " +
			"compound growth, cost structure and cost reduction opportunities, ROI, and insights and recommendations " +
			"computed from the figures. With an LLM provider configured it adds a narrative. Give periods oldest first.",
		InputSchema: analytics.FinancialInputSchema(), OutputSchema: outputSchema,
		Scope: auth.ScopeRead, ReadOnly: true, Timeout: 2 * time.Minute,
		Run: func(ctx context.Context, call Call) (Output, error) {
			var in analytics.FinancialInput
			if err := decodeArgs(call, &in); err != nil {
				return Output{}, err
			}
			total := 2.0
			if lm.Configured() {
				total = 3
			}
			call.Progress(1, total, "arguments decoded")
			figures, err := analytics.AnalyzeFinancials(in)
			if err != nil {
				return Output{}, err
			}
			call.Progress(2, total, "figures computed")
			out := Output{Result: financialOutput{FinancialOutput: figures}, Summary: strings.Join(figures.Insights, " ")}
			if !lm.Configured() {
				return out, nil
			}
			figuresJSON, err := json.Marshal(figures)
			if err != nil {
				return Output{}, err
			}
			resp, err := lm.Complete(ctx, CompletionRequest{
				System: "You are a financial analyst. Write a concise narrative (at most 200 words) for a business owner " +
					"from the computed figures given as JSON. Use only numbers that appear in the figures; do not invent any.",
				Prompt: string(figuresJSON),
			})
			if err != nil {
				if ctx.Err() != nil {
					return Output{}, err
				}
				// The figures stand on their own: report why there is no narrative.
				figures.Notes = append(figures.Notes, "narrative unavailable: "+apperr.MessageOf(err))
				out.Result = financialOutput{FinancialOutput: figures}
				return out, nil
			}
			call.Progress(3, total, "narrative written")
			narrative := resp.Content
			out.Result = financialOutput{FinancialOutput: figures, Narrative: &narrative}
			out.Summary += "\n\n" + narrative
			out.TokensUsed, out.Cost = resp.TotalTokens, resp.Cost
			return out, nil
		},
	}, nil
}

// withNarrative adds the narrative property to the financial output schema.
func withNarrative(schema json.RawMessage) (json.RawMessage, error) {
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, err
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no properties")
	}
	props["narrative"] = map[string]any{
		"anyOf":       []any{map[string]any{"type": "string"}, map[string]any{"type": "null"}},
		"description": "A narrative written by the configured LLM from the figures; null without a provider.",
	}
	return json.Marshal(s)
}

// decodeArgs decodes validated arguments into the tool's input type.
func decodeArgs(call Call, v any) error {
	if err := json.Unmarshal(call.Arguments, v); err != nil {
		return apperr.E(apperr.Invalid, "arguments do not match the tool's input: %v", err)
	}
	return nil
}
