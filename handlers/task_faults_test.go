package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// An LLM that hangs: each attempt times out, the task is retried with
// backoff, then fails with a message saying why; the agent lives on.
func TestTaskWithHangingLLM(t *testing.T) {
	t.Parallel()
	fake := testkit.StartFakeLLM(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := testkit.StartServer(t, withFakeLLM(fake, "LLM_TIMEOUT", "1s"))
	id := postTask(t, srv, `{"title":"Ask","domain":"general","max_attempts":2,"input_data":{"prompt":"hello?"}}`)
	task := waitTask(t, srv, id, "failed", "completed")
	require.Equal(t, "failed", task.Status)
	require.Equal(t, 2, task.Attempts)
	require.Contains(t, *task.Error, "did not answer within 1s")

	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+id+"/events", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var timeline struct{ Items []struct{ Type string } }
	require.NoError(t, json.Unmarshal(b, &timeline))
	retries := 0
	for _, e := range timeline.Items {
		if e.Type == "retry" {
			retries++
		}
	}
	require.Equal(t, 1, retries, "one retry between the two attempts")
	general := listAgents(t, srv, "?type=general")[0]
	require.Equal(t, "idle", general.Status)
	require.Equal(t, 1, general.TasksFailed)
}

// PostgreSQL restarted during a burst of tasks: nothing is lost and every
// task ends.
func TestPostgresRestartDuringTaskBurst(t *testing.T) {
	t.Parallel()
	pg := testkit.StartPostgresProcess(t)
	conn, err := pgx.Connect(context.Background(), pg.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE DATABASE bizmcp")
	require.NoError(t, err)
	conn.Close(context.Background())
	// A job whose completion could not be written while the database was
	// down is rescued once its task's timeout has passed: short timeouts
	// keep the test short.
	srv := testkit.StartServer(t, testkit.WithEnv("DATABASE_URL", pg.URL("bizmcp")), testkit.WithEnv("TASK_RESCUE_AFTER", "5s"))

	const n = 30
	for i := range n {
		postTask(t, srv, fmt.Sprintf(`{"title":"Burst %d","domain":"sales","timeout_seconds":15,"input_data":{"series":[1,2,3,%d]}}`, i, i))
	}
	pg.Stop()
	time.Sleep(time.Second)
	pg.Start()

	conn, err = pgx.Connect(context.Background(), pg.URL("bizmcp"))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var ended int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM agents.tasks WHERE status IN ('completed', 'failed', 'cancelled')").Scan(&ended)
		return err == nil && ended == n
	}, 4*time.Minute, 500*time.Millisecond, "every task ends after the restart")
	var total, completed int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM agents.tasks").Scan(&total, &completed))
	require.Equal(t, n, total, "no task lost")
	require.Equal(t, n, completed)
	var busy int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM agents.agents WHERE current_task_id IS NOT NULL").Scan(&busy))
	require.Zero(t, busy)
}

// A provider whose error quotes a NUL character and invalid UTF-8: the
// task still fails cleanly with a readable, storable message, instead of
// looping on a failure PostgreSQL refuses to record.
func TestTaskFailureWithHostileProviderError(t *testing.T) {
	t.Parallel()
	fake := testkit.StartFakeLLM(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("{\"error\":{\"message\":\"model \\u0000 gone \xff\xfe\",\"type\":\"invalid_request_error\"}}"))
	})
	srv := testkit.StartServer(t, withFakeLLM(fake))
	id := postTask(t, srv, `{"title":"Ask","domain":"general","max_attempts":1,"input_data":{"prompt":"hello?"}}`)
	task := waitTask(t, srv, id, "failed", "completed")
	require.Equal(t, "failed", task.Status)
	require.NotNil(t, task.Error)
	require.Contains(t, *task.Error, "refused the request (HTTP 400)")
	require.Contains(t, *task.Error, "model \uFFFD gone")
	require.NotContains(t, *task.Error, "\x00")

	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+id+"/events", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), `"failed"`, "the failure is on the timeline")
}

// A model whose answer holds a NUL character and a lone surrogate: the task
// completes with the text made storable (U+FFFD), not a failure PostgreSQL
// refuses to record.
func TestTaskWithHostileModelOutput(t *testing.T) {
	t.Parallel()
	fake := testkit.StartFakeLLM(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"chatcmpl-test","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",
			"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"fine \u0000 answer \ud800 end"}}],
			"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`))
	})
	srv := testkit.StartServer(t, withFakeLLM(fake))
	id := postTask(t, srv, `{"title":"Ask","domain":"general","max_attempts":1,"input_data":{"prompt":"hello?"}}`)
	task := waitTask(t, srv, id, "failed", "completed")
	require.Equal(t, "completed", task.Status, "error: %s", deref(task.Error))
	require.Contains(t, string(task.OutputData), "fine \uFFFD answer \uFFFD end")
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
