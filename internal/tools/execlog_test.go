package tools_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/testkit"
	"github.com/bizmcp/bizmcp/internal/tools"
)

func logRow(t *testing.T, tool string) db.ToolExecutionCreateParams {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	return db.ToolExecutionCreateParams{
		ID: id, ToolName: tool, Source: string(tools.SourceMCP), Parameters: json.RawMessage(`{"n":1}`),
		Result: json.RawMessage(`{"ok":true}`), ExecutionTimeMs: 3, TokensUsed: 7, Cost: 0.25,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
}

// A batch is one statement that stores every record as the single insert
// would, NULLs included; when one record breaks a constraint, only its
// caller gets the error and the others are stored.
func TestExecLogBatch(t *testing.T) {
	t.Parallel()
	q := db.New(testkit.Pool(t))
	ctx := context.Background()
	l := tools.NewExecLog(q)

	failed := logRow(t, "b")
	msg := "it broke"
	failed.Result, failed.Error = nil, &msg
	keyless := logRow(t, "c")
	missingKey := uuid.New() // no such API key: the foreign key refuses it
	orphan := logRow(t, "d")
	orphan.ApiKeyID = &missingKey
	rows := []db.ToolExecutionCreateParams{logRow(t, "a"), failed, keyless}

	for _, withOrphan := range []bool{false, true} {
		batch := make([]db.ToolExecutionCreateParams, 0, len(rows)+1)
		for _, r := range rows {
			r.ID = uuid.New()
			batch = append(batch, r)
		}
		if withOrphan {
			batch = append(batch, orphan)
		}
		errs := l.WriteBatch(ctx, batch)
		for i, want := range batch {
			if withOrphan && i == len(batch)-1 {
				require.Error(t, errs[i], "the orphan's caller learns its record failed")
				continue
			}
			require.NoError(t, errs[i])
			got, err := q.ToolExecutionGet(ctx, want.ID)
			require.NoError(t, err)
			require.Equal(t, want.ToolName, got.ToolName)
			require.Equal(t, want.ApiKeyID, got.ApiKeyID)
			require.Nil(t, got.AgentID)
			require.Nil(t, got.TaskID)
			require.Equal(t, want.Error, got.Error)
			if want.Result == nil {
				require.Nil(t, got.Result, "no result is SQL NULL, not JSON null")
			} else {
				require.JSONEq(t, string(want.Result), string(got.Result))
			}
			require.JSONEq(t, string(want.Parameters), string(got.Parameters))
			require.Equal(t, want.ExecutionTimeMs, got.ExecutionTimeMs)
			require.Equal(t, want.TokensUsed, got.TokensUsed)
			require.InDelta(t, want.Cost, got.Cost, 1e-9)
			require.True(t, want.CreatedAt.Equal(got.CreatedAt))
		}
	}
	_, err := q.ToolExecutionGet(ctx, orphan.ID)
	require.True(t, apperr.Is(db.MapError(err, "x"), apperr.NotFound))
}

// Concurrent writers all get their record committed before write returns,
// in fewer statements than records once they overlap.
func TestExecLogConcurrentWrites(t *testing.T) {
	t.Parallel()
	q := db.New(testkit.Pool(t))
	l := tools.NewExecLog(q)
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make(chan uuid.UUID, 200)
	for range 200 {
		wg.Go(func() {
			r := logRow(t, "many")
			if err := l.Write(ctx, r); err != nil {
				t.Error(err)
				return
			}
			ids <- r.ID
		})
	}
	wg.Wait()
	close(ids)
	n := 0
	for id := range ids {
		_, err := q.ToolExecutionGet(ctx, id)
		require.NoError(t, err, "a write that returned is committed")
		n++
	}
	require.Equal(t, 200, n)
	require.True(t, l.Idle(), "the log is idle again")
}
