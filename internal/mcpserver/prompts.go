package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/analytics"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// promptArgValues are the values offered by completion/complete per prompt
// argument. Other arguments are free text.
func promptArgValues(prompt, arg string) []string {
	switch prompt + "/" + arg {
	case "financial_review/focus":
		return analytics.AnalysisTypes()
	case "sales_forecast_brief/horizon":
		return []string{"1", "3", "6", "12", "24"}
	case "sales_forecast_brief/season_length":
		return []string{"0", "4", "7", "12", "52"}
	case "customer_segmentation_plan/goal":
		return []string{"retention", "win-back", "upsell", "loyalty"}
	}
	return nil
}

// addPrompt registers a prompt whose required arguments are enforced: the SDK
// passes a prompts/get without them to the handler, which would render a
// prompt about "" (the missing argument is a JSON-RPC invalid-params error,
// as the specification asks).
func addPrompt(srv *mcp.Server, p *mcp.Prompt, h mcp.PromptHandler) {
	srv.AddPrompt(p, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		var missing []string
		for _, a := range p.Arguments {
			if a.Required && strings.TrimSpace(req.Params.Arguments[a.Name]) == "" {
				missing = append(missing, a.Name)
			}
		}
		if len(missing) > 0 {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
				Message: fmt.Sprintf("prompt %s needs the argument(s) %s", p.Name, strings.Join(missing, ", "))}
		}
		for name, v := range req.Params.Arguments {
			if len(v) > maxPromptArg {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
					Message: fmt.Sprintf("prompt argument %s is %d bytes; at most %d", apperr.Truncate(name, 64), len(v), maxPromptArg)}
			}
		}
		return h(ctx, req)
	})
}

// maxPromptArg bounds one prompt argument: prompts are briefs, not data.
const maxPromptArg = 4096

func (s *Server) addPrompts(srv *mcp.Server) {
	addPrompt(srv, &mcp.Prompt{
		Name: "financial_review", Title: "Financial review",
		Description: "Review a company's periods of revenue, costs and investment with financial_analyzer and write findings for management.",
		Arguments: []*mcp.PromptArgument{
			{Name: "company", Description: "Company or business unit name", Required: true},
			{Name: "period", Description: "The span reviewed, e.g. FY2026 or 2026-Q1..Q4"},
			{Name: "focus", Description: "general, profitability, growth, costs or investment (default general)"},
		},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		a := req.Params.Arguments
		focus := orDefault(a["focus"], analytics.AnalysisGeneral)
		if !slices.Contains(analytics.AnalysisTypes(), focus) {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
				Message: fmt.Sprintf("focus %q is not one of %s", apperr.Truncate(focus, 64), strings.Join(analytics.AnalysisTypes(), ", "))}
		}
		period := orDefault(a["period"], "the periods provided")
		text := fmt.Sprintf(`Prepare a financial review of %s for %s, focused on %s.

1. Collect the revenue, costs and (if any) investment of each period, oldest first.
2. Call the financial_analyzer tool with {"data": [{"period", "revenue", "costs", "investment"}...], "analysis_type": %q}.
3. Report only figures the tool computed: margins, growth, cost structure and savings opportunities, ROI.
4. Close with the tool's recommendations, ranked by expected impact, and the questions management should answer next.`,
			a["company"], period, focus, focus)
		return &mcp.GetPromptResult{
			Description: "Financial review of " + a["company"],
			Messages:    []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}},
		}, nil
	})

	addPrompt(srv, &mcp.Prompt{
		Name: "sales_forecast_brief", Title: "Sales forecast brief",
		Description: "Forecast a product's sales with sales_forecaster and brief the sales team on the outlook and its uncertainty.",
		Arguments: []*mcp.PromptArgument{
			{Name: "product", Description: "Product or product line", Required: true},
			{Name: "horizon", Description: "Periods to forecast (default 3)"},
			{Name: "season_length", Description: "Periods per season: 0 none, 4 quarterly, 12 monthly, 52 weekly"},
		},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		a := req.Params.Arguments
		horizon := orDefault(a["horizon"], "3")
		season := orDefault(a["season_length"], "0")
		text := fmt.Sprintf(`Write a sales forecast brief for %s.

1. Gather its sales per period, oldest first.
2. Call the sales_forecaster tool with {"series": [...], "horizon": %s, "season_length": %s, "confidence": 0.95}.
3. State the trend per period and R², then each forecast with its 95%% interval; say plainly how wide the intervals are.
4. Name the risks the intervals imply for stock and targets, and what data would narrow them.`, a["product"], horizon, season)
		return &mcp.GetPromptResult{
			Description: "Sales forecast brief for " + a["product"],
			Messages:    []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}},
		}, nil
	})

	addPrompt(srv, &mcp.Prompt{
		Name: "customer_segmentation_plan", Title: "Customer segmentation plan",
		Description: "Segment customers by RFM with customer_segmenter and plan actions per segment for a goal.",
		Arguments: []*mcp.PromptArgument{
			{Name: "goal", Description: "retention, win-back, upsell or loyalty", Required: true},
		},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		goal := req.Params.Arguments["goal"]
		text := fmt.Sprintf(`Plan customer actions for the goal: %s.

1. Call customer_segmenter with the customers' records (customer_id, last_purchase_date, frequency, monetary) or their transactions.
2. For each segment the tool returns, give its size, share and average value, and one action that serves the goal.
3. Rank the segments by the revenue at stake (total_monetary) and say which to address first.`, goal)
		return &mcp.GetPromptResult{
			Description: "Segmentation plan for " + goal,
			Messages:    []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}},
		}, nil
	})
}

// complete answers completion/complete for prompt arguments with fixed
// values and for the execution template's id with the caller's recent
// execution ids.
func (s *Server) complete(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	ref, arg := req.Params.Ref, req.Params.Argument
	var candidates []string
	switch {
	case ref == nil:
	case ref.Type == "ref/prompt":
		candidates = promptArgValues(ref.Name, arg.Name)
	case ref.Type == "ref/resource" && ref.URI == executionTemplate && arg.Name == "id":
		p, err := s.viewer(req.Extra)
		if err != nil {
			return nil, resourceError(err)
		}
		pg, err := s.executor.ListExecutions(ctx, p, tools.ExecutionFilter{}, "", recentExecutionsLimit)
		if err != nil {
			return nil, resourceError(err)
		}
		for _, e := range pg.Items {
			candidates = append(candidates, e.ID.String())
		}
	}
	values := []string{}
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), strings.ToLower(arg.Value)) {
			values = append(values, c)
		}
	}
	total := len(values)
	if len(values) > 100 {
		values = values[:100] // the specification's maximum per response
	}
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: values, Total: total, HasMore: total > len(values)}}, nil
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
