package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Status of a tool: a disabled tool is listed as such and refuses to run.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Registry holds the tools known to this server, with their input schemas
// compiled once.
type Registry struct {
	queries *db.Queries
	tools   map[string]*registered
	names   []string
}

type registered struct {
	Tool
	input *jsonschema.Resolved
}

// NewRegistry compiles the tools' schemas. A tool with a broken schema is a
// programming error reported at start, not at the first call.
func NewRegistry(queries *db.Queries, defs ...Tool) (*Registry, error) {
	r := &Registry{queries: queries, tools: map[string]*registered{}}
	for _, t := range defs {
		if _, dup := r.tools[t.Name]; dup {
			return nil, fmt.Errorf("tool %q registered twice", t.Name)
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(t.InputSchema, &s); err != nil {
			return nil, fmt.Errorf("tool %s: input schema: %w", t.Name, err)
		}
		if s.Type != "object" {
			return nil, fmt.Errorf("tool %s: input schema must have type object", t.Name)
		}
		resolved, err := s.Resolve(nil)
		if err != nil {
			return nil, fmt.Errorf("tool %s: resolve input schema: %w", t.Name, err)
		}
		if t.Timeout == 0 {
			t.Timeout = DefaultTimeout
		}
		r.tools[t.Name] = &registered{Tool: t, input: resolved}
		r.names = append(r.names, t.Name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Sync upserts every tool's definition into mcp.tools, keeping an
// operator's status choice.
func (r *Registry) Sync(ctx context.Context) error {
	for _, name := range r.names {
		t := r.tools[name]
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		_, err = r.queries.ToolUpsert(ctx, db.ToolUpsertParams{
			ID: id, Name: t.Name, Description: t.Description, InputSchema: t.InputSchema,
			OutputSchema: t.OutputSchema, Category: t.Category, Tags: nonNil(t.Tags),
		})
		if err != nil {
			return fmt.Errorf("register tool %s: %w", t.Name, db.MapError(err, "tool "+t.Name))
		}
	}
	return nil
}

// Names lists the tools in name order.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Lookup returns a tool's definition.
func (r *Registry) Lookup(name string) (Tool, bool) {
	t, ok := r.tools[name]
	if !ok {
		return Tool{}, false
	}
	return t.Tool, true
}

// Info is a tool as listed: its definition and its stored status.
type Info struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description"`
	Category     string          `json:"category"`
	Tags         []string        `json:"tags"`
	Status       string          `json:"status"`
	Scope        string          `json:"required_scope"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
}

// List returns every tool with its status, in name order.
func (r *Registry) List(ctx context.Context) ([]Info, error) {
	rows, err := r.queries.ToolList(ctx)
	if err != nil {
		return nil, db.MapError(err, "tools")
	}
	status := make(map[string]string, len(rows))
	for _, row := range rows {
		status[row.Name] = row.Status
	}
	out := make([]Info, 0, len(r.names))
	for _, name := range r.names {
		t := r.tools[name]
		st := status[name]
		if st == "" {
			st = StatusActive
		}
		out = append(out, Info{
			Name: t.Name, Title: t.Title, Description: t.Description, Category: t.Category, Tags: nonNil(t.Tags),
			Status: st, Scope: string(t.Scope), InputSchema: t.InputSchema, OutputSchema: t.OutputSchema,
		})
	}
	return out, nil
}

// SetStatus enables or disables a tool.
func (r *Registry) SetStatus(ctx context.Context, name, status string) error {
	if _, ok := r.tools[name]; !ok {
		return r.unknown(name)
	}
	if status != StatusActive && status != StatusDisabled {
		return apperr.E(apperr.Invalid, "status %q is not one of active, disabled", status)
	}
	_, err := r.queries.ToolSetStatus(ctx, db.ToolSetStatusParams{Name: name, Status: status})
	return db.MapError(err, "tool "+name)
}

func (r *Registry) unknown(name string) error {
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	return apperr.E(apperr.NotFound, "unknown tool %q: available tools are %s", name, strings.Join(r.names, ", "))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
