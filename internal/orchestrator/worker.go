package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/tools"
	"github.com/bizmcp/bizmcp/internal/validate"
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

// Timeout is River's timeout of the job as a whole, which runs its task
// and then possibly tasks it adopted (see dispatch.go); each task's own
// timeout is applied by runTask.
func (w *taskWorker) Timeout(*river.Job[TaskArgs]) time.Duration { return jobTimeout }

// NextRetry spaces attempts exponentially (2s, 4s, 8s, ... capped at 5
// minutes) with up to 25% jitter, so instances retrying after a shared
// outage do not stampede. River's default (attempt⁴ seconds) waits too long
// for interactive business tasks.
func (w *taskWorker) NextRetry(job *river.Job[TaskArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt))
}

func backoff(attempt int) time.Duration {
	d := time.Duration(1<<min(max(attempt, 1), 8)) * time.Second
	d = min(d, 5*time.Minute)
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}

// Work runs one attempt of the job's task and then, while its agent has
// parked tasks and the job is not stopping, the tasks it adopts.
func (w *taskWorker) Work(ctx context.Context, job *river.Job[TaskArgs]) error {
	s := w.s
	row, err := s.taskOf(ctx, job)
	if err != nil {
		if err = db.MapError(err, "task"); apperr.Is(err, apperr.NotFound) {
			return river.JobCancel(fmt.Errorf("task %s no longer exists", job.Args.TaskID))
		}
		return retryLater(err)
	}
	id := row.ID
	if Terminal(row.Status) {
		return nil // cancelled before it started, or already done
	}
	if row.JobID != nil && *row.JobID != job.ID {
		// The task was taken over (or adopted by another job) and runs as
		// another job now; this one was cancelled then, and comes back only
		// if River rescued it first.
		return river.JobCancel(fmt.Errorf("superseded: task %s now runs as job %d", id, *row.JobID))
	}
	if row.Status == "processing" && row.PartsDeadline != nil {
		// The task waits for its delegated parts, and this is the job
		// scheduled at its deadline.
		var wait time.Duration
		if row, wait, err = s.partsDue(ctx, job, row); err != nil {
			return retryLater(err)
		}
		switch {
		case wait > 0:
			return river.JobSnooze(wait)
		case Terminal(row.Status):
			return nil // timed out, or ended meanwhile
		case row.JobID == nil || *row.JobID != job.ID:
			return river.JobCancel(fmt.Errorf("superseded: task %s was woken with another job", id))
		}
	}
	if row.Status == "processing" {
		// An earlier attempt of this job died mid-run (River rescued the
		// job) or could not write its outcome: take its lease and go again.
		if row, err = s.recoverInterrupted(ctx, id); err != nil {
			return retryLater(err)
		}
	}

	agent, started, err := s.claimAndStart(ctx, row, job.ID)
	if err != nil {
		switch {
		case errors.Is(err, errNoAgent):
			// Parked: a freed agent starts it (see dispatch.go). Snoozing
			// spends no attempt, and the snooze is only the safety net.
			return river.JobSnooze(parkedSnooze())
		case apperr.Is(err, apperr.NotFound):
			return nil // cancelled before it could start
		case errors.Is(err, errClaimContended):
			return river.JobSnooze(time.Second)
		}
		return retryLater(err)
	}
	for {
		next, nextAgent, err := s.runTask(ctx, job, started, agent)
		if next == nil {
			return err
		}
		started, agent = *next, nextAgent
	}
}

// taskOf is the unfinished task job runs (its own, or one it adopted), or
// else its own task as it is now.
func (s *Service) taskOf(ctx context.Context, job *river.Job[TaskArgs]) (db.Task, error) {
	row, err := s.queries.TaskGetOpenByJob(ctx, &job.ID)
	if err == nil {
		return row, nil
	}
	if !apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
		return db.Task{}, err
	}
	return s.queries.TaskGet(ctx, job.Args.TaskID)
}

// runTask runs one started task on agent under the task's own timeout and
// records its outcome. When the outcome's transaction handed the agent to a
// parked task, it returns that task to run next; otherwise River's answer.
func (s *Service) runTask(ctx context.Context, job *river.Job[TaskArgs], started db.Task, agent db.Agent) (*db.Task, db.Agent, error) {
	id := started.ID
	timeout := DefaultTimeout
	if started.TimeoutSeconds > 0 {
		timeout = time.Duration(started.TimeoutSeconds) * time.Second
	}
	// The attempt holds the task's lease from here: its heartbeat is written
	// with the others of this instance, and a heartbeat that finds the lease
	// gone (the task was taken over) cancels the run.
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeout(runCtx, timeout)
	defer cancelTimeout()
	defer s.rec.beats.hold(id, started.Lease, cancel)()
	if runsPlan(started.InputData) {
		runCtx = withPlanAttempt(runCtx)
	} else {
		runCtx = withAttempt(runCtx)
	}

	s.publishAgent(agent)
	s.publish(events.TaskAssigned, FromRow(started))

	output, runErr := s.run(runCtx, started, agent)
	s.flushKept(runCtx, started)
	if errors.Is(runErr, errAwaitingParts) {
		// Its delegated parts are open: suspend, holding neither this
		// worker nor the agent, until the last part ends (see parts.go).
		deadline, _ := runCtx.Deadline()
		next, freed, resume, err := s.awaitParts(runCtx, job, started, agent, deadline)
		if !resume {
			return next, freed, err
		}
		output, runErr = s.run(runCtx, started, agent) // every part ended meanwhile
		s.flushKept(runCtx, started)
	}
	return s.finish(runCtx, job, started, agent, output, runErr)
}

// retryLater returns a database outage to River as a snooze, which spends
// no attempt (an outage is not the task's fault, and a task whose attempts
// all ran into one would be stranded); other errors are retried with
// backoff.
func retryLater(err error) error {
	if apperr.Is(err, apperr.Unavailable) {
		return river.JobSnooze(finishRetry)
	}
	return err
}

// finish records the outcome of an attempt, frees the agent (the trigger
// counts the task out when its status leaves processing) and tells River
// what to do next. Every write names the attempt's lease: once the task was
// taken over they match nothing, and the attempt ends without a trace on the
// task (see superseded). The transaction that writes a completion, a
// failure or a retry also hands the agent to the next parked task it can
// take (adoptNext), returned to run next in this job.
func (s *Service) finish(ctx context.Context, job *river.Job[TaskArgs], task db.Task, agent db.Agent, output json.RawMessage, runErr error) (*db.Task, db.Agent, error) {
	bg := context.WithoutCancel(ctx)
	id := task.ID
	own := id == job.Args.TaskID
	// A stopping job (River cancelled it, or the server stops) adopts
	// nothing; nor does one that has gone on for long (see chainFor).
	chain := ctx.Err() == nil && (job.AttemptedAt == nil || time.Since(*job.AttemptedAt) < chainFor)
	if runErr == nil {
		var row db.Task
		var next, parent *db.Task
		var response *db.Message
		var freed db.Agent
		err := s.inRiverTx(bg, func(tx pgx.Tx, q *db.Queries) error {
			if err := lockParent(bg, q, task); err != nil {
				return err
			}
			var err error
			if row, err = q.TaskCompleteLeased(bg, db.TaskCompleteLeasedParams{ID: id, Lease: task.Lease, OutputData: output}); err != nil {
				return db.MapError(err, "task")
			}
			if response, err = s.respondTx(bg, q, row, agent, map[string]any{"status": "completed", "output": json.RawMessage(output)}); err != nil {
				return err
			}
			if parent, err = s.partEnded(bg, tx, q, row); err != nil {
				return err
			}
			// The timeline's entry is written with the outcome, so an
			// outage right after cannot leave a completed task without it.
			if _, err := q.TaskEventCreate(bg, db.TaskEventCreateParams{TaskID: id, Type: "completed", Message: "completed", Data: mustJSON(map[string]any{"attempt": row.Attempts})}); err != nil {
				return db.MapError(err, "task event")
			}
			next, freed, err = s.handOff(bg, tx, q, agent, job.ID, chain)
			return err
		})
		if apperr.Is(err, apperr.NotFound) {
			return nil, agent, s.unchanged(bg, job, task, agent) // cancelled or taken over while finishing
		}
		if err != nil {
			// Nothing was written (the database is down). Snooze rather than
			// fail: a snooze spends no attempt, so even a last attempt comes
			// back, finds the task processing and recovers it.
			s.logger.WarnContext(ctx, "could not record the task's completion; it will run again", "task_id", id, "err", err)
			return nil, agent, river.JobSnooze(finishRetry)
		}
		s.publish(events.TaskCompleted, FromRow(row))
		s.publishResponse(response)
		s.publishParent(parent)
		return s.handedOff(next, freed, nil)
	}

	current, err := s.queries.TaskGet(bg, id)
	if err == nil && current.Lease != task.Lease {
		return nil, agent, s.superseded(bg, job, task, current)
	}
	if err == nil && current.Status == "cancelled" {
		return nil, agent, river.JobCancel(fmt.Errorf("task cancelled"))
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The job is stopping (the server stops): hand the task back for
		// another instance, and the agent to a parked task.
		why := "handed back: the server running it stopped"
		err := s.inRiverTx(bg, func(tx pgx.Tx, q *db.Queries) error {
			row, err := q.TaskRequeueLeased(bg, db.TaskRequeueLeasedParams{ID: id, Lease: task.Lease, ErrorMessage: &why})
			if err != nil {
				return db.MapError(err, "task")
			}
			if !own {
				if err := s.newJob(bg, tx, q, row, time.Time{}); err != nil {
					return err
				}
			}
			_, _, err = s.handOff(bg, tx, q, agent, job.ID, false)
			return err
		})
		if apperr.Is(err, apperr.NotFound) {
			return nil, agent, s.unchanged(bg, job, task, agent)
		}
		if err == nil {
			s.timeline(bg, id, "retry", why, nil)
		}
		if !own {
			return nil, agent, nil
		}
		return nil, agent, river.JobSnooze(0)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		runErr = apperr.Wrap(runErr, apperr.Unavailable, "task did not finish within its timeout of %ds", task.TimeoutSeconds)
	}
	msg := validate.ErrorText(runErr)
	permanent := apperr.Is(runErr, apperr.Invalid) || apperr.Is(runErr, apperr.TooLarge) || apperr.Is(runErr, apperr.Forbidden) || apperr.Is(runErr, apperr.Conflict)
	attemptsLeft := job.Attempt < job.MaxAttempts
	if !own {
		attemptsLeft = task.Attempts < task.MaxAttempts
	}
	if !permanent && attemptsLeft {
		var next *db.Task
		var freed db.Agent
		err := s.inRiverTx(bg, func(tx pgx.Tx, q *db.Queries) error {
			row, err := q.TaskRequeueLeased(bg, db.TaskRequeueLeasedParams{ID: id, Lease: task.Lease, ErrorMessage: &msg})
			if err != nil {
				return db.MapError(err, "task")
			}
			if _, err := q.TaskEventCreate(bg, db.TaskEventCreateParams{TaskID: id, Type: "retry", Message: fmt.Sprintf("attempt %d of %d failed: %s", task.Attempts, task.MaxAttempts, msg),
				Data: mustJSON(map[string]any{"attempt": task.Attempts})}); err != nil {
				return db.MapError(err, "task event")
			}
			if !own {
				// An adopted task's next attempt is a job of its own.
				if err := s.newJob(bg, tx, q, row, time.Now().Add(backoff(int(task.Attempts)))); err != nil {
					return err
				}
			}
			// Only a task's final failure counts. An own task is retried by
			// River as this job, so this job adopts nothing.
			next, freed, err = s.handOff(bg, tx, q, agent, job.ID, chain && !own)
			return err
		})
		if apperr.Is(err, apperr.NotFound) {
			return nil, agent, s.unchanged(bg, job, task, agent)
		}
		if err != nil {
			s.logger.WarnContext(ctx, "could not requeue task; the next attempt recovers it", "task_id", id, "err", err)
			s.timeline(bg, id, "retry", fmt.Sprintf("attempt %d of %d failed: %s", task.Attempts, task.MaxAttempts, msg), map[string]any{"attempt": task.Attempts})
		}
		if !own {
			return s.handedOff(next, freed, nil)
		}
		return nil, agent, runErr // River retries with backoff
	}
	var row db.Task
	var next, parent *db.Task
	var response *db.Message
	var freed db.Agent
	err = s.inRiverTx(bg, func(tx pgx.Tx, q *db.Queries) error {
		if err := lockParent(bg, q, task); err != nil {
			return err
		}
		var err error
		if row, err = q.TaskFailLeased(bg, db.TaskFailLeasedParams{ID: id, Lease: task.Lease, ErrorMessage: &msg}); err != nil {
			return db.MapError(err, "task")
		}
		if response, err = s.respondTx(bg, q, row, agent, map[string]any{"status": "failed", "error": msg}); err != nil {
			return err
		}
		if parent, err = s.partEnded(bg, tx, q, row); err != nil {
			return err
		}
		if _, err := q.TaskEventCreate(bg, db.TaskEventCreateParams{TaskID: id, Type: "failed", Message: msg, Data: mustJSON(map[string]any{"attempt": task.Attempts})}); err != nil {
			return db.MapError(err, "task event")
		}
		next, freed, err = s.handOff(bg, tx, q, agent, job.ID, chain)
		return err
	})
	if apperr.Is(err, apperr.NotFound) {
		return nil, agent, s.unchanged(bg, job, task, agent)
	}
	if err != nil {
		// Nothing was written (the database is down): as above, come back
		// without spending an attempt and recover.
		s.logger.WarnContext(ctx, "could not record the task's failure; it will be looked at again", "task_id", id, "err", err)
		return nil, agent, river.JobSnooze(finishRetry)
	}
	s.publish(events.TaskFailed, FromRow(row))
	s.publishResponse(response)
	s.publishParent(parent)
	return s.handedOff(next, freed, river.JobCancel(runErr)) // final: no further River attempts
}

// handOff, in the transaction that has just ended a task on agent, gives
// the agent's freed slot to the next parked task: adopted by this job when
// chain, otherwise woken with a job of its own. It returns the adopted task
// (nil if none) and the agent as it is now.
func (s *Service) handOff(ctx context.Context, tx pgx.Tx, q *db.Queries, agent db.Agent, jobID int64, chain bool) (*db.Task, db.Agent, error) {
	if chain {
		next, err := s.adoptNext(ctx, tx, q, agent, jobID)
		if err != nil || next != nil {
			if next != nil {
				agent.CurrentTaskID = &next.ID
			}
			return next, agent, err
		}
	} else if _, err := s.wakeParked(ctx, tx, q, 1); err != nil {
		return nil, agent, err
	}
	freed, err := q.AgentGet(ctx, agent.ID)
	if err != nil {
		if err = db.MapError(err, "agent"); apperr.Is(err, apperr.NotFound) {
			return nil, agent, nil // deleted meanwhile
		}
		return nil, agent, err
	}
	return nil, freed, nil
}

// handedOff is finish's answer once its transaction committed: the adopted
// task to run next, or (none adopted) the freed agent announced and River's
// answer done.
func (s *Service) handedOff(next *db.Task, agent db.Agent, done error) (*db.Task, db.Agent, error) {
	if next != nil {
		return next, agent, nil
	}
	s.publishAgent(agent)
	return nil, agent, done
}

// newJob gives an open task a job of its own (available at at, or at once
// when at is zero) in tx, with the attempts it has left.
func (s *Service) newJob(ctx context.Context, tx pgx.Tx, q *db.Queries, row db.Task, at time.Time) error {
	res, err := s.river.InsertTx(ctx, tx, TaskArgs{TaskID: row.ID, TimeoutSeconds: int(row.TimeoutSeconds)}, &river.InsertOpts{
		Priority: riverPriority(row.Priority), MaxAttempts: max(1, int(row.MaxAttempts-row.Attempts)), ScheduledAt: at,
	})
	if err != nil {
		return db.MapError(err, "task job")
	}
	return db.MapError(q.TaskSetJob(ctx, db.TaskSetJobParams{ID: row.ID, JobID: &res.Job.ID}), "task job")
}

// unchanged explains a fenced write of finish that matched no row: the task
// was taken over (its lease moved on), or cancelled, or already ended.
func (s *Service) unchanged(ctx context.Context, job *river.Job[TaskArgs], task db.Task, agent db.Agent) error {
	current, err := s.queries.TaskGet(ctx, task.ID)
	if err != nil {
		if apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
			return nil // deleted
		}
		return river.JobSnooze(finishRetry) // cannot tell now: look again
	}
	if current.Lease != task.Lease {
		return s.superseded(ctx, job, task, current)
	}
	if current.Status == "cancelled" {
		return river.JobCancel(fmt.Errorf("task cancelled"))
	}
	return nil
}

// superseded ends an attempt whose task was taken over by another worker
// (its heartbeat had stopped: the database was out of reach from here, or
// this process stalled). The attempt writes nothing about the run: the agent
// and the outcome are the new lease holder's. The job this attempt ran was
// cancelled by the takeover, unless it is the task's job still (River
// rescued the job while this attempt lingered past its timeout): then
// another attempt of the same job is running and must not be disturbed.
func (s *Service) superseded(ctx context.Context, job *river.Job[TaskArgs], task, current db.Task) error {
	s.logger.WarnContext(ctx, "an attempt's task was taken over; its result is discarded",
		"task_id", task.ID, "lease", task.Lease, "current_lease", current.Lease, "job_id", job.ID)
	s.timeline(ctx, task.ID, "retry", fmt.Sprintf("attempt %d (lease %d) ended after the task was taken over; its result was discarded", task.Attempts, task.Lease),
		map[string]any{"lease": task.Lease, "current_lease": current.Lease, "job_id": job.ID})
	if current.JobID != nil && *current.JobID == job.ID {
		return nil
	}
	return river.JobCancel(errLeaseLost)
}

// finishRetry is how soon a task whose outcome could not be written (the
// database was down) is looked at again.
const finishRetry = 5 * time.Second

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

// recoverInterrupted puts a task an interrupted attempt left processing
// back in line under a new lease (the trigger frees the agent it held, which
// is announced), so that attempt, should it still be alive, can no longer
// finish it. It returns the task as it is now.
func (s *Service) recoverInterrupted(ctx context.Context, id uuid.UUID) (db.Task, error) {
	var row db.Task
	var held *uuid.UUID
	err := s.inTx(ctx, func(q *db.Queries) error {
		r, err := q.TaskRecoverLeased(ctx, id)
		row, held = r.Task, r.HeldAgentID
		if apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
			row, err = q.TaskGet(ctx, id) // recovered by someone else meanwhile
		}
		if err != nil {
			return db.MapError(err, "task")
		}
		_, err = q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: id, Type: "retry", Message: "the previous attempt was interrupted (server stopped or crashed); running again",
			Data: mustJSON(map[string]any{"lease": row.Lease})})
		return db.MapError(err, "task event")
	})
	if err != nil {
		return db.Task{}, err
	}
	s.publishAgents(ctx, held)
	return row, nil
}

// progress records and publishes a task's progress.
func (s *Service) progress(ctx context.Context, task db.Task, pct int, msg string) {
	if at := attemptFrom(ctx); at.hasKept() {
		// With the previous step's entries, in the same round trip.
		var e timelineEntries
		e.add("progress", msg, map[string]any{"progress": pct})
		_ = s.beginStep(ctx, task, pct, e)
		return
	}
	if err := s.queries.TaskProgressEvent(ctx, db.TaskProgressEventParams{TaskID: task.ID, Lease: task.Lease, Progress: int16(pct),
		Message: msg, Data: mustJSON(map[string]any{"progress": pct})}); err != nil {
		return
	}
	t := FromRow(task)
	t.Progress, t.Status = pct, "processing"
	s.publish(events.TaskProgress, t)
}

// callTool runs one tool for a task through the executor, so the call is
// recorded with the task and agent, and adds its usage to the task.
//
// Exactly once across takeovers: the step runs only while the attempt holds
// the task's lease, and is recorded only if it still does (the executor's
// fenced insert). A pure tool's step that an earlier attempt of the task
// already recorded is reused rather than run again (in a model-driven loop
// only a run with the same arguments): a plan of pure tools is
// deterministic, so a task taken over after a crash resumes where the dead
// attempt stopped and every step is in mcp.tool_executions once.
func (s *Service) callTool(ctx context.Context, task db.Task, agent db.Agent, tool string, args any) (tools.Execution, error) {
	return s.callToolAt(ctx, task, agent, tool, args, -1, "")
}

// callToolAt is callTool that first moves the task's progress to pct with
// msg (pct < 0: none), in the step's first round trip.
func (s *Service) callToolAt(ctx context.Context, task db.Task, agent db.Agent, tool string, args any, pct int, msg string) (tools.Execution, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return tools.Execution{}, err
	}
	var entries timelineEntries
	if pct >= 0 {
		entries.add("progress", msg, map[string]any{"progress": pct})
	}
	at := attemptFrom(ctx)
	// Under its first lease the task has had no earlier attempt whose
	// steps could be reused: no need to look.
	if s.pure(tool) && task.Lease > 1 {
		params := raw
		if at.plan {
			params = nil // the plan's step, whatever agent ran it
		}
		prev, err := s.queries.ToolExecutionFindReusable(ctx, db.ToolExecutionFindReusableParams{TaskID: &task.ID, ToolName: tool, Parameters: params, Used: at.used()})
		if err == nil {
			exec := tools.FromRow(prev.ToolExecution)
			exec.Summary = prev.Summary
			entries.add("tool_call", tool+" "+exec.Status+" (recorded by an earlier attempt, reused)",
				map[string]any{"tool": tool, "execution_id": exec.ID, "execution_time_ms": exec.DurationMS, "status": exec.Status, "reused": true})
			if err := s.beginStep(ctx, task, pct, entries); err != nil {
				return tools.Execution{}, err
			}
			at.use(prev.ToolExecution.ID)
			return exec, nil
		}
		if err = db.MapError(err, "tool execution"); !apperr.Is(err, apperr.NotFound) {
			return tools.Execution{}, err
		}
	}
	entries.add("step", "running "+tool, map[string]any{"tool": tool})
	if err := s.beginStep(ctx, task, pct, entries); err != nil {
		return tools.Execution{}, err
	}
	exec, err := s.executor.Execute(ctx, tools.Request{Tool: tool, Arguments: raw, Source: tools.SourceAgent, AgentID: &agent.ID, TaskID: &task.ID, TaskLease: task.Lease})
	if exec.ID != uuid.Nil {
		at.use(exec.ID)
	}
	data := map[string]any{"tool": tool, "execution_id": exec.ID, "execution_time_ms": exec.DurationMS, "status": exec.Status}
	if s.pure(tool) && exec.Summary != "" {
		data["summary"] = clip(exec.Summary) // what a resumed attempt reuses with the result
	}
	if err != nil {
		data["error"] = validate.ErrorText(err)
	}
	if at.plan {
		// Written with the plan's next step or progress, one round trip
		// fewer (see beginStep).
		at.keep("tool_call", tool+" "+exec.Status, data)
	} else {
		s.timeline(ctx, task.ID, "tool_call", tool+" "+exec.Status, data)
	}
	if exec.TokensUsed > 0 || exec.Cost > 0 {
		_ = s.queries.TaskAddUsage(context.WithoutCancel(ctx), db.TaskAddUsageParams{ID: task.ID, Tokens: exec.TokensUsed, Cost: exec.Cost})
	}
	return exec, err
}

// beginStep checks, in one round trip, that the attempt still holds the
// task's lease, moves its progress to pct (pct < 0: leaves it) and writes
// the timeline entries the attempt kept from its previous step (the plan's
// tool_call entries) followed by entries; the progress is published. The
// kept entries record what happened, so they are written even when the
// lease has moved on (a later attempt reuses a step by its entry).
func (s *Service) beginStep(ctx context.Context, task db.Task, pct int, entries timelineEntries) error {
	kept := attemptFrom(ctx).kept()
	all := kept.then(entries)
	r, err := s.queries.TaskStepBegin(ctx, db.TaskStepBeginParams{TaskID: task.ID, Lease: task.Lease, Progress: int16(pct),
		Types: all.types, Messages: all.messages, Datas: all.datas})
	if err != nil || !r.Held {
		s.writeEntries(ctx, task.ID, kept)
		if err != nil {
			return db.MapError(err, "task")
		}
		return errLeaseLost
	}
	if pct >= 0 {
		t := FromRow(task)
		t.Progress, t.Status = pct, "processing"
		s.publish(events.TaskProgress, t)
	}
	return nil
}

// timelineEntries are timeline entries written together, in order.
type timelineEntries struct {
	types, messages []string
	datas           []json.RawMessage
}

func (e *timelineEntries) add(typ, msg string, data any) {
	e.types = append(e.types, typ)
	e.messages = append(e.messages, validate.Clean(msg))
	e.datas = append(e.datas, mustJSON(data))
}

// then is e followed by more.
func (e timelineEntries) then(more timelineEntries) timelineEntries {
	return timelineEntries{
		types:    append(e.types[:len(e.types):len(e.types)], more.types...),
		messages: append(e.messages[:len(e.messages):len(e.messages)], more.messages...),
		datas:    append(e.datas[:len(e.datas):len(e.datas)], more.datas...),
	}
}

// writeEntries records timeline entries in one round trip; a failure is
// logged, as for timeline.
func (s *Service) writeEntries(ctx context.Context, id uuid.UUID, e timelineEntries) {
	if len(e.types) == 0 {
		return
	}
	if err := s.queries.TaskEventsCreate(context.WithoutCancel(ctx), db.TaskEventsCreateParams{TaskID: id, Types: e.types, Messages: e.messages, Datas: e.datas}); err != nil {
		s.logger.WarnContext(ctx, "could not record task events", "task_id", id, "err", err)
	}
}

// flushKept writes the timeline entries the attempt still keeps (its run
// ended without another write).
func (s *Service) flushKept(ctx context.Context, task db.Task) {
	s.writeEntries(ctx, task.ID, attemptFrom(ctx).kept())
}

// pure reports whether a tool is a pure computation (reads nothing outside,
// changes nothing): its recorded result can stand for a new run with the
// same arguments.
func (s *Service) pure(tool string) bool {
	t, ok := s.executor.Registry().Lookup(tool)
	return ok && t.ReadOnly && !t.OpenWorld
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func strPtr(s string) *string { return &s }
