package orchestrator

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// What the package's external tests (which need testkit, and so cannot be
// in the package) drive by hand.

var (
	ErrLeaseLost = errLeaseLost
	RetryLater   = retryLater
)

func (s *Service) ClaimAndStart(ctx context.Context, row db.Task) (db.Agent, db.Task, error) {
	return s.claimAndStart(ctx, row, *row.JobID)
}

func (s *Service) RunPlan(ctx context.Context, task db.Task, agent db.Agent) (json.RawMessage, error) {
	ctx = withPlanAttempt(ctx)
	out, err := s.run(ctx, task, agent)
	s.flushKept(ctx, task)
	return out, err
}

// Finish records an attempt's outcome and returns River's answer; a task
// it adopted is returned too (nil when none).
func (s *Service) Finish(ctx context.Context, job *river.Job[TaskArgs], task db.Task, agent db.Agent, output json.RawMessage, runErr error) (*db.Task, error) {
	next, _, err := s.finish(ctx, job, task, agent, output, runErr)
	return next, err
}

func (s *Service) CallTool(ctx context.Context, task db.Task, agent db.Agent, tool string, args any) (tools.Execution, error) {
	return s.callTool(withAttempt(ctx), task, agent, tool, args)
}

func (s *Service) River() *river.Client[pgx.Tx] { return s.river }

// Heartbeats is this instance's heartbeat writer.
type Heartbeats = heartbeats

func NewHeartbeats(q *db.Queries) *Heartbeats { return newHeartbeats(q) }

func (h *heartbeats) Hold(task uuid.UUID, n int64, cancel context.CancelCauseFunc) func() {
	return h.hold(task, n, cancel)
}

func (h *heartbeats) Beat(ctx context.Context) bool { return h.beat(ctx) }

var ErrNoAgent = errNoAgent

func (s *Service) WakeFree(ctx context.Context) (int, error) { return s.wakeFree(ctx) }

// RunTask runs one started task as job would, up to its outcome; a task it
// adopted is returned (nil when none).
func (s *Service) RunTask(ctx context.Context, job *river.Job[TaskArgs], task db.Task, agent db.Agent) (*db.Task, error) {
	next, _, err := s.runTask(ctx, job, task, agent)
	return next, err
}

// Work is the River worker's Work for job.
func (s *Service) Work(ctx context.Context, job *river.Job[TaskArgs]) error {
	return (&taskWorker{s: s}).Work(ctx, job)
}
