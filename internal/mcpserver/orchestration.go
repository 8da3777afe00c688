package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	bizauth "github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

// Tasks is what the MCP server needs of the orchestrator.
type Tasks interface {
	Create(ctx context.Context, p orchestrator.CreateParams) (orchestrator.Created, error)
	Get(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	List(ctx context.Context, f orchestrator.Filter, cursor string, limit int) (orchestrator.ListPage, error)
	Cancel(ctx context.Context, id uuid.UUID) (orchestrator.Task, error)
	Timeline(ctx context.Context, id uuid.UUID) ([]orchestrator.Event, error)
	Send(ctx context.Context, p orchestrator.SendParams) (orchestrator.Message, error)
}

// Agents is what the MCP server needs of the agent registry.
type Agents interface {
	Get(ctx context.Context, id uuid.UUID) (agents.Agent, error)
	List(ctx context.Context, typ, status, cursor string, limit int) (agents.ListPage, error)
}

// Subscriber gives live events, to follow a task while waiting for it.
type Subscriber interface {
	Subscribe(buffer int, filter func(events.Event) bool) *events.Subscription
}

// MaxWait bounds how long create_task waits for a result.
const MaxWait = 10 * time.Minute

type orchestrationTool struct {
	tool    *mcp.Tool
	scope   bizauth.Scope
	handler func(ctx context.Context, req *mcp.CallToolRequest, args map[string]any) (any, error)
}

func (s *Server) addOrchestration(srv *mcp.Server) {
	if s.tasks == nil || s.agents == nil {
		return
	}
	for _, t := range s.orchestrationTools() {
		srv.AddTool(t.tool, s.orchestrationHandler(t))
	}
	if err := mcptasks.Install(srv, durableTasks{tasks: s.tasks, sealer: s.sealer, events: s.events}, taskSupport()); err != nil {
		panic(err) // a custom method shadowing a standard one: a programming error
	}
	srv.AddResource(&mcp.Resource{
		URI: "bizmcp://agents", Name: "agents", Title: "Agents",
		Description: "Every agent with its type, capabilities, status, current task and counters.", MIMEType: "application/json",
	}, s.readAgents)
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: "bizmcp://agents/{id}", Name: "agent", Title: "An agent",
		Description: "One agent: status, current task, counters.", MIMEType: "application/json",
	}, s.readAgent)
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: "bizmcp://tasks/{id}", Name: "task", Title: "A task",
		Description: "One task with its input, output or error, progress, and its timeline.", MIMEType: "application/json",
	}, s.readTask)
}

func schema(s string) json.RawMessage { return json.RawMessage(s) }

func (s *Server) orchestrationTools() []orchestrationTool {
	domains := `["` + strings.Join(agents.Types(), `","`) + `"]`
	return []orchestrationTool{
		{
			tool: &mcp.Tool{Name: "create_task", Title: "Create a task",
				Description: "Gives a business task to the agents: it is stored, assigned to a free agent of its domain and run with the tools. " +
					"Without a domain the call asks for one (an input-required result, or elicitation for 2025-11-25 clients). " +
					"input_data is what the domain's tool takes (finance: {data: [{period, revenue, costs}]}; sales: {series}; marketing: {customers} or {transactions}; " +
					"analytics/operations: {rows} or {csv}; general: {prompt}). With wait=true the call returns the finished task and reports progress. Requires the \"write\" scope.",
				InputSchema: schema(`{"type":"object","additionalProperties":false,"required":["title"],"properties":{
"title":{"type":"string","minLength":1,"maxLength":500},
"description":{"type":"string","maxLength":10000},
"domain":{"type":"string","enum":` + domains + `},
"priority":{"type":"string","enum":["low","medium","high","critical"],"default":"medium"},
"input_data":{"type":"object"},
"wait":{"type":"boolean","default":false,"description":"Wait for the task to finish (at most wait_seconds)."},
"wait_seconds":{"type":"integer","minimum":1,"maximum":600,"default":120}}}`)},
			scope: bizauth.ScopeWrite, handler: s.createTask,
		},
		{
			tool: &mcp.Tool{Name: "get_task", Title: "Get a task", Description: "A task with its status, progress, output or error, and its timeline. Requires the \"read\" scope.",
				InputSchema: schema(`{"type":"object","additionalProperties":false,"required":["task_id"],"properties":{"task_id":{"type":"string","format":"uuid"}}}`)},
			scope: bizauth.ScopeRead, handler: s.getTask,
		},
		{
			tool: &mcp.Tool{Name: "list_tasks", Title: "List tasks", Description: "Tasks newest first, filtered by status, domain, priority or agent. Requires the \"read\" scope.",
				InputSchema: schema(`{"type":"object","additionalProperties":false,"properties":{
"status":{"type":"string","enum":["pending","assigned","processing","completed","failed","cancelled"]},
"domain":{"type":"string","enum":` + domains + `},
"priority":{"type":"string","enum":["low","medium","high","critical"]},
"agent_id":{"type":"string","format":"uuid"},
"limit":{"type":"integer","minimum":1,"maximum":200,"default":20},
"cursor":{"type":"string"}}}`)},
			scope: bizauth.ScopeRead, handler: s.listTasks,
		},
		{
			tool: &mcp.Tool{Name: "cancel_task", Title: "Cancel a task", Description: "Cancels a pending or running task (a running step is stopped). Requires the \"write\" scope.",
				InputSchema: schema(`{"type":"object","additionalProperties":false,"required":["task_id"],"properties":{"task_id":{"type":"string","format":"uuid"}}}`)},
			scope: bizauth.ScopeWrite, handler: s.cancelTask,
		},
		{
			tool: &mcp.Tool{Name: "send_agent_message", Title: "Send a message to an agent",
				Description: "Stores a message to an agent. A request carries a task for it to do: payload {\"task\": {\"title\", \"input_data\", \"priority\"?}} " +
					"(the answer names the task created; follow it with get_task). Notifications are delivered to live listeners at once. Requires the \"write\" scope.",
				InputSchema: schema(`{"type":"object","additionalProperties":false,"required":["agent_id","type","payload"],"properties":{
"agent_id":{"type":"string","format":"uuid"},
"type":{"type":"string","enum":["request","notification","response"]},
"correlation_id":{"type":"string","format":"uuid"},
"payload":{"type":"object"}}}`)},
			scope: bizauth.ScopeWrite, handler: s.sendMessage,
		},
		{
			tool: &mcp.Tool{Name: "list_agents", Title: "List agents", Description: "The agents with their type, capabilities, status, how many tasks each runs now (running) of how many at once (max_concurrency), and counters. Requires the \"read\" scope.",
				InputSchema: schema(`{"type":"object","additionalProperties":false,"properties":{
"type":{"type":"string","enum":` + domains + `},
"status":{"type":"string","enum":["idle","busy","paused","error"]}}}`)},
			scope: bizauth.ScopeRead, handler: s.listAgents,
		},
	}
}

// orchestrationHandler checks the scope, decodes the arguments and turns the
// answer into structured content; failures are isError results.
func (s *Server) orchestrationHandler(t orchestrationTool) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		p, ok := principalOf(req.Extra)
		if !ok {
			return nil, fmt.Errorf("unauthenticated MCP request reached a tool")
		}
		if err := p.Require(t.scope); err != nil {
			return errorResult(err), nil
		}
		args := map[string]any{}
		if len(req.Params.Arguments) > 0 {
			if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
				return errorResult(apperr.E(apperr.Invalid, "arguments of %s must be a JSON object", t.tool.Name)), nil
			}
		}
		out, err := t.handler(ctx, req, args)
		if err != nil {
			return errorResult(err), nil
		}
		if ask, ok := out.(inputRequired); ok {
			return &mcp.CallToolResult{InputRequests: ask.requests, RequestState: ask.state}, nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		return &mcp.CallToolResult{StructuredContent: json.RawMessage(b), Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil
	}
}

func (s *Server) createTask(ctx context.Context, req *mcp.CallToolRequest, args map[string]any) (any, error) {
	waitFor, err := intArg(args, "wait_seconds", 1, int(MaxWait/time.Second), 120)
	if err != nil {
		return nil, err
	}
	domain := str(args["domain"])
	if domain == "" {
		var ask *inputRequired
		if domain, ask, err = s.askDomain(req, args); err != nil {
			return nil, err
		}
		if ask != nil {
			return *ask, nil
		}
	}
	input, _ := json.Marshal(args["input_data"])
	created, err := s.tasks.Create(ctx, orchestrator.CreateParams{
		Title: str(args["title"]), Description: str(args["description"]), Domain: domain,
		Priority: str(args["priority"]), InputData: input,
	})
	if err != nil {
		return nil, err
	}
	if mcptasks.Requested(ctx) {
		// A task-augmented call: the handle is the answer, the client
		// follows the task with tasks/get (wait does not apply).
		if err := s.startAsMCPTask(ctx, req, created.Task); err != nil {
			return nil, err
		}
		return created, nil
	}
	if wait, _ := args["wait"].(bool); !wait {
		return created, nil
	}
	return s.waitForTask(ctx, req, created.Task.ID, time.Duration(waitFor)*time.Second)
}

// waitForTask follows a task's live events until it ends, forwarding its
// progress to the client, and returns the task with its timeline. The task
// row is read again after each event: the event is a hint, the row the truth,
// so a missed event only delays the answer until the next one or the poll.
func (s *Server) waitForTask(ctx context.Context, req *mcp.CallToolRequest, id uuid.UUID, timeout time.Duration) (any, error) {
	follow := func(e events.Event) bool { return e.TaskID == id.String() }
	sub := s.events.Subscribe(64, follow)
	defer func() { sub.Close() }() // the subscription in use at the end, not the first
	report := progressReporter(ctx, req)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	lastProgress := -1
	for {
		t, err := s.tasks.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if report != nil && t.Progress != lastProgress {
			lastProgress = t.Progress
			report(float64(t.Progress), 100, t.Status)
		}
		if orchestrator.Terminal(t.Status) {
			return s.taskWithTimeline(ctx, t)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, apperr.E(apperr.Unavailable, "task %s is still %s after %s; follow it with get_task or the bizmcp://tasks/%s resource", id, t.Status, timeout, id)
		case _, open := <-sub.C:
			if !open { // dropped for being slow: subscribe again; the poll covers the gap
				sub = s.events.Subscribe(64, follow)
			}
		case <-poll.C:
		}
	}
}

func (s *Server) taskWithTimeline(ctx context.Context, t orchestrator.Task) (any, error) {
	timeline, err := s.tasks.Timeline(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"task": t, "timeline": timeline}, nil
}

func (s *Server) getTask(ctx context.Context, _ *mcp.CallToolRequest, args map[string]any) (any, error) {
	id, err := argUUID(args, "task_id")
	if err != nil {
		return nil, err
	}
	t, err := s.tasks.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.taskWithTimeline(ctx, t)
}

func (s *Server) listTasks(ctx context.Context, _ *mcp.CallToolRequest, args map[string]any) (any, error) {
	f := orchestrator.Filter{Status: str(args["status"]), Domain: str(args["domain"]), Priority: str(args["priority"])}
	if _, ok := args["agent_id"]; ok {
		id, err := argUUID(args, "agent_id")
		if err != nil {
			return nil, err
		}
		f.AgentID = &id
	}
	limit, err := intArg(args, "limit", 1, 200, 20)
	if err != nil {
		return nil, err
	}
	return s.tasks.List(ctx, f, str(args["cursor"]), limit)
}

func (s *Server) cancelTask(ctx context.Context, _ *mcp.CallToolRequest, args map[string]any) (any, error) {
	id, err := argUUID(args, "task_id")
	if err != nil {
		return nil, err
	}
	return s.tasks.Cancel(ctx, id)
}

func (s *Server) sendMessage(ctx context.Context, _ *mcp.CallToolRequest, args map[string]any) (any, error) {
	to, err := argUUID(args, "agent_id")
	if err != nil {
		return nil, err
	}
	p := orchestrator.SendParams{RecipientID: to, Type: str(args["type"])}
	if _, ok := args["correlation_id"]; ok {
		c, err := argUUID(args, "correlation_id")
		if err != nil {
			return nil, err
		}
		p.CorrelationID = &c
	}
	p.Payload, err = json.Marshal(args["payload"])
	if err != nil {
		return nil, err
	}
	return s.tasks.Send(ctx, p)
}

func (s *Server) listAgents(ctx context.Context, _ *mcp.CallToolRequest, args map[string]any) (any, error) {
	return s.agents.List(ctx, str(args["type"]), str(args["status"]), "", 200)
}

func (s *Server) readAgents(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if _, err := s.viewer(req.Extra); err != nil {
		return nil, resourceError(err)
	}
	pg, err := s.agents.List(ctx, "", "", "", 200)
	if err != nil {
		return nil, resourceError(err)
	}
	return jsonResource(req.Params.URI, pg.Items)
}

func (s *Server) readAgent(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if _, err := s.viewer(req.Extra); err != nil {
		return nil, resourceError(err)
	}
	id, err := uuid.Parse(strings.TrimPrefix(req.Params.URI, "bizmcp://agents/"))
	if err != nil {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	a, err := s.agents.Get(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	if err != nil {
		return nil, resourceError(err)
	}
	return jsonResource(req.Params.URI, a)
}

func (s *Server) readTask(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if _, err := s.viewer(req.Extra); err != nil {
		return nil, resourceError(err)
	}
	id, err := uuid.Parse(strings.TrimPrefix(req.Params.URI, "bizmcp://tasks/"))
	if err != nil {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	t, err := s.tasks.Get(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	if err != nil {
		return nil, resourceError(err)
	}
	v, err := s.taskWithTimeline(ctx, t)
	if err != nil {
		return nil, resourceError(err)
	}
	return jsonResource(req.Params.URI, v)
}

func jsonResource(uri string, v any) (*mcp.ReadResourceResult, error) {
	text, err := jsonText(v)
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: text}}}, nil
}

func argUUID(args map[string]any, name string) (uuid.UUID, error) {
	raw := str(args[name])
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, apperr.E(apperr.Invalid, "%s %q is not a UUID", name, apperr.Truncate(raw, 64))
	}
	return id, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// intArg reads an optional integer argument and checks its range while it is
// still a float64, as JSON decoded it: converting 1e300 to an int first
// would wrap it into a value that passes the check.
func intArg(args map[string]any, name string, lo, hi, def int) (int, error) {
	v, ok := args[name]
	if !ok || v == nil {
		return def, nil
	}
	n, ok := v.(float64)
	if !ok || n != math.Trunc(n) || n < float64(lo) || n > float64(hi) {
		return 0, apperr.E(apperr.Invalid, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return int(n), nil
}
