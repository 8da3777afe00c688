package tools

import (
	"context"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/groupcommit"
)

// ExecLog exposes the group commit to the package's external tests (which
// may import testkit; this package's own tests may not).
type ExecLog = execLog

// NewExecLog returns an execution log writing through q.
func NewExecLog(q *db.Queries) *ExecLog { return newExecLog(q) }

// Write stores one record, as Executor.record does.
func (l *execLog) Write(ctx context.Context, row db.ToolExecutionCreateParams) error {
	return l.write(ctx, row)
}

// WriteBatch writes rows as one group and returns each one's error.
func (l *execLog) WriteBatch(ctx context.Context, rows []db.ToolExecutionCreateParams) []error {
	batch := make([]*logCall, len(rows))
	for i, r := range rows {
		batch[i] = groupcommit.NewCall[db.ToolExecutionCreateParams, struct{}](r)
	}
	l.writeBatch(ctx, batch)
	errs := make([]error, len(rows))
	for i, c := range batch {
		_, errs[i] = c.Wait()
	}
	return errs
}

// Idle reports whether nothing is queued or being written.
func (l *execLog) Idle() bool { return l.group.Idle() }
