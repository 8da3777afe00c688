// Package agents is the registry of AI agents: typed by business domain,
// each with capabilities (the tools it may run) and a status the
// orchestrator keeps consistent with the task it runs.
package agents

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/page"
	"github.com/bizmcp/bizmcp/internal/validate"
)

// Types lists the agent types, one per business domain.
func Types() []string {
	return []string{"finance", "sales", "marketing", "analytics", "operations", "general"}
}

// Statuses lists the agent statuses.
func Statuses() []string { return []string{"idle", "busy", "paused", "error"} }

// DefaultCapabilities are the tools an agent of a type runs unless told
// otherwise.
func DefaultCapabilities(typ string) []string {
	switch typ {
	case "finance":
		return []string{"financial_analyzer", "report_generator"}
	case "sales":
		return []string{"sales_forecaster", "report_generator"}
	case "marketing":
		return []string{"customer_segmenter", "report_generator"}
	case "analytics":
		return []string{"data_analyzer", "report_generator"}
	case "operations":
		return []string{"data_analyzer", "sales_forecaster", "report_generator"}
	case "general":
		return []string{"llm_processor", "report_generator"}
	}
	return nil
}

// DefaultConcurrency is how many tasks an agent of a type runs at once
// unless told otherwise, and ConcurrencyLimit the most it may be given. The
// analysis types run pure, in-process computations, so several at once
// share the machine well; a general agent's task is an LLM call whose cost
// and provider rate limits argue for fewer.
func DefaultConcurrency(typ string) int {
	if typ == "general" {
		return 2
	}
	return 4
}

// ConcurrencyLimit is the highest max_concurrency an agent of a type may
// have (see DefaultConcurrency).
func ConcurrencyLimit(typ string) int {
	if typ == "general" {
		return 8
	}
	return 32
}

// Agent is an agent as the API shows it.
type Agent struct {
	ID           uuid.UUID `json:"id"`
	Name         string    `json:"name"`
	Type         string    `json:"type"`
	Description  string    `json:"description"`
	Capabilities []string  `json:"capabilities"`
	Status       string    `json:"status"`
	// MaxConcurrency is how many tasks the agent runs at once; Running how
	// many it runs now. CurrentTaskID is the one it started last.
	MaxConcurrency int             `json:"max_concurrency"`
	Running        int             `json:"running"`
	CurrentTaskID  *uuid.UUID      `json:"current_task_id"`
	TasksCompleted int             `json:"tasks_completed"`
	TasksFailed    int             `json:"tasks_failed"`
	LastActivity   *time.Time      `json:"last_activity"`
	Config         json.RawMessage `json:"config"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// FromRow converts a stored agent.
func FromRow(r db.Agent) Agent {
	return Agent{
		ID: r.ID, Name: r.Name, Type: r.Type, Description: r.Description, Capabilities: r.Capabilities,
		Status: r.Status, MaxConcurrency: int(r.MaxConcurrency), Running: int(r.Running), CurrentTaskID: r.CurrentTaskID, TasksCompleted: int(r.TasksCompleted), TasksFailed: int(r.TasksFailed),
		LastActivity: r.LastActivity, Config: r.Config, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// Publisher receives the agent.status events.
type Publisher interface {
	Publish(e events.Event)
}

// StatusEvent is the live event announcing an agent's state.
func StatusEvent(a Agent) (events.Event, error) {
	e, err := events.New(events.AgentStatus, a)
	e.AgentID = a.ID.String()
	return e, err
}

// Service manages agents.
type Service struct {
	queries   *db.Queries
	tools     func(name string) bool
	publisher Publisher
	capacity  func(ctx context.Context)
}

// NewService returns the agent registry. toolExists validates capabilities;
// every change is published as an agent.status event.
func NewService(queries *db.Queries, toolExists func(name string) bool, publisher Publisher) *Service {
	return &Service{queries: queries, tools: toolExists, publisher: publisher}
}

// OnCapacity sets what to call when an agent may take more tasks than
// before (created, resumed, given a higher max_concurrency): the
// orchestrator starts the tasks that wait for one.
func (s *Service) OnCapacity(fn func(ctx context.Context)) { s.capacity = fn }

func (s *Service) addedCapacity(ctx context.Context, a Agent) {
	if s.capacity != nil && (a.Status == "idle" || a.Status == "busy") && a.Running < a.MaxConcurrency {
		s.capacity(ctx)
	}
}

func (s *Service) changed(a Agent) {
	if e, err := StatusEvent(a); err == nil {
		s.publisher.Publish(e)
	}
}

// CreateParams are the inputs of Create.
type CreateParams struct {
	Name         string
	Type         string
	Description  string
	Capabilities []string // nil: the type's defaults
	Config       json.RawMessage
	// MaxConcurrency is how many tasks the agent runs at once (nil: the
	// type's DefaultConcurrency).
	MaxConcurrency *int
}

// Bounds of an agent's fields, the same on create and update.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	MaxConfigBytes    = 64 << 10
	MaxCapabilities   = 64
)

// Create registers an agent. Its id exists before anything else happens
// (the seed's agents were used before they had one).
func (s *Service) Create(ctx context.Context, p CreateParams) (Agent, error) {
	if err := checkType(p.Type); err != nil {
		return Agent{}, err
	}
	name, err := checkName(p.Name)
	if err != nil {
		return Agent{}, err
	}
	if err := checkDescription(p.Description); err != nil {
		return Agent{}, err
	}
	caps, err := s.checkCapabilities(p.Type, p.Capabilities)
	if err != nil {
		return Agent{}, err
	}
	config, err := checkConfig(p.Config)
	if err != nil {
		return Agent{}, err
	}
	conc := DefaultConcurrency(p.Type)
	if p.MaxConcurrency != nil {
		if err := checkConcurrency(p.Type, *p.MaxConcurrency); err != nil {
			return Agent{}, err
		}
		conc = *p.MaxConcurrency
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Agent{}, err
	}
	row, err := s.queries.AgentCreate(ctx, db.AgentCreateParams{
		ID: id, Name: name, Type: p.Type, Description: p.Description, Capabilities: caps, Config: config, MaxConcurrency: int32(conc),
	})
	if err != nil {
		return Agent{}, db.MapError(err, "agent")
	}
	a := FromRow(row)
	s.changed(a)
	s.addedCapacity(ctx, a)
	return a, nil
}

// checkCapabilities returns the capabilities to store: the type's defaults
// when none are given (nil), otherwise the given tools, sorted and without
// duplicates. An explicit empty list stays an empty list (an agent that
// takes only its own domain's tasks), never NULL.
func (s *Service) checkCapabilities(typ string, caps []string) ([]string, error) {
	if caps == nil {
		caps = DefaultCapabilities(typ)
	}
	if len(caps) > MaxCapabilities {
		return nil, apperr.E(apperr.Invalid, "capabilities has %d entries; the limit is %d", len(caps), MaxCapabilities)
	}
	for i, c := range caps {
		if !s.tools(c) {
			return nil, apperr.E(apperr.Invalid, "capabilities[%d] %q is not a tool of this server; see GET /api/v1/tools", i, apperr.Truncate(c, 64))
		}
	}
	out := slices.Compact(slices.Sorted(slices.Values(caps)))
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// SeedDefaults creates one agent of each type on a fresh installation, so
// tasks run out of the box. It does nothing when any agent exists.
func (s *Service) SeedDefaults(ctx context.Context) error {
	n, err := s.queries.AgentCount(ctx)
	if err != nil {
		return db.MapError(err, "agents")
	}
	if n > 0 {
		return nil
	}
	for _, typ := range Types() {
		if _, err := s.Create(ctx, CreateParams{Name: strings.ToUpper(typ[:1]) + typ[1:] + " agent", Type: typ,
			Description: "Default " + typ + " agent created at first start."}); err != nil {
			return err
		}
	}
	return nil
}

// Get returns one agent.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Agent, error) {
	row, err := s.queries.AgentGet(ctx, id)
	if err != nil {
		return Agent{}, db.MapError(err, "agent "+id.String())
	}
	return FromRow(row), nil
}

// ListPage is a page of agents, newest first.
type ListPage struct {
	Items      []Agent `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// List returns agents filtered by type and status ("" for any).
func (s *Service) List(ctx context.Context, typ, status, cursor string, limit int) (ListPage, error) {
	c, limit, err := page.Parse(cursor, limit)
	if err != nil {
		return ListPage{}, err
	}
	params := db.AgentListParams{MaxRows: int32(limit + 1)}
	if typ != "" {
		if err := checkType(typ); err != nil {
			return ListPage{}, err
		}
		params.Type = &typ
	}
	if status != "" {
		if !slices.Contains(Statuses(), status) {
			return ListPage{}, apperr.E(apperr.Invalid, "status %q is not one of %s", apperr.Truncate(status, 32), strings.Join(Statuses(), ", "))
		}
		params.Status = &status
	}
	if c != nil {
		params.CursorCreatedAt, params.CursorID = &c.CreatedAt, &c.ID
	}
	rows, err := s.queries.AgentList(ctx, params)
	if err != nil {
		return ListPage{}, db.MapError(err, "agents")
	}
	var out ListPage
	out.Items, out.NextCursor = page.Build(rows, limit, func(r db.Agent) page.Cursor { return page.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }, FromRow)
	return out, nil
}

// UpdateParams change an agent; nil fields stay as they are. Status may be
// "paused" or "active" (resume).
type UpdateParams struct {
	Name        *string
	Description *string
	Config      json.RawMessage
	Status      *string
	// MaxConcurrency changes how many tasks the agent runs at once; tasks
	// it runs beyond a lowered limit finish.
	MaxConcurrency *int
}

// Update renames, reconfigures, pauses or resumes an agent. Every field is
// checked by the rules Create applies before anything is written, and the
// change is one statement: a refused update has changed nothing.
func (s *Service) Update(ctx context.Context, id uuid.UUID, p UpdateParams) (Agent, error) {
	params := db.AgentUpdateParams{ID: id}
	if p.Name != nil {
		name, err := checkName(*p.Name)
		if err != nil {
			return Agent{}, err
		}
		params.Name = &name
	}
	if p.Description != nil {
		if err := checkDescription(*p.Description); err != nil {
			return Agent{}, err
		}
		params.Description = p.Description
	}
	if p.Config != nil {
		config, err := checkConfig(p.Config)
		if err != nil {
			return Agent{}, err
		}
		params.Config = config
	}
	if p.MaxConcurrency != nil {
		// The limit depends on the type, which an update does not change.
		current, err := s.queries.AgentGet(ctx, id)
		if err != nil {
			return Agent{}, db.MapError(err, "agent "+id.String())
		}
		if err := checkConcurrency(current.Type, *p.MaxConcurrency); err != nil {
			return Agent{}, err
		}
		n := int32(*p.MaxConcurrency)
		params.MaxConcurrency = &n
	}
	if p.Status != nil {
		switch *p.Status {
		case "paused":
			params.Status = p.Status
		case "active", "idle":
			active := "active"
			params.Status = &active
		default:
			return Agent{}, apperr.E(apperr.Invalid, "status %q cannot be set: use \"paused\" to pause or \"active\" to resume", apperr.Truncate(*p.Status, 32))
		}
	}
	row, err := s.queries.AgentUpdate(ctx, params)
	if err != nil {
		return Agent{}, db.MapError(err, "agent "+id.String())
	}
	a := FromRow(row)
	s.changed(a)
	if p.MaxConcurrency != nil || p.Status != nil {
		s.addedCapacity(ctx, a)
	}
	return a, nil
}

// Delete removes an agent that runs nothing; a busy agent is a conflict
// (cancel its task first, or pause it and wait).
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	n, err := s.queries.AgentDelete(ctx, id)
	if err != nil {
		return db.MapError(err, "agent "+id.String())
	}
	if n == 0 {
		a, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		return apperr.E(apperr.Conflict, "agent %s is running task %s: cancel the task (POST /api/v1/resources/tasks/%s/cancel) or wait for it, then delete", id, a.CurrentTaskID, a.CurrentTaskID)
	}
	return nil
}

func checkType(typ string) error {
	if !slices.Contains(Types(), typ) {
		return apperr.E(apperr.Invalid, "unknown agent type %q: known types are %s", apperr.Truncate(typ, 32), strings.Join(Types(), ", "))
	}
	return nil
}

// checkConcurrency applies the same rule on create and update: a whole
// number from 1 to the type's limit.
func checkConcurrency(typ string, n int) error {
	if limit := ConcurrencyLimit(typ); n < 1 || n > limit {
		return apperr.E(apperr.Invalid, "max_concurrency %d is out of range: a %s agent runs 1 to %d tasks at once (default %d)", n, typ, limit, DefaultConcurrency(typ)).For("max_concurrency")
	}
	return nil
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", apperr.E(apperr.Invalid, "name is required")
	}
	if err := validate.Text("name", name, MaxNameLen); err != nil {
		return "", err
	}
	return name, nil
}

func checkDescription(d string) error {
	return validate.MultilineText("description", d, MaxDescriptionLen)
}

// checkConfig returns the config to store: {} when absent, otherwise a JSON
// object PostgreSQL can store (see validate.JSON).
func checkConfig(c json.RawMessage) (json.RawMessage, error) {
	if len(c) == 0 || string(c) == "null" {
		return json.RawMessage("{}"), nil
	}
	if err := validate.JSON("config", c, MaxConfigBytes); err != nil {
		return nil, err
	}
	if !validate.IsObject(c) {
		return nil, apperr.E(apperr.Invalid, "config must be a JSON object")
	}
	return c, nil
}
