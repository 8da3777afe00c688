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

// MaxDelegates bounds the sub-tasks one task may delegate.
const MaxDelegates = 10

// delegate is one part of a task handed to an agent of another domain.
type delegate struct {
	Domain    string          `json:"domain"`
	Title     string          `json:"title"`
	InputData json.RawMessage `json:"input_data"`
}

// run executes the plan: the domain's tool when the input has what it takes,
// the delegated parts (input_data.delegate) through request messages to
// agents of other domains, then (except for a plain general task) a Markdown
// report combining the findings. Each call goes through the executor and is
// in the timeline.
func (s *Service) run(ctx context.Context, task db.Task, agent db.Agent) (json.RawMessage, error) {
	var input map[string]any
	if err := json.Unmarshal(task.InputData, &input); err != nil {
		return nil, apperr.E(apperr.Invalid, "input_data is not a JSON object")
	}
	if useTools, _ := input["use_tools"].(bool); useTools {
		var in agenticInput
		if err := json.Unmarshal(task.InputData, &in); err != nil || strings.TrimSpace(in.Prompt) == "" {
			return nil, apperr.E(apperr.Invalid, `use_tools needs input_data {"prompt": "...", "use_tools": true, "max_steps"?, "max_total_tokens"?}`)
		}
		return s.runAgentic(ctx, task, agent, in)
	}
	delegates, err := parseDelegates(task, input)
	if err != nil {
		return nil, err
	}
	p := planFor(task.Domain, input)
	args := map[string]any{}
	for _, k := range p.keys {
		if v, ok := input[k]; ok {
			args[k] = v
		}
	}
	ownWork := len(args) > 0 && !(p.tool == "financial_analyzer" && args["data"] == nil) && !(p.tool == "llm_processor" && args["prompt"] == nil)
	if !ownWork && len(delegates) == 0 {
		return nil, apperr.E(apperr.Invalid, "%s (or a \"delegate\" list of {domain, input_data} parts for other agents)", p.needs)
	}
	if task.Description != "" && p.tool == "llm_processor" && args["system"] == nil {
		args["system"] = "Task: " + task.Title + ". " + task.Description
	}

	out := map[string]any{}
	var sections []map[string]any
	summary := ""
	if len(delegates) > 0 {
		children, err := s.delegate(ctx, task, agent, delegates)
		if err != nil {
			return nil, err
		}
		out["children"] = children
		for _, c := range children {
			content := c.Summary
			if c.Status != "completed" {
				content = "Not available: " + c.Error
			}
			if strings.TrimSpace(content) == "" {
				content = "Completed; see the sub-task's output."
			}
			sections = append(sections, map[string]any{"heading": c.Domain + ": " + c.Title, "content": clip(content)})
		}
	}
	if ownWork {
		pct := 10
		if len(delegates) > 0 {
			pct = max(pct, currentProgress(ctx, s, task)) // where waiting for the parts left it
		}
		main, err := s.callToolAt(ctx, task, agent, p.tool, args, pct, "running "+p.tool)
		if err != nil {
			return nil, err
		}
		out["tool"], out["execution_id"], out["result"], out["summary"] = p.tool, main.ID, main.Result, main.Summary
		summary = main.Summary
		if p.tool == "llm_processor" && len(delegates) == 0 {
			s.progress(ctx, task, 95, "done")
			return json.Marshal(out)
		}
	}
	if strings.TrimSpace(summary) == "" {
		summary = "Findings of " + agent.Name + " for " + task.Title + "."
	}
	sections = append(sections, map[string]any{"heading": "How it was computed", "content": "Computed by " + agent.Name +
		" with the business tools; the full figures are in this task's output and in its sub-tasks' outputs."})
	report, err := s.callToolAt(ctx, task, agent, "report_generator", map[string]any{"title": task.Title, "summary": clip(summary), "sections": sections},
		80, "writing the report")
	if err != nil {
		return nil, err
	}
	var r struct {
		Markdown string `json:"markdown"`
	}
	_ = json.Unmarshal(report.Result, &r)
	out["report"] = r.Markdown
	s.progress(ctx, task, 95, "done")
	return json.Marshal(out)
}

func parseDelegates(task db.Task, input map[string]any) ([]delegate, error) {
	raw, ok := input["delegate"]
	if !ok {
		return nil, nil
	}
	if task.ParentTaskID != nil {
		return nil, apperr.E(apperr.Invalid, "a delegated task cannot delegate again: give the parts to the first task")
	}
	b, _ := json.Marshal(raw)
	var ds []delegate
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, apperr.E(apperr.Invalid, `delegate must be a list of {"domain", "title"?, "input_data"}`)
	}
	if len(ds) == 0 || len(ds) > MaxDelegates {
		return nil, apperr.E(apperr.Invalid, "delegate must list 1 to %d parts", MaxDelegates)
	}
	return ds, nil
}

// childResult is what a delegated part produced.
type childResult struct {
	TaskID  string          `json:"task_id"`
	Domain  string          `json:"domain"`
	Title   string          `json:"title"`
	AgentID *string         `json:"agent_id"`
	Status  string          `json:"status"`
	Output  json.RawMessage `json:"output,omitempty"`
	Error   string          `json:"error,omitempty"`
	Summary string          `json:"-"`
}

// delegate sends a request per part to an agent of the part's domain (the
// request and its sub-task are stored together) and returns the results
// once every part has ended. While any part is still open it returns
// errAwaitingParts: the task then suspends (awaitParts) and holds no worker
// and no agent until the transaction that ends its last part puts it back
// in line. Its next run (and any retry) finds the sub-tasks already asked
// for and uses them instead of asking again.
func (s *Service) delegate(ctx context.Context, task db.Task, agent db.Agent, parts []delegate) ([]childResult, error) {
	kids, err := s.queries.TaskList(ctx, db.TaskListParams{ParentTaskID: &task.ID, MaxRows: MaxDelegates + 1})
	if err != nil {
		return nil, db.MapError(err, "sub-tasks")
	}
	if len(kids) == 0 {
		for _, d := range parts {
			to, err := s.queries.AgentPickForDomain(ctx, db.AgentPickForDomainParams{Type: d.Domain, ID: agent.ID})
			if err != nil {
				if apperr.Is(db.MapError(err, "agent"), apperr.NotFound) {
					return nil, apperr.E(apperr.Invalid, "no other active %q agent to delegate to: create one or resume a paused one", apperr.Truncate(d.Domain, 32))
				}
				return nil, db.MapError(err, "agent")
			}
			title := d.Title
			if title == "" {
				title = task.Title + " (" + d.Domain + " part)"
			}
			created, err := s.Create(ctx, CreateParams{
				Title: title, Domain: d.Domain, Priority: task.Priority, InputData: d.InputData, ParentTaskID: &task.ID,
				TimeoutSeconds: int(task.TimeoutSeconds), AssignTo: &to.ID, RequestFrom: &agent.ID,
			})
			if err != nil {
				return nil, err
			}
			s.timeline(ctx, task.ID, "message", "asked "+to.Name+" to do "+title, map[string]any{"to": to.ID, "task_id": created.Task.ID, "type": "request"})
		}
		return nil, errAwaitingParts
	}
	for _, k := range kids {
		if !Terminal(k.Status) {
			return nil, errAwaitingParts
		}
	}
	out := make([]childResult, 0, len(kids))
	for i := len(kids) - 1; i >= 0; i-- { // oldest first, in the order asked
		k := kids[i]
		if _, err := s.queries.MessageDeliver(ctx, db.MessageDeliverParams{CorrelationID: &k.ID, Type: "response"}); err != nil {
			s.logger.WarnContext(ctx, "could not mark a response delivered", "task_id", k.ID, "err", err)
		}
		c := childResult{TaskID: k.ID.String(), Domain: k.Domain, Title: k.Title, Status: k.Status, Output: k.OutputData}
		if k.AgentID != nil {
			id := k.AgentID.String()
			c.AgentID = &id
		}
		if k.ErrorMessage != nil && k.Status != "completed" {
			c.Error = *k.ErrorMessage
		}
		var o struct {
			Summary string `json:"summary"`
		}
		_ = json.Unmarshal(k.OutputData, &o)
		c.Summary = o.Summary
		out = append(out, c)
		s.timeline(ctx, task.ID, "message", "response from the "+k.Domain+" part: "+k.Status, map[string]any{"task_id": k.ID, "type": "response"})
	}
	s.progress(ctx, task, partsProgress(len(kids), len(kids)), "delegated parts done")
	return out, nil
}

// partsProgress is a waiting task's progress with done of total parts
// ended (TaskAwaitParts and TaskPartsSettle compute the same).
func partsProgress(done, total int) int {
	return 10 + 60*done/max(total, 1)
}

func currentProgress(ctx context.Context, s *Service, task db.Task) int {
	t, err := s.queries.TaskGet(ctx, task.ID)
	if err != nil {
		return 0
	}
	return int(t.Progress)
}

func clip(s string) string {
	if utf8.RuneCountInString(s) > 20000 {
		return string([]rune(s)[:20000]) + "…"
	}
	return s
}
