package mcpserver

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
	bizauth "github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// Resource URIs.
const (
	executionsURI         = "bizmcp://tool-executions"
	executionTemplate     = "bizmcp://tool-executions/{id}"
	executionPrefix       = "bizmcp://tool-executions/"
	recentExecutionsLimit = 50
)

func (s *Server) addResources(srv *mcp.Server) {
	srv.AddResource(&mcp.Resource{
		URI: executionsURI, Name: "tool-executions", Title: "Recent tool executions",
		Description: "The 50 most recent tool executions visible to this API key (all of them for an admin key), newest first.",
		MIMEType:    "application/json",
	}, s.readExecutions)
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: executionTemplate, Name: "tool-execution", Title: "A tool execution",
		Description: "One recorded tool execution: parameters, result or error, duration, tokens and cost.",
		MIMEType:    "application/json",
	}, s.readExecution)
}

func (s *Server) viewer(extra *mcp.RequestExtra) (bizauth.Principal, error) {
	p, ok := principalOf(extra)
	if !ok {
		return p, apperr.E(apperr.Unauthorized, "unauthenticated")
	}
	return p, p.Require(bizauth.ScopeRead)
}

func (s *Server) readExecutions(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	p, err := s.viewer(req.Extra)
	if err != nil {
		return nil, resourceError(err)
	}
	pg, err := s.executor.ListExecutions(ctx, p, tools.ExecutionFilter{}, "", recentExecutionsLimit)
	if err != nil {
		return nil, resourceError(err)
	}
	text, err := jsonText(pg.Items)
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: executionsURI, MIMEType: "application/json", Text: text}}}, nil
}

func (s *Server) readExecution(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	p, err := s.viewer(req.Extra)
	if err != nil {
		return nil, resourceError(err)
	}
	uri := req.Params.URI
	id, err := uuid.Parse(strings.TrimPrefix(uri, executionPrefix))
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	exec, err := s.executor.GetExecution(ctx, p, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, resourceError(err)
	}
	text, err := jsonText(exec)
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: text}}}, nil
}

// resourceError keeps internal details out of JSON-RPC error messages.
func resourceError(err error) error {
	return &resourceErr{msg: apperr.MessageOf(err), cause: err}
}

type resourceErr struct {
	msg   string
	cause error
}

func (e *resourceErr) Error() string { return e.msg }
func (e *resourceErr) Unwrap() error { return e.cause }
