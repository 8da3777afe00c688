package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
)

// Status of a tool: a disabled tool is listed as such and refuses to run.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// statusTTL bounds how long this instance may go on using a tool status it
// has not heard about: a disable or enable normally reaches every instance
// at once through the tool.status event (Start), and the status is read
// from the database again once it is this old, should an event be lost
// (Redis down, a dropped subscription).
const statusTTL = 10 * time.Second

// Registry holds the tools known to this server, with their input schemas
// compiled once, and their status (active or disabled) held in memory, so
// that a call costs no database read: the definitions come from the code,
// and the status is refreshed when a tool.status event says it changed.
type Registry struct {
	queries *db.Queries
	tools   map[string]*registered
	names   []string

	// status is the latest snapshot of mcp.tools' statuses; refreshing
	// serialises loads so that a stale snapshot costs one read, not one per
	// caller.
	status     atomic.Pointer[statusSnapshot]
	refreshing sync.Mutex

	bus    Bus
	logger *slog.Logger
	stop   context.CancelFunc
	done   chan struct{}
}

// statusSnapshot is the status of every stored tool at one time; a tool
// missing from it is active (it was registered after the load).
type statusSnapshot struct {
	status   map[string]string
	loadedAt time.Time
}

// Bus is where the registry announces status changes and hears those of
// the other instances (events.Bus, or an events.Hub for one process).
type Bus interface {
	Publish(e events.Event)
	Subscribe(buffer int, filter func(events.Event) bool) *events.Subscription
}

type registered struct {
	Tool
	input *inputSchema
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
		resolved, err := compileInput(&s, t.InputSchema)
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
// operator's status choice, and loads the statuses.
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
	_, err := r.Refresh(ctx)
	return err
}

// Start keeps the statuses in step with the other instances: SetStatus
// publishes a tool.status event on bus, and every instance (this one too)
// reloads the statuses when it hears one. A lost event is bounded by
// statusTTL; a subscription the hub dropped is renewed with a reload. Stop
// ends it.
func (r *Registry) Start(ctx context.Context, bus Bus, logger *slog.Logger) {
	r.bus, r.logger = bus, logger
	ctx, r.stop = context.WithCancel(ctx)
	r.done = make(chan struct{})
	isStatus := func(e events.Event) bool { return e.Type == events.ToolStatus }
	sub := bus.Subscribe(16, isStatus)
	go func() {
		defer close(r.done)
		for {
			select {
			case <-ctx.Done():
				sub.Close()
				return
			case _, ok := <-sub.C:
				if !ok { // dropped for being slow: whatever was missed, reload
					sub = bus.Subscribe(16, isStatus)
				}
				if _, err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
					logger.Warn("could not reload tool statuses after a change; retrying on the next call", "err", err)
					r.status.Store(nil)
				}
			}
		}
	}()
}

// Stop ends what Start began.
func (r *Registry) Stop() {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
}

// Refresh loads the statuses from mcp.tools and returns them.
func (r *Registry) Refresh(ctx context.Context) (map[string]string, error) {
	rows, err := r.queries.ToolList(ctx)
	if err != nil {
		return nil, db.MapError(err, "tools")
	}
	status := make(map[string]string, len(rows))
	for _, row := range rows {
		status[row.Name] = row.Status
	}
	r.status.Store(&statusSnapshot{status: status, loadedAt: time.Now()})
	return status, nil
}

// statuses returns the statuses held in memory, reloading them first when
// they are older than statusTTL (or were never loaded).
func (r *Registry) statuses(ctx context.Context) (map[string]string, error) {
	if s := r.status.Load(); s != nil && time.Since(s.loadedAt) < statusTTL {
		return s.status, nil
	}
	r.refreshing.Lock()
	defer r.refreshing.Unlock()
	if s := r.status.Load(); s != nil && time.Since(s.loadedAt) < statusTTL {
		return s.status, nil // another caller has just reloaded
	}
	return r.Refresh(ctx)
}

// Status returns a tool's status (active when it is not stored).
func (r *Registry) Status(ctx context.Context, name string) (string, error) {
	status, err := r.statuses(ctx)
	if err != nil {
		return "", err
	}
	if st := status[name]; st != "" {
		return st, nil
	}
	return StatusActive, nil
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

// List returns every tool with its status, in name order. It reads the
// statuses from the database: a list is where an operator checks a change.
func (r *Registry) List(ctx context.Context) ([]Info, error) {
	status, err := r.Refresh(ctx)
	if err != nil {
		return nil, err
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

// SetStatus enables or disables a tool, from the next call on in this
// instance, and announces it to the others (Start).
func (r *Registry) SetStatus(ctx context.Context, name, status string) error {
	if _, ok := r.tools[name]; !ok {
		return r.unknown(name)
	}
	if status != StatusActive && status != StatusDisabled {
		return apperr.E(apperr.Invalid, "status %q is not one of active, disabled", status)
	}
	if _, err := r.queries.ToolSetStatus(ctx, db.ToolSetStatusParams{Name: name, Status: status}); err != nil {
		return db.MapError(err, "tool "+name)
	}
	// This instance answers the caller's next request: it must not wait for
	// the event to come round.
	if _, err := r.Refresh(ctx); err != nil {
		r.status.Store(nil) // reloaded on the next call
	}
	if r.bus != nil {
		e, err := events.New(events.ToolStatus, map[string]string{"name": name, "status": status})
		if err == nil {
			r.bus.Publish(e)
		}
	}
	return nil
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
