package orchestrator

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
)

// queueStuckAfter is how long a task job may wait for a worker before the
// queue is reported down: jobs are picked up within milliseconds while a
// worker is free, so a minute means every worker is busy or stuck.
const queueStuckAfter = time.Minute

// QueueHealth checks the task queue (River) for the health report: River
// answers, and no task job has waited for a worker longer than
// queueStuckAfter. Tasks waiting for a free agent are parked (their jobs
// scheduled, not available), so they do not count.
func (s *Service) QueueHealth(ctx context.Context) error {
	res, err := s.river.JobList(ctx, river.NewJobListParams().
		Kinds(TaskArgs{}.Kind()).
		States(rivertype.JobStateAvailable).
		Where("scheduled_at < now() - make_interval(secs => @stuck_seconds)", river.NamedArgs{"stuck_seconds": queueStuckAfter.Seconds()}).
		First(1))
	if err != nil {
		return db.MapError(err, "task queue")
	}
	if len(res.Jobs) > 0 {
		waited := time.Since(res.Jobs[0].ScheduledAt).Round(time.Second)
		return apperr.E(apperr.Unavailable, "a task has waited %s for a worker: every task worker is busy or stuck (raise TASK_WORKERS, or look for hung tasks)", waited)
	}
	return nil
}
