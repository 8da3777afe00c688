package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/validate"
)

// MaxArgumentBytes bounds the arguments of one call, whatever the surface's
// own body limit.
const MaxArgumentBytes = 8 << 20

// MaxResultBytes bounds what one run may produce and store, as JSON. The
// body limit bounds what comes in; this bounds what goes out, whatever a
// tool makes of its input (a report's output once grew with the square of
// its input's nesting).
const MaxResultBytes = 8 << 20

// Publisher receives the "tool executed" events.
type Publisher interface {
	Publish(e events.Event)
}

// Executor runs tools and records every run.
type Executor struct {
	registry *Registry
	queries  *db.Queries
	events   Publisher
	metrics  *metrics.Metrics
	logger   *slog.Logger
	log      *execLog
}

// NewExecutor returns the executor.
func NewExecutor(registry *Registry, queries *db.Queries, publisher Publisher, m *metrics.Metrics, logger *slog.Logger) *Executor {
	return &Executor{registry: registry, queries: queries, events: publisher, metrics: m, logger: logger, log: newExecLog(queries)}
}

// Registry returns the tools the executor runs.
func (e *Executor) Registry() *Registry { return e.registry }

// Request is one call to run.
type Request struct {
	Tool      string
	Arguments json.RawMessage
	Source    Source
	APIKeyID  *uuid.UUID
	AgentID   *uuid.UUID
	TaskID    *uuid.UUID
	// TaskLease, when not zero, fences an agent's step: the run is recorded
	// only while TaskID still runs under this lease (agents.tasks.lease), so
	// a worker whose task was taken over cannot add a step to it.
	TaskLease int64
	// Progress, when set, receives progress reports from the tool.
	Progress func(done, total float64, message string)
}

// Execution is a recorded run.
type Execution struct {
	ID         uuid.UUID       `json:"id"`
	ToolName   string          `json:"tool_name"`
	Source     Source          `json:"source"`
	Status     string          `json:"status"` // completed or failed
	Parameters json.RawMessage `json:"parameters"`
	Result     json.RawMessage `json:"result"`
	Summary    string          `json:"summary,omitempty"`
	Error      string          `json:"error,omitempty"`
	DurationMS int             `json:"execution_time_ms"`
	TokensUsed int64           `json:"tokens_used"`
	Cost       float64         `json:"cost"`
	APIKeyID   *uuid.UUID      `json:"api_key_id,omitempty"`
	AgentID    *uuid.UUID      `json:"agent_id,omitempty"`
	TaskID     *uuid.UUID      `json:"task_id,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Execute runs one call. An unknown or disabled tool is refused without a
// record (nothing ran). Otherwise the run is recorded, also when the
// arguments are invalid or the tool fails; then the returned error carries
// the failure (apperr codes: Invalid for bad arguments, Unavailable for a
// provider that is down, Internal for a crash) and the Execution says what
// was recorded.
func (e *Executor) Execute(ctx context.Context, req Request) (Execution, error) {
	t, ok := e.registry.tools[req.Tool]
	if !ok {
		return Execution{}, e.registry.unknown(req.Tool)
	}
	status, err := e.registry.Status(ctx, req.Tool)
	switch {
	case err != nil:
		return Execution{}, err
	case status == StatusDisabled:
		return Execution{}, apperr.E(apperr.Conflict, "tool %s is disabled by an administrator", req.Tool)
	}

	start := time.Now()
	args, out, runErr := e.run(ctx, t, req)
	exec := Execution{
		ToolName: t.Name, Source: req.Source, Parameters: args, Summary: out.Summary,
		DurationMS: int(time.Since(start).Milliseconds()), TokensUsed: out.TokensUsed, Cost: out.Cost,
		APIKeyID: req.APIKeyID, AgentID: req.AgentID, TaskID: req.TaskID, CreatedAt: start.UTC(),
		Status: "completed",
	}
	if runErr == nil {
		exec.Result, runErr = encodeResult(t.Name, out.Result)
	}
	if runErr != nil {
		exec.Status = "failed"
		// The message may quote the client's input: stored as text, it
		// must hold nothing PostgreSQL refuses.
		exec.Error = validate.ErrorText(runErr)
		exec.Result = nil
		exec.Summary = ""
	}
	if err := e.record(ctx, &exec, req.TaskLease); err != nil {
		// Nothing was recorded: an id here would send the client to a 404.
		exec.ID = uuid.Nil
		return exec, err
	}
	e.observe(exec)
	return exec, runErr
}

// run validates the arguments and runs the tool with its timeout, turning a
// panic into an internal error for this call only.
func (e *Executor) run(ctx context.Context, t *registered, req Request) (args json.RawMessage, out Output, err error) {
	args = req.Arguments
	if len(bytes.TrimSpace(args)) == 0 || bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
		args = json.RawMessage("{}")
	}
	if len(args) > MaxArgumentBytes {
		return refusedArguments("arguments too large to record"), Output{},
			apperr.E(apperr.TooLarge, "arguments of %s are %d bytes; the limit is %d", t.Name, len(args), MaxArgumentBytes)
	}
	// The arguments are recorded even when they are refused, so what
	// PostgreSQL cannot store (NUL, invalid UTF-8, lone surrogates, deep
	// nesting) is refused before anything is written, and the record says
	// why instead of holding them.
	if err := validate.JSON("arguments", args, MaxArgumentBytes); err != nil {
		return refusedArguments(apperr.MessageOf(err)), Output{}, err
	}
	var instance any
	if err := json.Unmarshal(args, &instance); err != nil {
		return refusedArguments("arguments are not valid JSON"), Output{}, apperr.E(apperr.Invalid, "arguments of %s are not valid JSON: %v", t.Name, err)
	}
	if _, isObject := instance.(map[string]any); !isObject {
		return args, Output{}, apperr.E(apperr.Invalid, "arguments of %s must be a JSON object", t.Name)
	}
	if err := t.input.Validate(instance); err != nil {
		return args, Output{}, apperr.E(apperr.Invalid, "invalid arguments for %s: %v", t.Name, err)
	}

	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			e.logger.ErrorContext(ctx, "tool panicked", "tool", t.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = apperr.E(apperr.Internal, "tool %s failed unexpectedly; the failure was logged", t.Name)
		}
	}()
	out, err = t.Run(ctx, Call{Arguments: args, progress: req.Progress})
	if err != nil && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = apperr.Wrap(err, apperr.Unavailable, "tool %s did not finish within %s", t.Name, t.Timeout)
		} else {
			err = apperr.Wrap(err, apperr.Canceled, "tool %s was cancelled by the caller", t.Name)
		}
	}
	return args, out, err
}

// refusedArguments is what is recorded in place of arguments that were
// refused before the run: the reason, never the arguments themselves.
func refusedArguments(reason string) json.RawMessage {
	b, err := json.Marshal(map[string]string{"omitted": validate.Clean(reason)})
	if err != nil {
		return json.RawMessage(`{"omitted":"arguments refused"}`)
	}
	return b
}

// encodeResult turns a tool's result into the JSON that is returned and
// stored, refusing a result beyond MaxResultBytes (TooLarge: the caller
// can ask for less) or one PostgreSQL could not store.
func encodeResult(tool string, result any) (json.RawMessage, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("encode result of %s: %w", tool, err)
	}
	if len(b) > MaxResultBytes {
		return nil, apperr.E(apperr.TooLarge, "the result of %s would be %d bytes; the limit is %d: ask for less (fewer rows, sections or columns, or flatter data)", tool, len(b), MaxResultBytes)
	}
	if err := validate.JSON("result", b, 0); err != nil {
		return nil, apperr.Wrap(err, apperr.Internal, "the result of %s cannot be stored; the failure was logged", tool)
	}
	return b, nil
}

// record stores the execution. It uses a context that outlives the caller's,
// so a cancelled call is still recorded. With a task lease the record is
// refused (Conflict) once the task no longer runs under it.
func (e *Executor) record(ctx context.Context, exec *Execution, lease int64) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	exec.ID = id
	var errText *string
	if exec.Error != "" {
		errText = &exec.Error
	}
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if lease != 0 && exec.TaskID != nil {
		_, err = e.queries.ToolExecutionCreateLeased(recordCtx, db.ToolExecutionCreateLeasedParams{
			ID: exec.ID, ToolName: exec.ToolName, AgentID: exec.AgentID, TaskID: *exec.TaskID, ApiKeyID: exec.APIKeyID,
			Source: string(exec.Source), Parameters: exec.Parameters, Result: exec.Result, Error: errText,
			ExecutionTimeMs: int32(exec.DurationMS), TokensUsed: exec.TokensUsed, Cost: exec.Cost, CreatedAt: exec.CreatedAt,
			Lease: lease,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			exec.ID = uuid.Nil // nothing was recorded: no id to point to
			return apperr.E(apperr.Conflict, "the task was taken over by another worker; this step was not recorded")
		}
		if err != nil {
			return db.MapError(err, "tool execution")
		}
		return nil
	}
	// Written by group commit with the records of concurrent calls, and
	// committed before this returns.
	return e.log.write(ctx, db.ToolExecutionCreateParams{
		ID: exec.ID, ToolName: exec.ToolName, AgentID: exec.AgentID, TaskID: exec.TaskID, ApiKeyID: exec.APIKeyID,
		Source: string(exec.Source), Parameters: exec.Parameters, Result: exec.Result, Error: errText,
		ExecutionTimeMs: int32(exec.DurationMS), TokensUsed: exec.TokensUsed, Cost: exec.Cost, CreatedAt: exec.CreatedAt,
	})
}

func (e *Executor) observe(exec Execution) {
	e.metrics.ToolExecutions.WithLabelValues(exec.ToolName, string(exec.Source), exec.Status).Inc()
	e.metrics.ToolDuration.WithLabelValues(exec.ToolName).Observe(float64(exec.DurationMS) / 1000)
	if exec.TokensUsed > 0 {
		e.metrics.LLMTokens.WithLabelValues("tool:" + exec.ToolName).Add(float64(exec.TokensUsed))
	}
	ev, err := events.New(events.ToolExecuted, exec)
	if err != nil {
		e.logger.Warn("could not encode tool event", "err", err)
		return
	}
	if exec.TaskID != nil {
		ev.TaskID = exec.TaskID.String()
	}
	if exec.AgentID != nil {
		ev.AgentID = exec.AgentID.String()
	}
	if exec.APIKeyID != nil {
		ev.APIKeyID = exec.APIKeyID.String() // only this key (and admins) see the run
	}
	e.events.Publish(ev)
}

// FromRow converts a stored execution.
func FromRow(r db.ToolExecution) Execution {
	ex := Execution{
		ID: r.ID, ToolName: r.ToolName, Source: Source(r.Source), Status: "completed", Parameters: r.Parameters,
		Result: r.Result, DurationMS: int(r.ExecutionTimeMs), TokensUsed: r.TokensUsed, Cost: r.Cost,
		APIKeyID: r.ApiKeyID, AgentID: r.AgentID, TaskID: r.TaskID, CreatedAt: r.CreatedAt,
	}
	if r.Error != nil {
		ex.Status, ex.Error = "failed", *r.Error
	}
	return ex
}
