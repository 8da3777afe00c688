// Package orchestrator runs tasks on agents. A task row and its River job are
// written in one transaction; a River worker claims a suitable agent
// atomically, runs the domain's plan through the tool executor (every call
// recorded with the task and agent), keeps the timeline and progress, and
// frees the agent. River gives retries with backoff, timeouts, cancellation,
// rescue of jobs whose server died, and one run per job across instances.
package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/page"
	"github.com/bizmcp/bizmcp/internal/tools"
	"github.com/bizmcp/bizmcp/internal/validate"
)

// Priorities lists the task priorities, most urgent last.
func Priorities() []string { return []string{"low", "medium", "high", "critical"} }

// Statuses lists the task statuses.
func Statuses() []string {
	return []string{"pending", "assigned", "processing", "completed", "failed", "cancelled"}
}

// Bounds on a task.
const (
	MaxInputBytes     = 4 << 20
	MaxTitleLen       = 500
	MaxDescriptionLen = 10_000
	MaxTimeout        = 24 * time.Hour
	DefaultTimeout    = 5 * time.Minute
	MaxAttempts       = 10
)

// riverPriority maps a task priority to River's (1 runs first).
func riverPriority(p string) int {
	switch p {
	case "critical":
		return 1
	case "high":
		return 2
	case "low":
		return 4
	}
	return 3
}

// Publisher receives live events.
type Publisher interface {
	Publish(e events.Event)
}

// Config tunes the orchestrator.
type Config struct {
	// Workers is how many tasks this instance runs at once.
	Workers int
	// RescueAfter is how long a task may look running before it is
	// considered abandoned by a dead instance and run again. River never
	// rescues a job before its own timeout has passed, so a long task is not
	// taken for dead while it still runs.
	RescueAfter time.Duration
	// HeartbeatInterval is how often a running task's heartbeat is written;
	// StaleAfter is how old a heartbeat may get before a live instance takes
	// the task over; OrphanSweep is how often tasks whose River job ended
	// without them are looked for (see heartbeat.go and sweep.go).
	HeartbeatInterval, StaleAfter, OrphanSweep time.Duration
	// LLM, when it has a provider, lets agents run a tool-calling loop for
	// tasks that ask for it (input_data.use_tools).
	LLM LLM
}

// Service creates, lists, cancels and retries tasks, and runs them.
type Service struct {
	pool     *pgxpool.Pool
	queries  *db.Queries
	executor *tools.Executor
	llm      LLM
	events   Publisher
	logger   *slog.Logger
	cfg      Config
	river    *river.Client[pgx.Tx]
	rec      *recovery
}

// New builds the orchestrator and its River client (not started).
func New(pool *pgxpool.Pool, queries *db.Queries, executor *tools.Executor, publisher Publisher, logger *slog.Logger, cfg Config) (*Service, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = time.Minute
	}
	cfg = withRecoveryDefaults(cfg)
	s := &Service{pool: pool, queries: queries, executor: executor, llm: cfg.LLM, events: publisher, logger: logger, cfg: cfg, rec: newRecovery(queries)}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &taskWorker{s: s}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// Business tasks are interactive: pick new jobs up within tens of
		// milliseconds (River is told of inserts by LISTEN/NOTIFY and polls
		// as a fallback).
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 500 * time.Millisecond,
		JobTimeout:        -1, // each task's own timeout applies (taskWorker.Timeout)
		Logger:            logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.river = client
	return s, nil
}

// Start begins working tasks, beating their heartbeat and taking over tasks
// whose heartbeat stopped.
func (s *Service) Start(ctx context.Context) error {
	if err := s.river.Start(ctx); err != nil {
		return err
	}
	s.startMaintenance(ctx)
	return nil
}

// Stop stops taking tasks and hands running ones back: their context is
// cancelled and they are requeued for another instance (or the next start).
func (s *Service) Stop(ctx context.Context) error {
	err := s.river.StopAndCancel(ctx)
	s.stopMaintenance()
	return err
}

// Task is a task as the API shows it.
type Task struct {
	ID           uuid.UUID       `json:"id"`
	Title        string          `json:"title"`
	Description  string          `json:"description"`
	Domain       string          `json:"domain"`
	Priority     string          `json:"priority"`
	Status       string          `json:"status"`
	AgentID      *uuid.UUID      `json:"agent_id"`
	ParentTaskID *uuid.UUID      `json:"parent_task_id"`
	InputData    json.RawMessage `json:"input_data"`
	OutputData   json.RawMessage `json:"output_data"`
	Error        *string         `json:"error_message"`
	Progress     int             `json:"progress"`
	Attempts     int             `json:"attempts"`
	MaxAttempts  int             `json:"max_attempts"`
	TimeoutSec   int             `json:"timeout_seconds"`
	TokensUsed   int64           `json:"tokens_used"`
	Cost         float64         `json:"cost"`
	CreatedAt    time.Time       `json:"created_at"`
	StartedAt    *time.Time      `json:"started_at"`
	CompletedAt  *time.Time      `json:"completed_at"`
}

// FromRow converts a stored task.
func FromRow(r db.Task) Task {
	return Task{
		ID: r.ID, Title: r.Title, Description: r.Description, Domain: r.Domain, Priority: r.Priority, Status: r.Status,
		AgentID: r.AgentID, ParentTaskID: r.ParentTaskID, InputData: r.InputData, OutputData: r.OutputData,
		Error: r.ErrorMessage, Progress: int(r.Progress), Attempts: int(r.Attempts), MaxAttempts: int(r.MaxAttempts),
		TimeoutSec: int(r.TimeoutSeconds), TokensUsed: r.TokensUsed, Cost: r.Cost,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt,
	}
}

// Terminal reports whether a status is final.
func Terminal(status string) bool {
	return status == "completed" || status == "failed" || status == "cancelled"
}

// CreateParams are the inputs of Create.
type CreateParams struct {
	Title        string
	Description  string
	Domain       string
	Priority     string // "" = medium
	InputData    json.RawMessage
	ParentTaskID *uuid.UUID
	// TimeoutSeconds bounds one attempt (0 = DefaultTimeout). It is a count
	// of seconds, range-checked before it becomes a time.Duration: a
	// Duration multiplied from a client's number can wrap around (the
	// seconds in 18446744075 wrap to one second).
	TimeoutSeconds int
	MaxAttempts    int // 0 = 3
	// AssignTo gives the task to one agent (a delegated request names its
	// recipient); nil lets the orchestrator choose.
	AssignTo *uuid.UUID
	// RequestFrom, with AssignTo, stores the request message from this
	// agent (nil: from an operator) in the task's transaction, so the task
	// and the message exist together or not at all.
	RequestFrom    *uuid.UUID
	RequestPayload json.RawMessage
}

// Created is Create's answer.
type Created struct {
	Task                    Task       `json:"task"`
	EstimatedCompletionTime *time.Time `json:"estimated_completion_time"`
}

// Create validates and stores a task and enqueues its job in the same
// transaction: either both exist or neither.
func (s *Service) Create(ctx context.Context, p CreateParams) (Created, error) {
	title := strings.TrimSpace(p.Title)
	if title == "" {
		return Created{}, apperr.E(apperr.Invalid, "title is required")
	}
	if err := validate.Text("title", title, MaxTitleLen); err != nil {
		return Created{}, err
	}
	if err := validate.MultilineText("description", p.Description, MaxDescriptionLen); err != nil {
		return Created{}, err
	}
	switch {
	case !slices.Contains(agents.Types(), p.Domain):
		return Created{}, apperr.E(apperr.Invalid, "unknown domain %q: known domains are %s", apperr.Truncate(p.Domain, 32), strings.Join(agents.Types(), ", "))
	}
	if p.Priority == "" {
		p.Priority = "medium"
	}
	if !slices.Contains(Priorities(), p.Priority) {
		return Created{}, apperr.E(apperr.Invalid, "unknown priority %q: use one of %s", apperr.Truncate(p.Priority, 32), strings.Join(Priorities(), ", "))
	}
	input := p.InputData
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage("{}")
	}
	if err := validate.JSON("input_data", input, MaxInputBytes); err != nil {
		return Created{}, err
	}
	if !validate.IsObject(input) {
		return Created{}, apperr.E(apperr.Invalid, "input_data must be a JSON object holding what the %s tools take", p.Domain)
	}
	if len(p.RequestPayload) > 0 {
		if err := validate.JSON("payload", p.RequestPayload, MaxInputBytes); err != nil {
			return Created{}, err
		}
	}
	timeout := DefaultTimeout
	if p.TimeoutSeconds != 0 {
		if p.TimeoutSeconds < 1 || p.TimeoutSeconds > int(MaxTimeout/time.Second) {
			return Created{}, apperr.E(apperr.Invalid, "timeout_seconds %d is out of range: use 1 to %d, or omit it for %d", p.TimeoutSeconds, int(MaxTimeout/time.Second), int(DefaultTimeout/time.Second))
		}
		timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	attempts := p.MaxAttempts
	if attempts == 0 {
		attempts = 3
	}
	if attempts < 1 || attempts > MaxAttempts {
		return Created{}, apperr.E(apperr.Invalid, "max_attempts must be between 1 and %d", MaxAttempts)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Created{}, err
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Created{}, db.MapError(err, "task")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	q := s.queries.WithTx(tx)
	row, err := q.TaskCreate(ctx, db.TaskCreateParams{
		ID: id, Title: title, Description: p.Description, Domain: p.Domain, Priority: p.Priority, InputData: input,
		ParentTaskID: p.ParentTaskID, TimeoutSeconds: int32(timeout / time.Second), MaxAttempts: int32(attempts),
		AgentID: p.AssignTo,
	})
	if err != nil {
		return Created{}, db.MapError(err, "task")
	}
	var request *db.Message
	if p.AssignTo != nil {
		payload := p.RequestPayload
		if len(payload) == 0 {
			payload = mustJSON(map[string]any{"task": map[string]any{"title": title, "domain": p.Domain, "input_data": input}})
		}
		msgID, err := uuid.NewV7()
		if err != nil {
			return Created{}, err
		}
		m, err := q.MessageCreate(ctx, db.MessageCreateParams{
			ID: msgID, SenderID: p.RequestFrom, RecipientID: *p.AssignTo, Type: "request", CorrelationID: &id, TaskID: &id, Payload: payload,
		})
		if err != nil {
			return Created{}, db.MapError(err, "message")
		}
		request = &m
	}
	if err := s.enqueue(ctx, tx, q, row); err != nil {
		return Created{}, err
	}
	if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: id, Type: "created", Message: "task created", Data: mustJSON(map[string]any{"priority": p.Priority, "domain": p.Domain})}); err != nil {
		return Created{}, db.MapError(err, "task event")
	}
	if err := tx.Commit(ctx); err != nil {
		return Created{}, db.MapError(err, "task")
	}
	task := FromRow(row)
	s.publish(events.TaskCreated, task)
	if request != nil {
		s.publishMessage(messageFromRow(*request))
	}
	out := Created{Task: task}
	if avg, err := s.queries.TaskAverageDuration(ctx, p.Domain); err == nil && avg > 0 {
		eta := time.Now().UTC().Add(time.Duration(avg * float64(time.Second)))
		out.EstimatedCompletionTime = &eta
	}
	return out, nil
}

// enqueue inserts the task's job in tx and records its id.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, q *db.Queries, row db.Task) error {
	res, err := s.river.InsertTx(ctx, tx, TaskArgs{TaskID: row.ID, TimeoutSeconds: int(row.TimeoutSeconds)}, &river.InsertOpts{
		Priority: riverPriority(row.Priority), MaxAttempts: int(row.MaxAttempts),
	})
	if err != nil {
		return db.MapError(err, "task job")
	}
	if err := q.TaskSetJob(ctx, db.TaskSetJobParams{ID: row.ID, JobID: &res.Job.ID}); err != nil {
		return db.MapError(err, "task job")
	}
	return nil
}

// Get returns one task.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Task, error) {
	row, err := s.queries.TaskGet(ctx, id)
	if err != nil {
		return Task{}, db.MapError(err, "task "+id.String())
	}
	return FromRow(row), nil
}

// Filter narrows List; zero fields match all.
type Filter struct {
	Status, Domain, Priority string
	AgentID, ParentTaskID    *uuid.UUID
	// CreatedFrom is inclusive and CreatedBefore exclusive (see
	// ParseCreatedRange).
	CreatedFrom, CreatedBefore *time.Time
}

// ListPage is a page of tasks, newest first.
type ListPage struct {
	Items      []Task `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// List returns tasks newest first.
func (s *Service) List(ctx context.Context, f Filter, cursor string, limit int) (ListPage, error) {
	c, limit, err := page.Parse(cursor, limit)
	if err != nil {
		return ListPage{}, err
	}
	params := db.TaskListParams{AgentID: f.AgentID, ParentTaskID: f.ParentTaskID, CreatedFrom: f.CreatedFrom, CreatedBefore: f.CreatedBefore,
		MaxRows: int32(limit + 1)}
	for _, v := range []struct {
		name, value string
		allowed     []string
		dst         **string
	}{
		{"status", f.Status, Statuses(), &params.Status},
		{"domain", f.Domain, agents.Types(), &params.Domain},
		{"priority", f.Priority, Priorities(), &params.Priority},
	} {
		if v.value == "" {
			continue
		}
		if !slices.Contains(v.allowed, v.value) {
			return ListPage{}, apperr.E(apperr.Invalid, "%s %q is not one of %s", v.name, apperr.Truncate(v.value, 32), strings.Join(v.allowed, ", "))
		}
		value := v.value
		*v.dst = &value
	}
	if c != nil {
		params.CursorCreatedAt, params.CursorID = &c.CreatedAt, &c.ID
	}
	rows, err := s.queries.TaskList(ctx, params)
	if err != nil {
		return ListPage{}, db.MapError(err, "tasks")
	}
	var out ListPage
	out.Items, out.NextCursor = page.Build(rows, limit, func(r db.Task) page.Cursor { return page.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }, FromRow)
	return out, nil
}

// Event is one entry of a task's timeline.
type Event struct {
	ID        int64           `json:"id"`
	Type      string          `json:"type"`
	Message   string          `json:"message"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// Timeline returns a task's events, oldest first.
func (s *Service) Timeline(ctx context.Context, id uuid.UUID) ([]Event, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.queries.TaskEventList(ctx, id)
	if err != nil {
		return nil, db.MapError(err, "task events")
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, Type: r.Type, Message: r.Message, Data: r.Data, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// Cancel stops a task: a queued one never starts, a running one sees its
// context cancelled. A finished task is a conflict.
//
// A running task's agent slot is freed with the cancellation (the trigger),
// and a parked task that the agent can take is woken in the same
// transaction. The task's open delegated parts are cancelled with it, and
// a cancelled part settles its parent (see parts.go).
func (s *Service) Cancel(ctx context.Context, id uuid.UUID) (Task, error) {
	var row db.Task
	var parts []db.Task
	var parent *db.Task
	err := s.inRiverTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if _, err := q.TaskLockParentOf(ctx, id); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var err error
		if row, err = q.TaskCancel(ctx, id); err != nil {
			return err
		}
		if parts, err = s.cancelParts(ctx, tx, q, id, "cancelled with its parent task"); err != nil {
			return err
		}
		if parent, err = s.partEnded(ctx, tx, q, row); err != nil {
			return err
		}
		if row.StartedAt == nil {
			return nil // it held no agent
		}
		_, err = s.wakeParked(ctx, tx, q, 1)
		return err
	})
	if err != nil {
		return Task{}, s.whyUnchanged(ctx, id, err, "task %s is already %s and cannot be cancelled")
	}
	s.announceParts(parts)
	s.publishParent(parent)
	if row.JobID != nil {
		if _, err := s.river.JobCancel(ctx, *row.JobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			s.logger.WarnContext(ctx, "could not cancel the task's job; the worker will see the task cancelled", "task_id", id, "err", err)
		}
	}
	s.timeline(ctx, id, "cancelled", "task cancelled", nil)
	task := FromRow(row)
	s.publish(events.TaskCancelled, task)
	return task, nil
}

// Retry runs a failed or cancelled task again from scratch.
func (s *Service) Retry(ctx context.Context, id uuid.UUID) (Task, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Task{}, db.MapError(err, "task")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	q := s.queries.WithTx(tx)
	row, err := q.TaskRetry(ctx, id)
	if err != nil {
		return Task{}, s.whyUnchanged(ctx, id, err, "task %s is %s: only failed or cancelled tasks can be retried")
	}
	if err := s.enqueue(ctx, tx, q, row); err != nil {
		return Task{}, err
	}
	if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: id, Type: "retry", Message: "retried by request", Data: json.RawMessage("{}")}); err != nil {
		return Task{}, db.MapError(err, "task event")
	}
	// Its delegated parts that failed or were cancelled (with it, say, when
	// it timed out) run again too: the retried task waits for them.
	parts, err := q.TaskRetryParts(ctx, &id)
	if err != nil {
		return Task{}, db.MapError(err, "sub-tasks")
	}
	for _, p := range parts {
		if err := s.enqueue(ctx, tx, q, p); err != nil {
			return Task{}, err
		}
		if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: p.ID, Type: "retry", Message: "retried with its parent task", Data: json.RawMessage("{}")}); err != nil {
			return Task{}, db.MapError(err, "task event")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Task{}, db.MapError(err, "task")
	}
	task := FromRow(row)
	s.publish(events.TaskCreated, task)
	for _, p := range parts {
		s.publish(events.TaskCreated, FromRow(p))
	}
	return task, nil
}

// whyUnchanged explains a conditional update that matched no row: the task
// does not exist (NotFound), or its status does not allow the change
// (Conflict, with conflict formatted with the id and the status).
func (s *Service) whyUnchanged(ctx context.Context, id uuid.UUID, err error, conflict string) error {
	if err = db.MapError(err, "task "+id.String()); !apperr.Is(err, apperr.NotFound) {
		return err
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return apperr.E(apperr.Conflict, conflict, id, t.Status)
}

// timeline records an event; a failure to record is logged, never fatal to
// the task.
func (s *Service) timeline(ctx context.Context, id uuid.UUID, typ, msg string, data any) {
	_, err := s.queries.TaskEventCreate(context.WithoutCancel(ctx), db.TaskEventCreateParams{TaskID: id, Type: typ, Message: validate.Clean(msg), Data: mustJSON(data)})
	if err != nil {
		s.logger.WarnContext(ctx, "could not record a task event", "task_id", id, "type", typ, "err", err)
	}
}

func (s *Service) publish(typ string, t Task) {
	e, err := events.New(typ, t)
	if err != nil {
		return
	}
	e.TaskID = t.ID.String()
	if t.AgentID != nil {
		e.AgentID = t.AgentID.String()
	}
	s.events.Publish(e)
}

func (s *Service) publishAgent(a db.Agent) {
	if e, err := agents.StatusEvent(agents.FromRow(a)); err == nil {
		s.events.Publish(e)
	}
}

func mustJSON(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}
