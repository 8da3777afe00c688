package tools

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
)

// maxLogBatch bounds one group commit: a batch this size is still one short
// statement, and a longer queue is written by the next round.
const maxLogBatch = 128

// logWriteTimeout bounds one write, whoever's request it serves.
const logWriteTimeout = 10 * time.Second

// execLog writes execution records by group commit. A call that finds no
// write in flight writes its record at once, alone (no timer delays it);
// the records of calls that arrive while a write is in flight queue up and
// go together in the next write, one multi-row INSERT (one round trip, one
// implicit transaction). Every caller waits for the commit of the write
// that holds its record before it answers, so nothing acknowledged is lost;
// if a batch fails, its records are written one by one so that each caller
// gets its own error.
type execLog struct {
	queries *db.Queries

	mu      sync.Mutex
	queue   []*logEntry
	writing bool
}

type logEntry struct {
	row  db.ToolExecutionCreateParams
	done chan error
}

func newExecLog(queries *db.Queries) *execLog { return &execLog{queries: queries} }

// write stores row and returns once it is committed (or failed). The write
// does not end with ctx: a record of a call whose client went away is kept
// too, and a batch serves several callers.
func (l *execLog) write(ctx context.Context, row db.ToolExecutionCreateParams) error {
	ctx = context.WithoutCancel(ctx)
	e := &logEntry{row: row, done: make(chan error, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, e)
	lead := !l.writing
	l.writing = true
	l.mu.Unlock()
	if lead {
		// Nothing was in flight, so the queue held only e: write it now,
		// then hand whatever queued meanwhile to a goroutine, so that this
		// caller answers after its own write only.
		l.writeBatch(ctx, l.take())
		if l.more() {
			go l.drain(ctx)
		}
	}
	return <-e.done
}

// take removes up to maxLogBatch queued entries.
func (l *execLog) take() []*logEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(l.queue), maxLogBatch)
	batch := l.queue[:n:n]
	l.queue = l.queue[n:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
	return batch
}

// more reports whether entries wait, and otherwise ends the writing state,
// under one lock, so that an entry queued just after is led by its caller.
func (l *execLog) more() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) > 0 {
		return true
	}
	l.writing = false
	return false
}

// drain writes batches until the queue is empty.
func (l *execLog) drain(ctx context.Context) {
	for {
		l.writeBatch(ctx, l.take())
		if !l.more() {
			return
		}
	}
}

func (l *execLog) writeBatch(ctx context.Context, batch []*logEntry) {
	ctx, cancel := context.WithTimeout(ctx, logWriteTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].done <- l.writeOne(ctx, batch[0].row)
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
		r := e.row
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
			e.done <- nil
		}
		return
	}
	// The statement failed as a whole (one row broke a constraint, or the
	// database is away): each record on its own, for its own answer.
	for _, e := range batch {
		e.done <- l.writeOne(ctx, e.row)
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
