package tools

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/page"
)

// ExecutionFilter narrows the execution history; zero fields match all.
type ExecutionFilter struct {
	Tool     string
	Source   string
	TaskID   *uuid.UUID
	AgentID  *uuid.UUID
	APIKeyID *uuid.UUID
	Failed   *bool
}

// ExecutionPage is one page of the history, newest first.
type ExecutionPage struct {
	Items      []Execution `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// Sources lists the valid sources.
func Sources() []string {
	return []string{string(SourceMCP), string(SourceREST), string(SourceAgent), string(SourceDashboard)}
}

// ListExecutions returns the history visible to viewer: everything for an
// admin key, the key's own calls otherwise (parameters may hold another
// team's data).
func (e *Executor) ListExecutions(ctx context.Context, viewer auth.Principal, f ExecutionFilter, cursor string, limit int) (ExecutionPage, error) {
	c, limit, err := page.Parse(cursor, limit)
	if err != nil {
		return ExecutionPage{}, err
	}
	params := db.ToolExecutionListParams{TaskID: f.TaskID, AgentID: f.AgentID, ApiKeyID: f.APIKeyID, Failed: f.Failed, MaxRows: int32(limit + 1)}
	if f.Tool != "" {
		if _, ok := e.registry.tools[f.Tool]; !ok {
			return ExecutionPage{}, apperr.E(apperr.Invalid, "%s", e.registry.unknown(f.Tool).Error())
		}
		params.ToolName = &f.Tool
	}
	if f.Source != "" {
		if !slices.Contains(Sources(), f.Source) {
			return ExecutionPage{}, apperr.E(apperr.Invalid, "source %q is not one of mcp, rest, agent, dashboard", f.Source)
		}
		params.Source = &f.Source
	}
	if !auth.HasScope(viewer.Scopes, auth.ScopeAdmin) {
		own := viewer.KeyID
		params.ApiKeyID = &own
	}
	if c != nil {
		params.CursorCreatedAt, params.CursorID = &c.CreatedAt, &c.ID
	}
	rows, err := e.queries.ToolExecutionList(ctx, params)
	if err != nil {
		return ExecutionPage{}, db.MapError(err, "tool executions")
	}
	var out ExecutionPage
	out.Items, out.NextCursor = page.Build(rows, limit, func(r db.ToolExecution) page.Cursor { return page.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }, FromRow)
	return out, nil
}

// GetExecution returns one execution visible to viewer.
func (e *Executor) GetExecution(ctx context.Context, viewer auth.Principal, id uuid.UUID) (Execution, error) {
	row, err := e.queries.ToolExecutionGet(ctx, id)
	if err != nil {
		return Execution{}, db.MapError(err, "tool execution "+id.String())
	}
	if !auth.HasScope(viewer.Scopes, auth.ScopeAdmin) && (row.ApiKeyID == nil || *row.ApiKeyID != viewer.KeyID) {
		return Execution{}, apperr.E(apperr.NotFound, "tool execution %s not found", id)
	}
	return FromRow(row), nil
}
