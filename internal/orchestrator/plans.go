package orchestrator

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
)

// plan is how an agent of a domain turns a task's input_data into tool
// calls: the main tool, the input keys it takes, and what to tell a person
// whose input has none of them.
type plan struct {
	tool  string
	keys  []string
	needs string
}

// planFor picks the plan for a domain and input. Operations tasks forecast
// when given a series and describe a table otherwise.
func planFor(domain string, input map[string]any) plan {
	switch domain {
	case "finance":
		return plan{"financial_analyzer", []string{"data", "analysis_type"}, `a finance task needs input_data {"data": [{"period", "revenue", "costs", "investment"?}, ...], "analysis_type"?}`}
	case "sales":
		return plan{"sales_forecaster", []string{"series", "horizon", "season_length", "confidence"}, `a sales task needs input_data {"series": [numbers, oldest first], "horizon"?, "season_length"?}`}
	case "marketing":
		return plan{"customer_segmenter", []string{"customers", "transactions", "reference_date"}, `a marketing task needs input_data {"customers": [...]} or {"transactions": [...]}`}
	case "analytics":
		return plan{"data_analyzer", []string{"rows", "csv", "columns"}, `an analytics task needs input_data {"rows": [{...}, ...]} or {"csv": "header\n..."}`}
	case "operations":
		if _, ok := input["series"]; ok {
			return plan{"sales_forecaster", []string{"series", "horizon", "season_length", "confidence"}, ""}
		}
		return plan{"data_analyzer", []string{"rows", "csv", "columns"}, `an operations task needs input_data {"rows": [...]}, {"csv": "..."} or {"series": [...]}`}
	}
	return plan{"llm_processor", []string{"prompt", "system", "provider", "model", "max_tokens", "temperature"}, `a general task needs input_data {"prompt": "..."} and an LLM provider`}
}

// requiredTools are the capabilities an agent of another type needs to take
// a domain's task when no agent of that type is free.
func requiredTools(domain string) []string {
	return []string{planFor(domain, nil).tool}
}

// run executes the plan: the domain's tool, then (except for general tasks)
// a Markdown report of its findings. Each call goes through the executor and
// is in the timeline.
func (s *Service) run(ctx context.Context, task db.Task, agent db.Agent) (json.RawMessage, error) {
	var input map[string]any
	if err := json.Unmarshal(task.InputData, &input); err != nil {
		return nil, apperr.E(apperr.Invalid, "input_data is not a JSON object")
	}
	p := planFor(task.Domain, input)
	args := map[string]any{}
	for _, k := range p.keys {
		if v, ok := input[k]; ok {
			args[k] = v
		}
	}
	if len(args) == 0 || (p.tool == "financial_analyzer" && args["data"] == nil) || (p.tool == "llm_processor" && args["prompt"] == nil) {
		return nil, apperr.E(apperr.Invalid, "%s", p.needs)
	}
	if task.Description != "" && p.tool == "llm_processor" && args["system"] == nil {
		args["system"] = "Task: " + task.Title + ". " + task.Description
	}

	s.progress(ctx, task, 10, "running "+p.tool)
	main, err := s.callTool(ctx, task, agent, p.tool, args)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"tool": p.tool, "execution_id": main.ID, "result": main.Result, "summary": main.Summary}
	if p.tool != "llm_processor" {
		s.progress(ctx, task, 70, "writing the report")
		summary := main.Summary
		if utf8.RuneCountInString(summary) > 20000 {
			summary = string([]rune(summary)[:20000]) + "…"
		}
		if strings.TrimSpace(summary) == "" {
			summary = "The " + p.tool + " results are attached to this task."
		}
		report, err := s.callTool(ctx, task, agent, "report_generator", map[string]any{
			"title":    task.Title,
			"summary":  summary,
			"sections": []map[string]any{{"heading": "How it was computed", "content": "Computed by " + p.tool + " for " + agent.Name + "; the full figures are in this task's output."}},
		})
		if err != nil {
			return nil, err
		}
		var r struct {
			Markdown string `json:"markdown"`
		}
		_ = json.Unmarshal(report.Result, &r)
		out["report"] = r.Markdown
	}
	s.progress(ctx, task, 95, "done")
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return b, nil
}
