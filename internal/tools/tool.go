// Package tools holds bizmcp's business tools and the one executor that runs
// them for every caller (MCP, REST, dashboard, agents): it validates the
// arguments against the tool's schema, bounds the run with a timeout,
// records the execution in mcp.tool_executions and publishes an event.
package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/bizmcp/bizmcp/internal/auth"
)

// Source says who called a tool.
type Source string

// The sources, as stored in mcp.tool_executions.source.
const (
	SourceMCP       Source = "mcp"
	SourceREST      Source = "rest"
	SourceAgent     Source = "agent"
	SourceDashboard Source = "dashboard"
)

// Tool is a tool's definition and implementation.
type Tool struct {
	Name        string
	Title       string
	Description string
	Category    string
	Tags        []string
	// InputSchema is the JSON Schema of the arguments (type object).
	InputSchema json.RawMessage
	// OutputSchema, when set, is the JSON Schema of Output.Result.
	OutputSchema json.RawMessage
	// Scope is what a caller's key needs to run it: read for pure
	// computations, write for tools that cost money or change state.
	Scope auth.Scope
	// ReadOnly tools change nothing; OpenWorld tools reach outside services.
	ReadOnly, OpenWorld bool
	// Timeout bounds one run (DefaultTimeout when zero).
	Timeout time.Duration
	// Run does the work. Arguments have been validated against InputSchema.
	Run func(ctx context.Context, call Call) (Output, error)
}

// DefaultTimeout bounds a tool run that names no timeout.
const DefaultTimeout = 30 * time.Second

// Call is one invocation as the implementation sees it.
type Call struct {
	Arguments json.RawMessage
	progress  func(done, total float64, message string)
}

// Progress reports how far the run is; it is a no-op when the caller did
// not ask for progress.
func (c Call) Progress(done, total float64, message string) {
	if c.progress != nil {
		c.progress(done, total, message)
	}
}

// Output is what a run produced.
type Output struct {
	// Result is the structured result, marshalled to JSON.
	Result any
	// Summary is a short human-readable account of the result.
	Summary    string
	TokensUsed int64
	Cost       float64
}
