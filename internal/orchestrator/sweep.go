package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
)

// Why River's own rescue is not enough, and what is used of River instead:
//
//   - River's rescuer (RescueStuckJobsAfter) runs on the leader only and
//     rescues a running job only once the job's timeout has passed, since it
//     cannot tell a dead worker from a slow one; River has no per-job
//     heartbeat. The heartbeat lives on the task row, and every instance
//     sweeps (SKIP LOCKED), so losing the leader delays nothing.
//   - A taken-over task gets a new River job (InsertTx, in the transaction
//     that takes the lease), and its old job is cancelled there too
//     (JobCancelTx): a worker still alive on it has its context cancelled by
//     River's notification, and if its server is dead River's rescuer later
//     marks the job cancelled instead of running it again. Rescuing the old
//     job in place would let the slow worker's own completion finalise the
//     job the new worker runs (River completes a running job by id alone).
//   - UniqueOpts are not used: the task row's lock and lease already make
//     one takeover per stale lease, and a unique key would also refuse the
//     job of a legitimate later retry with the same arguments.
//   - The sweep for orphans reads River's job states (JobList): a task whose
//     current job River has finalised while the task is still open (its last
//     attempt ended without writing an outcome, e.g. during a database
//     outage) is run again if it has attempts left, or failed with a message.

// maintain heartbeats this instance's running tasks, takes over tasks whose
// heartbeat stopped, and sweeps orphans, until ctx ends.
func (s *Service) maintain(ctx context.Context) {
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	nextOrphans := time.Now().Add(2 * s.cfg.HeartbeatInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !s.rec.beats.beat(ctx) {
			continue
		}
		// The safety net of the wake-ups (see dispatch.go): a parked task
		// that an agent's free slot could take starts now.
		if _, err := s.wakeFree(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "could not wake waiting tasks; retrying", "err", err)
		}
		// Take over only once this instance has seen the database for two
		// heartbeats: after an outage, live workers elsewhere beat first.
		if s.rec.beats.dbUpFor() < 2*s.cfg.HeartbeatInterval {
			continue
		}
		// Instances sweep at slightly different moments.
		jitter := time.Duration(rand.Int64N(int64(s.cfg.HeartbeatInterval/4) + 1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter):
		}
		if _, err := s.TakeOverStale(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "could not take over tasks whose heartbeat stopped; retrying", "err", err)
		}
		if _, err := s.TakeOverUnstarted(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "could not take over tasks picked up by a server that stopped; retrying", "err", err)
		}
		if time.Now().After(nextOrphans) {
			if _, err := s.SweepOrphans(ctx); err != nil && ctx.Err() == nil {
				s.logger.WarnContext(ctx, "could not sweep orphaned tasks; retrying", "err", err)
			}
			nextOrphans = time.Now().Add(s.cfg.OrphanSweep)
		}
	}
}

// recovery is the state of crash recovery: the leases this instance holds,
// the running maintain loop, and where the orphan sweep goes on from.
type recovery struct {
	beats *heartbeats

	mu           sync.Mutex
	cancel       context.CancelFunc
	done         chan struct{}
	orphansSince time.Time
}

func newRecovery(queries *db.Queries) *recovery {
	return &recovery{beats: newHeartbeats(queries)}
}

// withRecoveryDefaults fills the heartbeat and sweep timing left zero.
func withRecoveryDefaults(cfg Config) Config {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	// A heartbeat must be able to miss a beat or two without the task being
	// taken for dead.
	cfg.StaleAfter = max(cfg.StaleAfter, 3*cfg.HeartbeatInterval)
	if cfg.OrphanSweep <= 0 {
		cfg.OrphanSweep = DefaultOrphanSweep
	}
	return cfg
}

// startMaintenance starts the maintain loop.
func (s *Service) startMaintenance(ctx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	s.rec.mu.Lock()
	s.rec.cancel, s.rec.done = cancel, done
	s.rec.mu.Unlock()
	go func() {
		defer close(done)
		s.maintain(ctx)
	}()
}

// stopMaintenance ends the loop. It runs after River has stopped, so the
// tasks being handed back keep their heartbeat until they are.
func (s *Service) stopMaintenance() {
	s.rec.mu.Lock()
	cancel, done := s.rec.cancel, s.rec.done
	s.rec.cancel, s.rec.done = nil, nil
	s.rec.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// takeoverBatch bounds the tasks taken over in one transaction.
const takeoverBatch = 100

// TakeOverStale takes over the running tasks whose heartbeat is older than
// StaleAfter: in one transaction per batch it takes their lease, frees the
// agents holding them, cancels their old job and enqueues a new one (or
// fails the task when that was its last attempt). It returns how many it
// took over.
func (s *Service) TakeOverStale(ctx context.Context) (int, error) {
	why := fmt.Sprintf("taken over: the server running it stopped answering (no heartbeat for %s)", s.cfg.StaleAfter)
	total := 0
	for {
		var out takeoverResult
		err := s.inRiverTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
			rows, err := q.TaskTakeOverStale(ctx, db.TaskTakeOverStaleParams{
				Reason: &why, StaleSeconds: s.cfg.StaleAfter.Seconds(), MaxRows: takeoverBatch,
			})
			if err != nil {
				return db.MapError(err, "stale tasks")
			}
			for _, row := range rows {
				if err := s.requeueTaken(ctx, tx, q, row.Task, why, &out); err != nil {
					return err
				}
				if row.HeldAgentID != nil {
					out.agents = append(out.agents, row.HeldAgentID)
				}
			}
			out.n = len(rows)
			// The agents the dead workers held are free now (the trigger):
			// tasks parked for them start.
			_, err = s.wakeParked(ctx, tx, q, len(rows))
			return err
		})
		if err != nil {
			return total, err
		}
		s.announce(ctx, out)
		for _, row := range out.requeued {
			s.logger.WarnContext(ctx, "took over a task whose heartbeat stopped", "task_id", row.ID, "lease", row.Lease, "job_id", row.JobID)
		}
		total += out.n
		if out.n < takeoverBatch {
			return total, nil
		}
	}
}

// takeoverResult is what a takeover transaction changed, announced after
// it commits.
type takeoverResult struct {
	n        int
	requeued []db.Task
	failed   []db.Task
	// agents the taken-over tasks held (freed by the trigger), and parents
	// whose parts ended (see parts.go).
	agents    []*uuid.UUID
	parents   []*db.Task
	responses []*db.Message
}

// requeueTaken finishes the takeover of one task whose lease was just taken
// (row is the task after the update; the trigger freed its agent): cancels
// its old job,
// and enqueues a new job with the attempts left, or fails the task when
// none is left. All within tx.
func (s *Service) requeueTaken(ctx context.Context, tx pgx.Tx, q *db.Queries, row db.Task, why string, out *takeoverResult) error {
	oldJob := row.JobID
	if oldJob != nil {
		if _, err := s.river.JobCancelTx(ctx, tx, *oldJob); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			return db.MapError(err, "task job")
		}
	}
	if row.Attempts >= row.MaxAttempts {
		msg := fmt.Sprintf("%s, and that was its last attempt (%d of %d)", why, row.Attempts, row.MaxAttempts)
		failed, err := q.TaskFailOpen(ctx, db.TaskFailOpenParams{ID: row.ID, ErrorMessage: &msg})
		if err != nil {
			return db.MapError(err, "task")
		}
		if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: row.ID, Type: "failed", Message: msg, Data: mustJSON(map[string]any{"lease": failed.Lease, "previous_job_id": oldJob})}); err != nil {
			return db.MapError(err, "task event")
		}
		out.failed = append(out.failed, failed)
		return s.settleParent(ctx, tx, q, failed, out)
	}
	// A taken-over task was already running: it goes one priority up (River
	// fetches by priority first) so it does not wait behind the whole
	// backlog that arrived after it. Keeping its place by an old ScheduledAt
	// does not work: River inserts such a job as scheduled, and only the
	// leader's scheduler makes it available, seconds later.
	res, err := s.river.InsertTx(ctx, tx, TaskArgs{TaskID: row.ID, TimeoutSeconds: int(row.TimeoutSeconds)}, &river.InsertOpts{
		Priority: max(1, riverPriority(row.Priority)-1), MaxAttempts: int(row.MaxAttempts - row.Attempts),
	})
	if err != nil {
		return db.MapError(err, "task job")
	}
	if err := q.TaskSetJob(ctx, db.TaskSetJobParams{ID: row.ID, JobID: &res.Job.ID}); err != nil {
		return db.MapError(err, "task job")
	}
	row.JobID = &res.Job.ID
	data := map[string]any{"lease": row.Lease, "previous_job_id": oldJob, "job_id": res.Job.ID, "attempts_left": row.MaxAttempts - row.Attempts}
	if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: row.ID, Type: "retry", Message: why, Data: mustJSON(data)}); err != nil {
		return db.MapError(err, "task event")
	}
	out.requeued = append(out.requeued, row)
	return nil
}

// settleParent stores the response of a part that a takeover or sweep has
// just failed and settles its parent (see partEnded). Unlike a worker, a
// takeover locks the part before its parent; a parent locking its parts at
// that moment (it is being cancelled or timing out) is a deadlock
// PostgreSQL breaks by failing one of the two, which its next round does
// again.
func (s *Service) settleParent(ctx context.Context, tx pgx.Tx, q *db.Queries, part db.Task, out *takeoverResult) error {
	if part.AgentID != nil {
		msg := ""
		if part.ErrorMessage != nil {
			msg = *part.ErrorMessage
		}
		m, err := s.respondTx(ctx, q, part, db.Agent{ID: *part.AgentID}, map[string]any{"status": "failed", "error": msg})
		if err != nil {
			return err
		}
		out.responses = append(out.responses, m)
	}
	parent, err := s.partEnded(ctx, tx, q, part)
	if parent != nil {
		out.parents = append(out.parents, parent)
	}
	return err
}

// announce publishes what a committed takeover or sweep changed.
func (s *Service) announce(ctx context.Context, out takeoverResult) {
	s.publishAgents(ctx, out.agents...)
	for _, p := range out.parents {
		s.publishParent(p)
	}
	for _, row := range out.requeued {
		s.publish(events.TaskProgress, FromRow(row))
	}
	for _, row := range out.failed {
		s.publish(events.TaskFailed, FromRow(row))
	}
	for _, m := range out.responses {
		s.publishResponse(m)
	}
}

// TakeOverUnstarted takes over tasks that are still pending or assigned
// while their job has been running for longer than StaleAfter: River
// handed the job to a worker whose server died before the task started (and
// so before it had a heartbeat). A worker alive but that slow can no longer
// start the task: only the task's current job can. It returns how many it
// took over.
func (s *Service) TakeOverUnstarted(ctx context.Context) (int, error) {
	res, err := s.river.JobList(ctx, river.NewJobListParams().
		Kinds(TaskArgs{}.Kind()).
		States(rivertype.JobStateRunning).
		Where("attempted_at < now() - make_interval(secs => @stale_seconds)", river.NamedArgs{"stale_seconds": s.cfg.StaleAfter.Seconds()}).
		First(orphanPage))
	if err != nil {
		return 0, db.MapError(err, "task jobs")
	}
	if len(res.Jobs) == 0 {
		return 0, nil
	}
	ids := make([]int64, 0, len(res.Jobs))
	jobs := make(map[int64]*rivertype.JobRow, len(res.Jobs))
	for _, j := range res.Jobs {
		ids = append(ids, j.ID)
		jobs[j.ID] = j
	}
	open, err := s.queries.TaskListOpenByJobs(ctx, ids)
	if err != nil {
		return 0, db.MapError(err, "tasks")
	}
	n := 0
	for _, t := range open {
		if t.Status == "processing" {
			continue // started: its heartbeat tells whether it lives
		}
		job := jobs[*t.JobID]
		var out takeoverResult
		err := s.inRiverTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
			row, err := q.TaskLockOpen(ctx, db.TaskLockOpenParams{ID: t.ID, JobID: &job.ID})
			if err != nil {
				if apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
					return nil
				}
				return db.MapError(err, "task")
			}
			if row.Status == "processing" {
				return nil // it started meanwhile
			}
			why := fmt.Sprintf("taken over: the server that picked it up (job %d) stopped before starting it", job.ID)
			requeued, err := q.TaskOrphanRequeue(ctx, db.TaskOrphanRequeueParams{ID: row.ID, Reason: &why})
			if err != nil {
				return db.MapError(err, "task")
			}
			out.n = 1
			return s.requeueTaken(ctx, tx, q, requeued, why, &out)
		})
		if err != nil {
			return n, err
		}
		s.announce(ctx, out)
		if out.n > 0 {
			s.logger.WarnContext(ctx, "took over a task picked up by a server that stopped", "task_id", t.ID, "job_id", job.ID)
		}
		n += out.n
	}
	return n, nil
}

// orphanPage and orphanMaxPerSweep bound one sweep of River's finished jobs.
const (
	orphanPage        = 500
	orphanMaxPerSweep = 20 * orphanPage
	// orphanOverlap re-reads jobs finished shortly before the previous
	// sweep's horizon, so clock differences between instances lose none.
	orphanOverlap = time.Minute
	// orphanLookback is how far back the first sweep after a start looks.
	orphanLookback = 24 * time.Hour
)

// SweepOrphans finds tasks still open whose current River job has ended
// (completed, cancelled or discarded): the last attempt ended without
// writing the task's outcome, typically because the database was down at
// that moment. A task that was running and has attempts left runs again;
// any other is failed with a message saying what happened. A task whose
// heartbeat is fresh is left alone (a live worker holds it). It returns how
// many tasks it repaired.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	s.rec.mu.Lock()
	since := s.rec.orphansSince
	s.rec.mu.Unlock()
	if since.IsZero() {
		since = time.Now().Add(-orphanLookback)
	}
	params := river.NewJobListParams().
		Kinds(TaskArgs{}.Kind()).
		States(rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded).
		Where("finalized_at >= @since", river.NamedArgs{"since": since}).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderAsc).
		First(orphanPage)
	repaired, seen := 0, 0
	horizon := since
	reachedEnd := false
	for seen < orphanMaxPerSweep {
		res, err := s.river.JobList(ctx, params)
		if err != nil {
			return repaired, db.MapError(err, "task jobs")
		}
		seen += len(res.Jobs)
		ids := make([]int64, 0, len(res.Jobs))
		jobs := make(map[int64]*rivertype.JobRow, len(res.Jobs))
		for _, j := range res.Jobs {
			ids = append(ids, j.ID)
			jobs[j.ID] = j
			if j.FinalizedAt != nil && j.FinalizedAt.After(horizon) {
				horizon = *j.FinalizedAt
			}
		}
		if len(ids) > 0 {
			open, err := s.queries.TaskListOpenByJobs(ctx, ids)
			if err != nil {
				return repaired, db.MapError(err, "tasks")
			}
			for _, t := range open {
				ok, err := s.repairOrphan(ctx, t, jobs[*t.JobID])
				if err != nil {
					return repaired, err
				}
				if ok {
					repaired++
				}
			}
		}
		if len(res.Jobs) < orphanPage || res.LastCursor == nil {
			reachedEnd = true
			break
		}
		params = params.After(res.LastCursor)
	}
	next := horizon
	if reachedEnd {
		next = horizon.Add(-orphanOverlap)
		if next.Before(since) {
			next = since
		}
	}
	s.rec.mu.Lock()
	s.rec.orphansSince = next
	s.rec.mu.Unlock()
	return repaired, nil
}

// repairOrphan re-runs or fails one open task whose job ended, under the
// task's row lock; it reports whether it changed the task.
func (s *Service) repairOrphan(ctx context.Context, t db.Task, job *rivertype.JobRow) (bool, error) {
	var out takeoverResult
	changed := false
	err := s.inRiverTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		row, err := q.TaskLockOpen(ctx, db.TaskLockOpenParams{ID: t.ID, JobID: &job.ID})
		if err != nil {
			if apperr.Is(db.MapError(err, "task"), apperr.NotFound) {
				return nil // finished meanwhile, or locked by a worker or another sweep
			}
			return db.MapError(err, "task")
		}
		if row.Status == "processing" && row.HeartbeatAt != nil && time.Since(*row.HeartbeatAt) < s.cfg.StaleAfter {
			return nil // a live worker holds it
		}
		if row.Status == "processing" && row.PartsDeadline == nil && row.AgentID != nil {
			out.agents = append(out.agents, row.AgentID) // freed by the trigger below
		}
		why := fmt.Sprintf("its River job %d ended (%s) while the task was still %s: the attempt's outcome was never written (was the database down?)", job.ID, job.State, row.Status)
		if row.Status == "processing" && row.Attempts < row.MaxAttempts {
			requeued, err := q.TaskOrphanRequeue(ctx, db.TaskOrphanRequeueParams{ID: row.ID, Reason: &why})
			if err != nil {
				return db.MapError(err, "task")
			}
			changed = true
			return s.requeueTaken(ctx, tx, q, requeued, why+"; running it again", &out)
		}
		msg := why + "; retry it with POST /api/v1/resources/tasks/{id}/retry"
		failed, err := q.TaskFailOpen(ctx, db.TaskFailOpenParams{ID: row.ID, ErrorMessage: &msg})
		if err != nil {
			return db.MapError(err, "task")
		}
		if _, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: row.ID, Type: "failed", Message: msg, Data: mustJSON(map[string]any{"job_id": job.ID, "job_state": job.State})}); err != nil {
			return db.MapError(err, "task event")
		}
		out.failed = append(out.failed, failed)
		changed = true
		if err := s.settleParent(ctx, tx, q, failed, &out); err != nil {
			return err
		}
		_, err = s.wakeParked(ctx, tx, q, 1)
		return err
	})
	if err != nil {
		return false, err
	}
	if changed {
		s.logger.WarnContext(ctx, "repaired a task whose job ended without it", "task_id", t.ID, "job_id", job.ID, "job_state", job.State)
	}
	s.announce(ctx, out)
	return changed, nil
}

// inRiverTx runs fn in a transaction that River's InsertTx and JobCancelTx
// can join: begin, defer rollback, commit.
func (s *Service) inRiverTx(ctx context.Context, fn func(tx pgx.Tx, q *db.Queries) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return db.MapError(err, "transaction")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := fn(tx, s.queries.WithTx(tx)); err != nil {
		return err
	}
	return db.MapError(tx.Commit(ctx), "transaction")
}
