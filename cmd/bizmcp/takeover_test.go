package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// One of two instances is killed (SIGKILL: no hand-back) while it runs
// tasks; the other takes them over when their heartbeat stops, long before
// River's own rescue could (TASK_RESCUE_AFTER and the tasks' timeouts are an
// hour here), and every task completes exactly once: one completion each,
// each tool step recorded once.
func TestKilledInstanceTasksAreTakenOver(t *testing.T) {
	t.Parallel()
	hung := make(chan struct{}, 64)
	dying := testkit.StartFakeLLM(t, func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		<-r.Context().Done() // never answers: its instance is killed mid-call
	})
	healthy := testkit.StartFakeLLM(t, testkit.ChatReply("gpt-4o-mini", "An answer.", 10, 5))
	dbURL := testkit.DatabaseURL(t)
	env := []string{
		"DATABASE_URL=" + dbURL, "SECRET_KEY=" + strings.Repeat("0123456789abcdef", 4), "HTTP_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json", "OPENAI_API_KEY=sk-test", "LLM_MODEL=gpt-4o-mini", "LLM_TIMEOUT=10m",
		"TASK_RESCUE_AFTER=1h", // River's own rescue cannot be what recovers the tasks
	}
	r := runBinary(t, env, "keys", "create", "--name", "admin", "--scopes", "admin")
	require.Equal(t, 0, r.code, r.stderr)
	key := strings.TrimSpace(r.stdout[strings.LastIndex(strings.TrimSpace(r.stdout), "\n")+1:])

	a, addrA := startBinary(t, append(env, "OPENAI_BASE_URL="+dying.URL))
	const general = 4
	for i := range general - 1 { // with the seeded one, four general agents
		post(t, addrA, key, "/api/v1/admin/agents", fmt.Sprintf(`{"name":"General %d","type":"general"}`, i))
	}
	var ids []string
	for i := range general {
		ids = append(ids, post(t, addrA, key, "/api/v1/resources/tasks",
			fmt.Sprintf(`{"title":"Essay %d","domain":"general","timeout_seconds":3600,"input_data":{"prompt":"write"}}`, i))["task_id"].(string))
	}
	for range general { // every general task is mid-call on A
		select {
		case <-hung:
		case <-time.After(60 * time.Second):
			t.Fatal("the tasks never reached the LLM")
		}
	}
	_, addrB := startBinary(t, append(env, "OPENAI_BASE_URL="+healthy.URL))
	inputs := map[string]string{
		"finance":   `{"data":[{"period":"Q1","revenue":100,"costs":60},{"period":"Q2","revenue":110,"costs":70}]}`,
		"sales":     `{"series":[1,2,3,4,5],"horizon":2}`,
		"analytics": `{"rows":[{"x":1,"y":2},{"x":2,"y":4},{"x":3,"y":7}]}`,
	}
	var pure []string
	for i := range 30 {
		addr := addrA
		if i%2 == 1 {
			addr = addrB
		}
		d := []string{"finance", "sales", "analytics"}[i%3]
		pure = append(pure, post(t, addr, key, "/api/v1/resources/tasks",
			fmt.Sprintf(`{"title":"Plan %d","domain":%q,"timeout_seconds":3600,"input_data":%s}`, i, d, inputs[d]))["task_id"].(string))
	}

	require.NoError(t, a.Process.Kill())
	killed := time.Now()
	_ = a.Wait()

	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	ctx := context.Background()
	all := append(append([]string{}, ids...), pure...)
	if !assert.EventuallyWithT(t, func(c *assert.CollectT) {
		var done int
		assert.NoError(c, conn.QueryRow(ctx, "SELECT count(*) FROM agents.tasks WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'failed', 'cancelled')", all).Scan(&done))
		assert.Equal(c, len(all), done)
	}, 3*time.Minute, 100*time.Millisecond) {
		rows, err := conn.Query(ctx, `SELECT t.id::text, t.status, t.lease, coalesce(t.heartbeat_at::text, ''), coalesce(j.state::text, ''), coalesce(j.attempted_by::text, ''),
			(SELECT string_agg(e.type || ': ' || e.message, ' | ' ORDER BY e.id) FROM agents.task_events e WHERE e.task_id = t.id)
			FROM agents.tasks t LEFT JOIN river_job j ON j.id = t.job_id
			WHERE t.id = ANY($1::uuid[]) AND t.status NOT IN ('completed', 'failed', 'cancelled')`, all)
		require.NoError(t, err)
		for rows.Next() {
			var id, status, beat, state, by, timeline string
			var lease int64
			require.NoError(t, rows.Scan(&id, &status, &lease, &beat, &state, &by, &timeline))
			t.Logf("unfinished %s: %s lease %d heartbeat %q job %s by %s; %s", id, status, lease, beat, state, by, timeline)
		}
		t.FailNow()
	}
	var lastDone time.Time
	require.NoError(t, conn.QueryRow(ctx, "SELECT max(completed_at) FROM agents.tasks WHERE id = ANY($1::uuid[])", ids).Scan(&lastDone))
	t.Logf("the killed instance's %d tasks completed %.1fs after the kill", general, lastDone.Sub(killed).Seconds())

	var completed, badLLM, badPure, events, takenOver, busy int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM agents.tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'", all).Scan(&completed))
	require.Equal(t, len(all), completed)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM agents.tasks t WHERE t.id = ANY($1::uuid[])
		AND (SELECT count(*) FROM mcp.tool_executions e WHERE e.task_id = t.id AND e.error IS NULL) <> 1`, ids).Scan(&badLLM))
	require.Zero(t, badLLM, "one successful LLM call per general task")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM agents.tasks t WHERE t.id = ANY($1::uuid[])
		AND (SELECT count(*) FROM mcp.tool_executions e WHERE e.task_id = t.id) <> 2`, pure).Scan(&badPure))
	require.Zero(t, badPure, "each plan's two tool calls recorded exactly once")
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM agents.task_events WHERE task_id = ANY($1::uuid[]) AND type = 'completed'", all).Scan(&events))
	require.Equal(t, len(all), events, "one completion each")
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(DISTINCT task_id) FROM agents.task_events WHERE task_id = ANY($1::uuid[]) AND type = 'retry' AND message LIKE 'taken over%'", ids).Scan(&takenOver))
	require.Equal(t, general, takenOver, "the killed instance's tasks were taken over by heartbeat")
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM agents.agents WHERE status = 'busy' OR current_task_id IS NOT NULL").Scan(&busy))
	require.Zero(t, busy, "no agent left busy by the dead instance")
}

// post sends an authenticated JSON POST and returns the decoded answer,
// failing the test unless it is 2xx.
func post(t *testing.T, addr, key, path, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Less(t, resp.StatusCode, 300, "%s: %s", path, raw)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}
