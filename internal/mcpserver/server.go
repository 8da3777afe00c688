// Package mcpserver builds bizmcp's MCP server on the official Go SDK: the
// registry's tools (run through the shared executor), resources for recent
// tool executions, business-analysis prompts with argument completion,
// logging and progress. It knows nothing of HTTP: handlers/ mounts it.
package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
	bizauth "github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/mcpstate"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// principalKey is where the HTTP layer puts the caller in TokenInfo.Extra.
const principalKey = "bizmcp.principal"

// TokenInfo turns an authenticated principal into the SDK's token info: the
// scopes, and the key id as the user, which binds each MCP session to the key
// that opened it (another key cannot hijack the session).
func TokenInfo(p bizauth.Principal) *auth.TokenInfo {
	scopes := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		scopes[i] = string(s)
	}
	ti := &auth.TokenInfo{Scopes: scopes, UserID: p.KeyID.String(), Extra: map[string]any{principalKey: p}}
	if p.ExpiresAt != nil {
		ti.Expiration = *p.ExpiresAt
	}
	return ti
}

func principalOf(extra *mcp.RequestExtra) (bizauth.Principal, bool) {
	if extra == nil || extra.TokenInfo == nil {
		return bizauth.Principal{}, false
	}
	p, ok := extra.TokenInfo.Extra[principalKey].(bizauth.Principal)
	return p, ok
}

// Server holds what the MCP handlers use.
type Server struct {
	executor *tools.Executor
	tasks    Tasks
	agents   Agents
	events   Subscriber
	logger   *slog.Logger
	// sealer protects the request state of input-required results.
	sealer *mcpstate.Sealer
	// costs prices llm_processor calls before they run (cost.go).
	costs CostEstimator
}

// Deps are what the MCP server is built from. Tasks, Agents and Events may
// be nil: the orchestration tools and resources are then left out.
type Deps struct {
	Executor *tools.Executor
	Tasks    Tasks
	Agents   Agents
	Events   Subscriber
	Version  string
	Logger   *slog.Logger
	// Secret (SECRET_KEY) seals the request state handed to clients in
	// input-required results; every instance must share it. When empty a
	// random one is used, which only one instance can verify.
	Secret []byte
	// Costs prices LLM calls so that a costly one is confirmed first; nil
	// runs them without asking.
	Costs CostEstimator
}

// New builds the MCP server.
func New(d Deps) *mcp.Server {
	secret := d.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	s := &Server{executor: d.Executor, tasks: d.Tasks, agents: d.Agents, events: d.Events, logger: d.Logger,
		sealer: mcpstate.NewSealer(secret), costs: d.Costs}
	executor, version, logger := d.Executor, d.Version, d.Logger
	var extensions map[string]any
	if d.Tasks != nil && d.Agents != nil {
		extensions = mcptasks.Capability()
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "bizmcp", Title: "bizmcp business AI server", Version: version}, &mcp.ServerOptions{
		Instructions: "Business analysis tools (financial analysis, sales forecasting, RFM customer segmentation, " +
			"descriptive statistics, Markdown reports, LLM completion). Every tool call is recorded; recent calls are " +
			"readable as bizmcp://tool-executions resources.",
		Logger:            logger,
		CompletionHandler: s.complete,
		Capabilities: &mcp.ServerCapabilities{
			Logging:   &mcp.LoggingCapabilities{},
			Tools:     &mcp.ToolCapabilities{ListChanged: true},
			Resources: &mcp.ResourceCapabilities{ListChanged: true},
			Prompts:   &mcp.PromptCapabilities{ListChanged: true},
			// MCP Tasks on the orchestrator's durable tasks (tasks_ext.go).
			Extensions: extensions,
		},
		PageSize:     50,
		SetCacheable: setCacheable,
	})
	for _, name := range executor.Registry().Names() {
		t, _ := executor.Registry().Lookup(name)
		srv.AddTool(toolDef(t), s.callTool(t))
	}
	s.addOrchestration(srv)
	s.addResources(srv)
	s.addPrompts(srv)
	return srv
}

func toolDef(t tools.Tool) *mcp.Tool {
	def := &mcp.Tool{
		Name: t.Name, Title: t.Title, Description: t.Description + fmt.Sprintf(" Requires the %q scope.", t.Scope),
		InputSchema: t.InputSchema,
		Annotations: &mcp.ToolAnnotations{Title: t.Title, ReadOnlyHint: t.ReadOnly, IdempotentHint: t.ReadOnly, OpenWorldHint: &t.OpenWorld},
	}
	if t.ReadOnly {
		destructive := false
		def.Annotations.DestructiveHint = &destructive
	}
	if t.OutputSchema != nil {
		def.OutputSchema = t.OutputSchema
	}
	return def
}

// callTool runs a tool through the executor. Failures of the call itself
// (bad arguments, a missing scope, a provider that is down) are results
// with isError set and a message the caller can act on, as the MCP
// specification asks, so a model can correct itself.
func (s *Server) callTool(t tools.Tool) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		p, ok := principalOf(req.Extra)
		if !ok {
			return nil, fmt.Errorf("unauthenticated MCP request reached a tool")
		}
		if err := p.Require(t.Scope); err != nil {
			return errorResult(err), nil
		}
		if t.Name == llmTool {
			if res := s.confirmCost(req, p.KeyID.String()); res != nil {
				return res, nil
			}
		}
		keyID := p.KeyID
		exec, err := s.executor.Execute(ctx, tools.Request{
			Tool: t.Name, Arguments: req.Params.Arguments, Source: tools.SourceMCP, APIKeyID: &keyID,
			Progress: progressReporter(ctx, req),
		})
		if err != nil {
			if exec.ID != uuid.Nil {
				s.log(ctx, req.Session, mcp.LoggingLevel("warning"), map[string]any{"tool": t.Name, "execution_id": exec.ID, "error": exec.Error})
			}
			return errorResult(err), nil
		}
		s.log(ctx, req.Session, mcp.LoggingLevel("info"), map[string]any{"tool": t.Name, "execution_id": exec.ID, "execution_time_ms": exec.DurationMS})
		res := &mcp.CallToolResult{StructuredContent: exec.Result}
		// Clients that read only text get the summary and the JSON result.
		if exec.Summary != "" {
			res.Content = append(res.Content, &mcp.TextContent{Text: exec.Summary})
		}
		res.Content = append(res.Content, &mcp.TextContent{Text: string(exec.Result)})
		res.Meta = mcp.Meta{"bizmcp/execution_id": exec.ID.String(), "bizmcp/execution_time_ms": exec.DurationMS}
		return res, nil
	}
}

func errorResult(err error) *mcp.CallToolResult {
	res := &mcp.CallToolResult{}
	res.SetError(fmt.Errorf("%s", apperr.MessageOf(err)))
	return res
}

// progressReporter forwards a tool's progress to the client when the call
// carried a progress token.
func progressReporter(ctx context.Context, req *mcp.CallToolRequest) func(done, total float64, message string) {
	token := req.Params.GetProgressToken()
	if token == nil || req.Session == nil {
		return nil
	}
	return func(done, total float64, message string) {
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: done, Total: total, Message: message})
	}
}

// log sends a log message to the client, which receives it only after it
// set a level with logging/setLevel.
func (s *Server) log(ctx context.Context, ss *mcp.ServerSession, level mcp.LoggingLevel, data any) {
	if ss == nil {
		return
	}
	if err := ss.Log(ctx, &mcp.LoggingMessageParams{Level: level, Logger: "bizmcp", Data: data}); err != nil {
		s.logger.DebugContext(ctx, "could not send MCP log message", "err", err)
	}
}

func jsonText(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err
}

// catalogueTTL is how long a client may keep the tool, prompt, resource and
// template lists (SEP-2549). They are fixed for the life of the process, so
// a cached list never goes stale: a disabled tool stays listed, and a call to
// it is a tool error saying an administrator disabled it (a tool that
// vanished from the list would be an "unknown tool" to a client whose cached
// list still had it).
const catalogueTTL = 5 * time.Minute

// setCacheable decides the caching hints of cacheable results. The lists are
// the same for every key, but they are served only to authenticated callers,
// so they are private: a shared cache in between must not answer for us.
// Resource contents are live data filtered by key: never cached.
func setCacheable(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	c.CacheScope = "private"
	switch req.GetParams().(type) {
	case *mcp.ReadResourceParams:
		c.TTLMs = 0
	default:
		c.TTLMs = int(catalogueTTL / time.Millisecond)
	}
}
