package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// TaskArgs is the River job of a task.
type TaskArgs struct {
	TaskID         uuid.UUID `json:"task_id"`
	TimeoutSeconds int       `json:"timeout_seconds"`
}

// Kind names the job kind in River's tables.
func (TaskArgs) Kind() string { return "bizmcp.task" }

type taskWorker struct {
	river.WorkerDefaults[TaskArgs]
	s *Service
}

// Timeout is the task's own timeout.
func (w *taskWorker) Timeout(job *river.Job[TaskArgs]) time.Duration {
	if job.Args.TimeoutSeconds <= 0 {
		return DefaultTimeout
	}
	return time.Duration(job.Args.TimeoutSeconds) * time.Second
}

// NextRetry spaces attempts exponentially (2s, 4s, 8s, ... capped at 5
// minutes) with up to 25% jitter, so instances retrying after a shared
// outage do not stampede. River's default (attempt⁴ seconds) waits too long
// for interactive business tasks.
func (w *taskWorker) NextRetry(job *river.Job[TaskArgs]) time.Time {
	d := time.Duration(1<<min(job.Attempt, 8)) * time.Second
	d = min(d, 5*time.Minute)
	d += time.Duration(rand.Int64N(int64(d/4) + 1))
	return time.Now().Add(d)
}

// Work runs one attempt of a task.
func (w *taskWorker) Work(ctx context.Context, job *river.Job[TaskArgs]) error {
	s := w.s
	id := job.Args.TaskID
	row, err := s.queries.TaskGet(ctx, id)
	if err != nil {
		if apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
			return river.JobCancel(fmt.Errorf("task %s no longer exists", id))
		}
		return err
	}
	if Terminal(row.Status) {
		return nil // cancelled before it started, or already done
	}
	if row.Status == "processing" {
		// The instance that ran it died mid-run: River rescued the job.
		if err := s.recoverInterrupted(ctx, id); err != nil {
			return err
		}
	}

	agent, started, err := s.claimAndStart(ctx, row)
	if err != nil {
		switch {
		case errors.Is(err, errNoAgent):
			// No free agent can take it: it stays pending and looks again
			// shortly. Snoozing does not spend an attempt. Agents a lost
			// release left busy are freed first.
			s.releaseOrphans(ctx)
			return river.JobSnooze(s.cfg.NoAgentRetry)
		case apperr.Is(err, apperr.NotFound):
			return nil // cancelled before it could start
		}
		return err
	}
	s.publishAgent(agent)
	s.timeline(ctx, id, "assigned", "assigned to "+agent.Name, map[string]any{"agent_id": agent.ID, "agent": agent.Name, "attempt": started.Attempts})
	if _, err := s.queries.MessageDeliver(ctx, db.MessageDeliverParams{CorrelationID: &id, Type: "request"}); err != nil {
		s.logger.WarnContext(ctx, "could not mark the request delivered", "task_id", id, "err", err)
	}
	s.publish(events.TaskAssigned, FromRow(started))

	output, runErr := s.run(ctx, started, agent)
	return s.finish(ctx, job, started, agent, output, runErr)
}

// finish records the outcome of an attempt, frees the agent and tells River
// what to do next.
func (s *Service) finish(ctx context.Context, job *river.Job[TaskArgs], task db.Task, agent db.Agent, output json.RawMessage, runErr error) error {
	bg := context.WithoutCancel(ctx)
	id := task.ID
	if runErr == nil {
		var row db.Task
		err := s.inTx(bg, func(q *db.Queries) error {
			var err error
			if row, err = q.TaskComplete(bg, db.TaskCompleteParams{ID: id, OutputData: output}); err != nil {
				return db.MapError(err, "task")
			}
			return s.releaseWith(bg, q, agent.ID, id, true, false)
		})
		if apperr.Is(err, apperr.NotFound) {
			s.release(bg, agent.ID, id, false, false)
			return nil // cancelled while finishing
		}
		if err != nil {
			// Nothing was written (the database is down). Snooze rather than
			// fail: a snooze spends no attempt, so even a last attempt comes
			// back, finds the task processing and recovers it.
			s.logger.WarnContext(ctx, "could not record the task's completion; it will run again", "task_id", id, "err", err)
			return river.JobSnooze(finishRetry)
		}
		s.timeline(bg, id, "completed", "completed", map[string]any{"attempt": row.Attempts})
		s.publish(events.TaskCompleted, FromRow(row))
		s.respond(bg, row, agent, map[string]any{"status": "completed", "output": json.RawMessage(output)})
		return nil
	}

	current, err := s.queries.TaskGet(bg, id)
	if err == nil && current.Status == "cancelled" {
		s.release(bg, agent.ID, id, false, false)
		return river.JobCancel(fmt.Errorf("task cancelled"))
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The server is stopping: hand the task back for another instance.
		if _, err := s.queries.TaskRequeue(bg, db.TaskRequeueParams{ID: id, ErrorMessage: strPtr("handed back: the server running it stopped")}); err == nil {
			s.timeline(bg, id, "retry", "handed back: the server running it stopped", nil)
		}
		s.release(bg, agent.ID, id, false, false)
		return river.JobSnooze(0)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		runErr = apperr.Wrap(runErr, apperr.Unavailable, "task did not finish within its timeout of %ds", task.TimeoutSeconds)
	}
	msg := apperr.MessageOf(runErr)
	permanent := apperr.Is(runErr, apperr.Invalid) || apperr.Is(runErr, apperr.TooLarge) || apperr.Is(runErr, apperr.Forbidden) || apperr.Is(runErr, apperr.Conflict)
	if !permanent && job.Attempt < job.MaxAttempts {
		err := s.inTx(bg, func(q *db.Queries) error {
			if _, err := q.TaskRequeue(bg, db.TaskRequeueParams{ID: id, ErrorMessage: &msg}); err != nil {
				return db.MapError(err, "task")
			}
			return s.releaseWith(bg, q, agent.ID, id, false, false) // only a task's final failure counts
		})
		if err != nil {
			s.logger.WarnContext(ctx, "could not requeue task; the next attempt recovers it", "task_id", id, "err", err)
		}
		s.timeline(bg, id, "retry", fmt.Sprintf("attempt %d of %d failed: %s", job.Attempt, job.MaxAttempts, msg), map[string]any{"attempt": job.Attempt})
		return runErr // River retries with backoff
	}
	var row db.Task
	err = s.inTx(bg, func(q *db.Queries) error {
		var err error
		if row, err = q.TaskFail(bg, db.TaskFailParams{ID: id, ErrorMessage: &msg}); err != nil {
			return db.MapError(err, "task")
		}
		return s.releaseWith(bg, q, agent.ID, id, false, true)
	})
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		// Nothing was written (the database is down): as above, come back
		// without spending an attempt and recover.
		s.logger.WarnContext(ctx, "could not record the task's failure; it will be looked at again", "task_id", id, "err", err)
		return river.JobSnooze(finishRetry)
	}
	if err == nil {
		s.timeline(bg, id, "failed", msg, map[string]any{"attempt": job.Attempt})
		s.publish(events.TaskFailed, FromRow(row))
		s.respond(bg, row, agent, map[string]any{"status": "failed", "error": msg})
	}
	return river.JobCancel(runErr) // final: no further River attempts
}

// finishRetry is how soon a task whose outcome could not be written (the
// database was down) is looked at again.
const finishRetry = 5 * time.Second

// errNoAgent means no free agent can take the task now.
var errNoAgent = errors.New("no free agent")

// claimAndStart claims an agent and starts the task in one transaction, so
// an agent is never left busy with a task that did not start.
func (s *Service) claimAndStart(ctx context.Context, row db.Task) (agent db.Agent, started db.Task, err error) {
	id := row.ID
	err = s.inTx(ctx, func(q *db.Queries) error {
		var err error
		if row.Status == "assigned" && row.AgentID != nil {
			// A delegated request waits for the agent it was sent to.
			agent, err = q.AgentClaimAssigned(ctx, db.AgentClaimAssignedParams{TaskID: &id, AgentID: *row.AgentID})
		} else {
			agent, err = q.AgentClaim(ctx, db.AgentClaimParams{TaskID: &id, Domain: row.Domain, Required: requiredTools(row.Domain)})
		}
		if err != nil {
			if err = db.MapError(err, "agent"); apperr.Is(err, apperr.NotFound) {
				return errNoAgent
			}
			return err
		}
		started, err = q.TaskStart(ctx, db.TaskStartParams{ID: id, AgentID: &agent.ID})
		return db.MapError(err, "task "+id.String())
	})
	return agent, started, err
}

// inTx runs fn in a transaction: begin, defer rollback, commit.
func (s *Service) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return db.MapError(err, "transaction")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := fn(s.queries.WithTx(tx)); err != nil {
		return err
	}
	return db.MapError(tx.Commit(ctx), "transaction")
}

// releaseWith frees the agent and counts the outcome, within q's
// transaction, and announces it.
func (s *Service) releaseWith(ctx context.Context, q *db.Queries, agentID, taskID uuid.UUID, completed, failed bool) error {
	row, err := q.AgentRelease(ctx, db.AgentReleaseParams{ID: agentID, TaskID: &taskID, Completed: b2i(completed), Failed: b2i(failed)})
	if err != nil {
		if err = db.MapError(err, "agent"); apperr.Is(err, apperr.NotFound) {
			return nil // already freed (by a recovery)
		}
		return err
	}
	s.publishAgent(row)
	return nil
}

// release frees the agent outside any transaction; a failure is logged and
// repaired later by releaseOrphans or the task's recovery.
func (s *Service) release(ctx context.Context, agentID, taskID uuid.UUID, completed, failed bool) {
	if err := s.releaseWith(context.WithoutCancel(ctx), s.queries, agentID, taskID, completed, failed); err != nil {
		s.logger.WarnContext(ctx, "could not release agent", "agent_id", agentID, "task_id", taskID, "err", err)
	}
}

// releaseOrphans frees agents left busy with tasks that no longer run.
func (s *Service) releaseOrphans(ctx context.Context) {
	rows, err := s.queries.AgentReleaseOrphans(ctx)
	if err != nil {
		return
	}
	for _, a := range rows {
		s.logger.WarnContext(ctx, "freed an agent left busy by a lost release", "agent_id", a.ID)
		s.publishAgent(a)
	}
}

// recoverInterrupted frees the agent a dead instance left busy with the task
// and puts the task back in line.
func (s *Service) recoverInterrupted(ctx context.Context, id uuid.UUID) error {
	held, err := s.queries.AgentReleaseTask(ctx, &id)
	if err != nil {
		return err
	}
	for _, a := range held {
		s.publishAgent(a)
	}
	if _, err := s.queries.TaskRecoverInterrupted(ctx, id); err != nil && !apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
		return err
	}
	s.timeline(ctx, id, "retry", "the previous attempt was interrupted (server stopped or crashed); running again", nil)
	return nil
}

// progress records and publishes a task's progress.
func (s *Service) progress(ctx context.Context, task db.Task, pct int, msg string) {
	if err := s.queries.TaskProgress(ctx, db.TaskProgressParams{ID: task.ID, Progress: int16(pct)}); err != nil {
		return
	}
	s.timeline(ctx, task.ID, "progress", msg, map[string]any{"progress": pct})
	t := FromRow(task)
	t.Progress, t.Status = pct, "processing"
	s.publish(events.TaskProgress, t)
}

// callTool runs one tool for a task through the executor, so the call is
// recorded with the task and agent, and adds its usage to the task.
func (s *Service) callTool(ctx context.Context, task db.Task, agent db.Agent, tool string, args any) (tools.Execution, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return tools.Execution{}, err
	}
	s.timeline(ctx, task.ID, "step", "running "+tool, map[string]any{"tool": tool})
	exec, err := s.executor.Execute(ctx, tools.Request{Tool: tool, Arguments: raw, Source: tools.SourceAgent, AgentID: &agent.ID, TaskID: &task.ID})
	data := map[string]any{"tool": tool, "execution_id": exec.ID, "execution_time_ms": exec.DurationMS, "status": exec.Status}
	if err != nil {
		data["error"] = apperr.MessageOf(err)
	}
	s.timeline(ctx, task.ID, "tool_call", tool+" "+exec.Status, data)
	if exec.TokensUsed > 0 || exec.Cost > 0 {
		_ = s.queries.TaskAddUsage(context.WithoutCancel(ctx), db.TaskAddUsageParams{ID: task.ID, Tokens: exec.TokensUsed, Cost: exec.Cost})
	}
	return exec, err
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func strPtr(s string) *string { return &s }
