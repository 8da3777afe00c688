package orchestrator

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Waiting for an agent without polling.
//
// A task that no agent can take now is parked in the transaction that
// failed to claim one (TaskPark), and its River job is snoozed: the task
// holds no worker while it waits. It is started by whoever frees capacity:
//
//   - The worker that finishes a task (completed, failed, retried) adopts
//     the next parked task its agent can take in the same transaction
//     (TaskAdoptNext) and runs it straight away as its own job, so a busy
//     agent goes from one task to the next without a gap and without any
//     round trip through the queue. The adopted task's parked job is
//     cancelled there too; from then on the task runs as the adopting job
//     (cancellation, takeover and recovery find it by its job_id as for any
//     task), each task under its own timeout.
//   - Anything else that frees or adds a slot (a cancelled running task, a
//     takeover, a new, resumed or widened agent) gives parked tasks a new
//     job, available at once, in its own transaction (wakeParked).
//
// Parking and freeing are ordered by the agent rows' locks (see TaskPark),
// so no wake-up is lost whichever instance frees the agent. A parked job's
// snooze, parkedFor, is only the safety net for a wake-up that went
// wrong; the maintenance loop also wakes parked tasks it finds with a free
// agent.

// parkedFor is how long a parked task's job sleeps before it looks again on
// its own, should no wake-up reach it.
const parkedFor = time.Minute

// chainFor bounds how long one job goes on adopting tasks, and jobTimeout
// (River's timeout of the job as a whole) outlasts any chain and the last
// task's own timeout: each task's timeout is applied by the worker.
const (
	chainFor   = time.Hour
	jobTimeout = chainFor + MaxTimeout + time.Hour
)

// errNoAgent means no agent can take the task now: it was parked.
var errNoAgent = errors.New("no free agent")

// claimRounds bounds how often a claim is tried again when it failed while
// an agent had a free slot (a concurrent claim held its lock).
const claimRounds = 8

// claimAndStart claims an agent and starts the task as job jobID in one
// transaction (so an agent is never counted busy with a task that did not
// start), or parks the task when no agent can take it. The timeline's
// assigned entry is written in the same transaction.
func (s *Service) claimAndStart(ctx context.Context, row db.Task, jobID int64) (agent db.Agent, started db.Task, err error) {
	id := row.ID
	for range claimRounds {
		parked := false
		err = s.inTx(ctx, func(q *db.Queries) error {
			var err error
			var assigned *uuid.UUID
			if row.Status == "assigned" && row.AgentID != nil {
				// A delegated request waits for the agent it was sent to.
				assigned = row.AgentID
				agent, err = q.AgentClaimAssigned(ctx, *row.AgentID)
			} else {
				agent, err = q.AgentClaim(ctx, db.AgentClaimParams{Domain: row.Domain, Required: requiredTools(row.Domain)})
			}
			if err = db.MapError(err, "agent"); apperr.Is(err, apperr.NotFound) {
				_, err = q.TaskPark(ctx, db.TaskParkParams{ID: id, JobID: &jobID, AgentID: assigned, Domain: row.Domain, Required: requiredTools(row.Domain)})
				if err = db.MapError(err, "task"); err == nil {
					parked = true
					return nil
				}
				if apperr.Is(err, apperr.NotFound) {
					return errClaimAgain // an agent freed meanwhile, or the task changed
				}
				return err
			} else if err != nil {
				return err
			}
			started, err = q.TaskStartLeased(ctx, db.TaskStartLeasedParams{ID: id, AgentID: &agent.ID, JobID: &jobID})
			if err != nil {
				return db.MapError(err, "task "+id.String())
			}
			if row.Status == "assigned" {
				if err := deliverRequest(ctx, q, id); err != nil {
					return err
				}
			}
			agent = heldBy(agent, id)
			return s.assignedEvent(ctx, q, started, agent)
		})
		switch {
		case err == nil && parked:
			return db.Agent{}, db.Task{}, errNoAgent
		case errors.Is(err, errClaimAgain):
			// Is the task still waiting at all?
			if row, err = s.queries.TaskGet(ctx, id); err != nil {
				return db.Agent{}, db.Task{}, db.MapError(err, "task "+id.String())
			}
			if row.Status != "pending" && row.Status != "assigned" || row.JobID == nil || *row.JobID != jobID {
				return db.Agent{}, db.Task{}, apperr.E(apperr.NotFound, "task %s no longer waits for this job", id)
			}
			continue
		}
		return agent, started, err
	}
	return db.Agent{}, db.Task{}, errClaimContended
}

var (
	errClaimAgain     = errors.New("claim again")
	errClaimContended = apperr.E(apperr.Unavailable, "agents are contended; the task tries again")
)

// heldBy is agent as it is once task has started on it (the trigger's work,
// known without reading the row again).
func heldBy(a db.Agent, task uuid.UUID) db.Agent {
	a.Running++
	if a.Status == "idle" {
		a.Status = "busy"
	}
	a.CurrentTaskID = &task
	now := time.Now()
	a.LastActivity = &now
	return a
}

// assignedEvent records in q's transaction that task started on agent.
func (s *Service) assignedEvent(ctx context.Context, q *db.Queries, task db.Task, agent db.Agent) error {
	_, err := q.TaskEventCreate(ctx, db.TaskEventCreateParams{TaskID: task.ID, Type: "assigned", Message: "assigned to " + agent.Name,
		Data: mustJSON(map[string]any{"agent_id": agent.ID, "agent": agent.Name, "attempt": task.Attempts, "lease": task.Lease})})
	return db.MapError(err, "task event")
}

// adoptNext, in the transaction that has just ended a task on agent (the
// trigger has counted it out), starts the next parked task the agent can
// take as job jobID and cancels the job it was parked with. It returns nil
// when there is none (or the agent is paused or full).
func (s *Service) adoptNext(ctx context.Context, tx pgx.Tx, q *db.Queries, agent db.Agent, jobID int64) (*db.Task, error) {
	r, err := q.TaskAdoptNext(ctx, db.TaskAdoptNextParams{AgentID: agent.ID, JobID: jobID, Domain: agent.Type})
	if err != nil {
		if err = db.MapError(err, "task"); apperr.Is(err, apperr.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	if r.ParkedJobID != nil && *r.ParkedJobID != jobID {
		if _, err := s.river.JobCancelTx(ctx, tx, *r.ParkedJobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			return nil, db.MapError(err, "task job")
		}
	}
	next := db.Task{
		ID: r.ID, Title: r.Title, Description: r.Description, Domain: r.Domain, Priority: r.Priority, Status: r.Status,
		AgentID: r.AgentID, ParentTaskID: r.ParentTaskID, InputData: r.InputData, OutputData: r.OutputData,
		ErrorMessage: r.ErrorMessage, Progress: r.Progress, Attempts: r.Attempts, TokensUsed: r.TokensUsed, Cost: r.Cost,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt, JobID: r.JobID,
		TimeoutSeconds: r.TimeoutSeconds, MaxAttempts: r.MaxAttempts, Lease: r.Lease, HeartbeatAt: r.HeartbeatAt, ParkedAt: r.ParkedAt,
	}
	if r.ParkedStatus == "assigned" {
		if err := deliverRequest(ctx, q, next.ID); err != nil {
			return nil, err
		}
	}
	if err := s.assignedEvent(ctx, q, next, agent); err != nil {
		return nil, err
	}
	return &next, nil
}

// deliverRequest marks the request message that asked for an assigned
// task delivered, in the transaction that starts the task on its agent.
func deliverRequest(ctx context.Context, q *db.Queries, task uuid.UUID) error {
	_, err := q.MessageDeliver(ctx, db.MessageDeliverParams{CorrelationID: &task, Type: "request"})
	return db.MapError(err, "message")
}

// wakeBatch bounds the parked tasks one wake-up starts.
const wakeBatch = 100

// wakeParked gives up to limit parked tasks that an agent with a free slot
// could take now a new job, available at once, within tx. It returns how
// many it woke.
func (s *Service) wakeParked(ctx context.Context, tx pgx.Tx, q *db.Queries, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	domains := agents.Types()
	tools := make([]string, len(domains))
	for i, d := range domains {
		tools[i] = requiredTools(d)[0]
	}
	rows, err := q.TaskParkedWakeable(ctx, db.TaskParkedWakeableParams{Domains: domains, Tools: tools, MaxRows: int32(min(limit, wakeBatch))})
	if err != nil {
		return 0, db.MapError(err, "parked tasks")
	}
	for _, row := range rows {
		res, err := s.river.InsertTx(ctx, tx, TaskArgs{TaskID: row.ID, TimeoutSeconds: int(row.TimeoutSeconds)}, &river.InsertOpts{
			Priority: riverPriority(row.Priority), MaxAttempts: max(1, int(row.MaxAttempts-row.Attempts)),
		})
		if err != nil {
			return 0, db.MapError(err, "task job")
		}
		if err := q.TaskUnpark(ctx, db.TaskUnparkParams{ID: row.ID, JobID: &res.Job.ID}); err != nil {
			return 0, db.MapError(err, "task")
		}
		if row.JobID != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, *row.JobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
				return 0, db.MapError(err, "task job")
			}
		}
	}
	return len(rows), nil
}

// Wake starts parked tasks that the agents' free slots can take now: after
// an agent was created, resumed or given more concurrency. A failure is
// logged; the maintenance loop wakes them later.
func (s *Service) Wake(ctx context.Context) {
	if _, err := s.wakeFree(ctx); err != nil && ctx.Err() == nil {
		s.logger.WarnContext(ctx, "could not wake waiting tasks; the maintenance loop will", "err", err)
	}
}

// wakeFree wakes as many parked tasks as agents have free slots; it
// returns how many it woke.
func (s *Service) wakeFree(ctx context.Context) (int, error) {
	slots, err := s.queries.AgentFreeSlots(ctx)
	if err != nil || slots == 0 {
		return 0, db.MapError(err, "agents")
	}
	parked, err := s.queries.TaskParkedAny(ctx)
	if err != nil || !parked {
		return 0, db.MapError(err, "tasks")
	}
	n := 0
	err = s.inRiverTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		n, err = s.wakeParked(ctx, tx, q, int(slots))
		return err
	})
	return n, err
}

// parkedSnooze is parkedFor with jitter, so parked jobs that went to sleep
// together do not all wake together.
func parkedSnooze() time.Duration {
	return parkedFor + time.Duration(rand.Int64N(int64(parkedFor/4)))
}
