package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/groupcommit"
)

// maxLogBatch bounds one group commit: a batch this size is still one short
// statement, and a longer queue is written by the next round.
const maxLogBatch = 128

// logWriteTimeout bounds one write, whoever's request it serves.
const logWriteTimeout = 10 * time.Second

// execLog writes execution records by group commit (internal/groupcommit):
// a call that finds no write in flight writes its record at once, alone;
// the records of calls that arrive while a write is in flight go together
// in the next write, one multi-row INSERT (one round trip, one implicit
// transaction). Every caller waits for the commit of the write that holds
// its record before it answers, so nothing acknowledged is lost; if a batch
// fails, its records are written one by one so that each caller gets its
// own error.
type execLog struct {
	queries *db.Queries
	group   *groupcommit.Group[db.ToolExecutionCreateParams, struct{}]
}

// logCall is one record waiting for its write.
type logCall = groupcommit.Call[db.ToolExecutionCreateParams, struct{}]

func newExecLog(queries *db.Queries) *execLog {
	l := &execLog{queries: queries}
	l.group = groupcommit.New(maxLogBatch, l.writeBatch)
	return l
}

// write stores row and returns once it is committed (or failed). The write
// does not end with ctx: a record of a call whose client went away is kept
// too, and a batch serves several callers.
func (l *execLog) write(ctx context.Context, row db.ToolExecutionCreateParams) error {
	_, err := l.group.Do(context.WithoutCancel(ctx), row)
	return err
}

func (l *execLog) writeBatch(ctx context.Context, batch []*logCall) {
	ctx, cancel := context.WithTimeout(ctx, logWriteTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].Finish(struct{}{}, l.writeOne(ctx, batch[0].In))
		return
	}
	n := len(batch)
	p := db.ToolExecutionCreateBatchParams{
		Ids: make([]uuid.UUID, n), ToolNames: make([]string, n), AgentIds: make([]uuid.UUID, n),
		TaskIds: make([]uuid.UUID, n), ApiKeyIds: make([]uuid.UUID, n), Sources: make([]string, n),
		Parameters: make([]json.RawMessage, n), Results: make([]json.RawMessage, n), Errors: make([]string, n),
		ExecutionTimeMs: make([]int32, n), TokensUsed: make([]int64, n), Costs: make([]float64, n),
		CreatedAt: make([]time.Time, n),
	}
	for i, e := range batch {
		r := e.In
		p.Ids[i], p.ToolNames[i], p.Sources[i] = r.ID, r.ToolName, r.Source
		p.AgentIds[i], p.TaskIds[i], p.ApiKeyIds[i] = orNil(r.AgentID), orNil(r.TaskID), orNil(r.ApiKeyID)
		p.Parameters[i], p.Results[i] = r.Parameters, r.Result
		if r.Result == nil {
			p.Results[i] = jsonNull
		}
		if r.Error != nil {
			p.Errors[i] = *r.Error
		}
		p.ExecutionTimeMs[i], p.TokensUsed[i], p.Costs[i], p.CreatedAt[i] = r.ExecutionTimeMs, r.TokensUsed, r.Cost, r.CreatedAt
	}
	if err := l.queries.ToolExecutionCreateBatch(ctx, p); err == nil {
		for _, e := range batch {
			e.Finish(struct{}{}, nil)
		}
		return
	}
	// The statement failed as a whole (one row broke a constraint, or the
	// database is away): each record on its own, for its own answer.
	for _, e := range batch {
		e.Finish(struct{}{}, l.writeOne(ctx, e.In))
	}
}

var jsonNull = json.RawMessage("null")

// orNil spells a NULL id as the nil UUID, as ToolExecutionCreateBatch reads
// it.
func orNil(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

func (l *execLog) writeOne(ctx context.Context, row db.ToolExecutionCreateParams) error {
	_, err := l.queries.ToolExecutionCreate(ctx, row)
	return db.MapError(err, "tool execution")
}
