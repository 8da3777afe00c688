package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
)

// Waiting for delegated parts without holding a worker or an agent.
//
// A task that has asked for its parts (or, run again, finds some still
// open) suspends in one transaction (awaitParts): under its own row lock it
// counts its parts again and, with any still open, stays processing with
// parts_deadline set (its attempt's deadline). Migration 00008's trigger
// counts it out of its agent's running tasks, its lease ends, the attempt
// is not counted, and its job ends: a job scheduled at the deadline becomes
// the task's job meanwhile. The agent's slot goes to the next parked task
// as when a task finishes.
//
// Every transaction that ends a part (completed, failed, cancelled, taken
// over on its last attempt, repaired by the sweep) locks the parent and then
// settles it (partEnded): its progress moves with the parts done, and when
// the last one has ended the parent goes back in line (pending) with a job
// available at once, whose run finds the parts ended and writes the report.
// The lock is taken before the counting statement, so two parts ending
// together, or a part ending while its parent suspends, see each other: no
// wake-up is lost.
//
// The job at the deadline (partsDue) times the task out: its open parts are
// cancelled and it fails. Should a wake-up have gone wrong, that job finds
// the parts ended and goes on instead.

// errAwaitingParts is run's answer while a task's delegated parts are open.
var errAwaitingParts = errors.New("waiting for delegated parts")

// awaitParts suspends task (see above) and hands its agent's slot on. It
// reports resume when every part ended meanwhile: the attempt goes on.
func (s *Service) awaitParts(ctx context.Context, job *river.Job[TaskArgs], task db.Task, agent db.Agent, deadline time.Time) (next *db.Task, freed db.Agent, resume bool, err error) {
	bg := context.WithoutCancel(ctx)
	chain := ctx.Err() == nil && (job.AttemptedAt == nil || time.Since(*job.AttemptedAt) < chainFor)
	var row db.TaskAwaitPartsRow
	err = s.inRiverTx(bg, func(tx pgx.Tx, q *db.Queries) error {
		if _, err := q.TaskLockLeased(bg, db.TaskLockLeasedParams{ID: task.ID, Lease: task.Lease}); err != nil {
			return db.MapError(err, "task")
		}
		var err error
		if row, err = q.TaskAwaitParts(bg, db.TaskAwaitPartsParams{ID: task.ID, Lease: task.Lease, Deadline: deadline}); err != nil {
			if err = db.MapError(err, "task"); apperr.Is(err, apperr.NotFound) {
				resume = true // every part has ended
				return nil
			}
			return err
		}
		if err := s.newJob(bg, tx, q, row.Task, deadline); err != nil {
			return err
		}
		if _, err := q.TaskEventCreate(bg, db.TaskEventCreateParams{TaskID: task.ID, Type: "progress",
			Message: fmt.Sprintf("waiting for delegated parts (%d of %d done); %s is free for other work meanwhile", row.Done, row.Total, agent.Name),
			Data:    mustJSON(map[string]any{"progress": row.Task.Progress, "parts": row.Total, "parts_done": row.Done, "deadline": deadline})}); err != nil {
			return db.MapError(err, "task event")
		}
		next, freed, err = s.handOff(bg, tx, q, agent, job.ID, chain)
		return err
	})
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, agent, false, s.unchanged(bg, job, task, agent) // taken over or cancelled meanwhile
	case err != nil:
		// Nothing was written: come back without spending an attempt,
		// recover the task and suspend it then.
		s.logger.WarnContext(ctx, "could not suspend a task waiting for its parts; it will run again", "task_id", task.ID, "err", err)
		return nil, agent, false, river.JobSnooze(finishRetry)
	case resume:
		return nil, agent, true, nil
	}
	s.publish(events.TaskProgress, FromRow(row.Task))
	next, freed, err = s.handedOff(next, freed, nil)
	return next, freed, false, err
}

// lockParent locks task's parent, if it has one, in the transaction that
// is about to end task: see partEnded.
func lockParent(ctx context.Context, q *db.Queries, task db.Task) error {
	if task.ParentTaskID == nil {
		return nil
	}
	if _, err := q.TaskLockParentOf(ctx, task.ID); err != nil {
		if err = db.MapError(err, "task"); !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	return nil
}

// partEnded settles the parent of a task that has just ended in tx, if the
// parent waits for its parts: its progress moves, and once its last part
// has ended it gets a job available at once (the one scheduled at its
// deadline is cancelled). It returns the parent as it is now, to be
// announced once tx commits (nil when nothing changed).
func (s *Service) partEnded(ctx context.Context, tx pgx.Tx, q *db.Queries, task db.Task) (*db.Task, error) {
	if task.ParentTaskID == nil {
		return nil, nil
	}
	r, err := q.TaskPartsSettle(ctx, *task.ParentTaskID)
	if err != nil {
		if err = db.MapError(err, "task"); apperr.Is(err, apperr.NotFound) {
			return nil, nil // not waiting: running (it counts under its own lock) or ended
		}
		return nil, err
	}
	parent := r.Task
	msg := fmt.Sprintf("waiting for delegated parts (%d of %d done)", r.Done, r.Total)
	if r.Done >= r.Total {
		old := parent.JobID
		if err := s.newJob(ctx, tx, q, parent, time.Time{}); err != nil {
			return nil, err
		}
		if old != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, *old); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
				return nil, db.MapError(err, "task job")
			}
		}
		msg = fmt.Sprintf("all %d delegated parts have ended; back in line to write the report", r.Total)
	}
	if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: parent.ID, Type: "progress", Message: msg,
		Data: mustJSON(map[string]any{"progress": parent.Progress, "parts": r.Total, "parts_done": r.Done, "part": task.ID})}); err != nil {
		return nil, db.MapError(err, "task event")
	}
	return &parent, nil
}

// partsDue runs the job scheduled at the deadline of a task waiting for its
// parts (row). With every part ended (a wake-up this job overtook) the task
// is back in line and returned to be claimed by this job; before the
// deadline (the job ran early) it returns how long to wait; otherwise the
// task times out: its open parts are cancelled and it fails.
func (s *Service) partsDue(ctx context.Context, job *river.Job[TaskArgs], row db.Task) (db.Task, time.Duration, error) {
	var out db.Task
	var wait time.Duration
	var cancelled []db.Task
	err := s.inRiverTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		locked, err := q.TaskLockAwaiting(ctx, db.TaskLockAwaitingParams{ID: row.ID, JobID: &job.ID})
		if err != nil {
			if err = db.MapError(err, "task"); apperr.Is(err, apperr.NotFound) {
				out, err = q.TaskGet(ctx, row.ID) // woken or ended meanwhile
				return db.MapError(err, "task")
			}
			return err
		}
		r, err := q.TaskPartsSettle(ctx, row.ID)
		if err != nil {
			return db.MapError(err, "task")
		}
		out = r.Task
		if r.Done >= r.Total {
			_, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: row.ID, Type: "progress",
				Message: fmt.Sprintf("all %d delegated parts have ended; back in line to write the report", r.Total),
				Data:    mustJSON(map[string]any{"progress": out.Progress, "parts": r.Total, "parts_done": r.Done})})
			return db.MapError(err, "task event")
		}
		if d := time.Until(*locked.PartsDeadline); d > 0 {
			wait = d
			return nil
		}
		why := fmt.Sprintf("task did not finish within its timeout of %ds: %d of %d delegated parts had not ended, and were cancelled",
			locked.TimeoutSeconds, r.Total-r.Done, r.Total)
		if cancelled, err = s.cancelParts(ctx, tx, q, row.ID, "cancelled: its parent task timed out"); err != nil {
			return err
		}
		if out, err = q.TaskFailOpen(ctx, db.TaskFailOpenParams{ID: row.ID, ErrorMessage: &why}); err != nil {
			return db.MapError(err, "task")
		}
		_, err = q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: row.ID, Type: "failed", Message: why,
			Data: mustJSON(map[string]any{"parts": r.Total, "parts_done": r.Done})})
		return db.MapError(err, "task event")
	})
	if err != nil {
		return db.Task{}, 0, err
	}
	s.announceParts(cancelled)
	switch {
	case out.Status == "failed":
		s.publish(events.TaskFailed, FromRow(out))
	case out.Status == "pending":
		s.publish(events.TaskProgress, FromRow(out))
	}
	return out, wait, nil
}

// cancelParts cancels the open parts of parent (locked first, in tx) with
// reason, cancels their jobs and frees the agents they held for parked
// tasks. It returns the parts it cancelled, to be announced once tx
// commits.
func (s *Service) cancelParts(ctx context.Context, tx pgx.Tx, q *db.Queries, parent uuid.UUID, reason string) ([]db.Task, error) {
	parts, err := q.TaskCancelOpenParts(ctx, db.TaskCancelOpenPartsParams{ParentID: &parent, Reason: &reason})
	if err != nil {
		return nil, db.MapError(err, "sub-tasks")
	}
	held := 0
	for _, p := range parts {
		if p.JobID != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, *p.JobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
				return nil, db.MapError(err, "task job")
			}
		}
		if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: p.ID, Type: "cancelled", Message: reason, Data: mustJSON(nil)}); err != nil {
			return nil, db.MapError(err, "task event")
		}
		if p.StartedAt != nil {
			held++
		}
	}
	if _, err := s.wakeParked(ctx, tx, q, held); err != nil {
		return nil, err
	}
	return parts, nil
}

// announceParts publishes parts cancelled with their parent.
func (s *Service) announceParts(parts []db.Task) {
	for _, p := range parts {
		s.publish(events.TaskCancelled, FromRow(p))
	}
}

// publishParent announces a parent that partEnded changed.
func (s *Service) publishParent(parent *db.Task) {
	if parent != nil {
		s.publish(events.TaskProgress, FromRow(*parent))
	}
}

// publishAgents announces agents as they are now, after a transaction that
// freed them (a takeover, a recovery): the trigger changed their rows.
func (s *Service) publishAgents(ctx context.Context, ids ...*uuid.UUID) {
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if id == nil || seen[*id] {
			continue
		}
		seen[*id] = true
		if a, err := s.queries.AgentGet(context.WithoutCancel(ctx), *id); err == nil {
			s.publishAgent(a)
		}
	}
}
