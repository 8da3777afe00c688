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
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/page"
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

// Agent is an agent as the API shows it.
type Agent struct {
	ID             uuid.UUID       `json:"id"`
	Name           string          `json:"name"`
	Type           string          `json:"type"`
	Description    string          `json:"description"`
	Capabilities   []string        `json:"capabilities"`
	Status         string          `json:"status"`
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
		Status: r.Status, CurrentTaskID: r.CurrentTaskID, TasksCompleted: int(r.TasksCompleted), TasksFailed: int(r.TasksFailed),
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
}

// NewService returns the agent registry. toolExists validates capabilities;
// every change is published as an agent.status event.
func NewService(queries *db.Queries, toolExists func(name string) bool, publisher Publisher) *Service {
	return &Service{queries: queries, tools: toolExists, publisher: publisher}
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
}

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
	caps := p.Capabilities
	if caps == nil {
		caps = DefaultCapabilities(p.Type)
	}
	for _, c := range caps {
		if !s.tools(c) {
			return Agent{}, apperr.E(apperr.Invalid, "capability %q is not a tool of this server; see GET /api/v1/tools", apperr.Truncate(c, 64))
		}
	}
	config, err := checkConfig(p.Config)
	if err != nil {
		return Agent{}, err
	}
	if utf8.RuneCountInString(p.Description) > 2000 {
		return Agent{}, apperr.E(apperr.Invalid, "description is longer than 2000 characters")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Agent{}, err
	}
	row, err := s.queries.AgentCreate(ctx, db.AgentCreateParams{
		ID: id, Name: name, Type: p.Type, Description: p.Description, Capabilities: slices.Compact(slices.Sorted(slices.Values(caps))), Config: config,
	})
	if err != nil {
		return Agent{}, db.MapError(err, "agent")
	}
	a := FromRow(row)
	s.changed(a)
	return a, nil
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
}

// Update renames, reconfigures, pauses or resumes an agent.
func (s *Service) Update(ctx context.Context, id uuid.UUID, p UpdateParams) (Agent, error) {
	params := db.AgentUpdateParams{ID: id, Description: p.Description}
	if p.Name != nil {
		name, err := checkName(*p.Name)
		if err != nil {
			return Agent{}, err
		}
		params.Name = &name
	}
	if p.Config != nil {
		config, err := checkConfig(p.Config)
		if err != nil {
			return Agent{}, err
		}
		params.Config = config
	}
	row, err := s.queries.AgentUpdate(ctx, params)
	if err != nil {
		return Agent{}, db.MapError(err, "agent "+id.String())
	}
	if p.Status != nil {
		switch *p.Status {
		case "paused":
			row, err = s.queries.AgentPause(ctx, id)
		case "active", "idle":
			row, err = s.queries.AgentResume(ctx, id)
			if apperr.Is(db.MapError(err, "agent"), apperr.NotFound) {
				// Not paused: resuming is a no-op.
				row, err = s.queries.AgentGet(ctx, id)
			}
		default:
			return Agent{}, apperr.E(apperr.Invalid, "status %q cannot be set: use \"paused\" to pause or \"active\" to resume", apperr.Truncate(*p.Status, 32))
		}
		if err != nil {
			return Agent{}, db.MapError(err, "agent "+id.String())
		}
	}
	a := FromRow(row)
	s.changed(a)
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

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", apperr.E(apperr.Invalid, "name is required")
	case utf8.RuneCountInString(name) > 200:
		return "", apperr.E(apperr.Invalid, "name is longer than 200 characters")
	}
	return name, nil
}

func checkConfig(c json.RawMessage) (json.RawMessage, error) {
	if len(c) == 0 || string(c) == "null" {
		return json.RawMessage("{}"), nil
	}
	var m map[string]any
	if err := json.Unmarshal(c, &m); err != nil {
		return nil, apperr.E(apperr.Invalid, "config must be a JSON object")
	}
	if len(c) > 64<<10 {
		return nil, apperr.E(apperr.TooLarge, "config is larger than 64 KiB")
	}
	return c, nil
}
