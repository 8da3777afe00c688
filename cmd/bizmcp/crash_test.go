package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// A task whose server is killed (SIGKILL, no chance to clean up) mid-run is
// rescued and completed by another instance, exactly once.
func TestTaskSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	started := make(chan struct{}, 4)
	fake := testkit.StartFakeLLM(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-r.Context().Done() // the first attempt never finishes: its server dies
			return
		}
		testkit.ChatReply("gpt-4o-mini", "Recovered answer.", 10, 5)(w, r)
	})
	dbURL := testkit.DatabaseURL(t)
	env := []string{
		"DATABASE_URL=" + dbURL, "SECRET_KEY=" + strings.Repeat("0123456789abcdef", 4), "HTTP_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json", "OPENAI_BASE_URL=" + fake.URL, "OPENAI_API_KEY=sk-test", "LLM_MODEL=gpt-4o-mini",
		"TASK_RESCUE_AFTER=3s", "LLM_TIMEOUT=2m",
	}
	r := runBinary(t, env, "keys", "create", "--name", "admin", "--scopes", "admin")
	require.Equal(t, 0, r.code, r.stderr)
	key := strings.TrimSpace(r.stdout[strings.LastIndex(strings.TrimSpace(r.stdout), "\n")+1:])

	first, addr := startBinary(t, env)
	// A short timeout: River rescues a job only once its own timeout has
	// passed (a slow task may still be running), then TASK_RESCUE_AFTER.
	body := `{"title":"Essay","domain":"general","timeout_seconds":5,"input_data":{"prompt":"write"}}`
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/resources/tasks", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var created struct {
		TaskID string `json:"task_id"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the task never reached the LLM")
	}
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()

	startBinary(t, env) // the second instance rescues the job
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var status string
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if conn.QueryRow(context.Background(), "SELECT status FROM agents.tasks WHERE id = $1", created.TaskID).Scan(&status) == nil && status == "completed" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != "completed" {
		var job string
		_ = conn.QueryRow(context.Background(), "SELECT row_to_json(j)::text FROM river_job j").Scan(&job)
		t.Fatalf("task never completed after the crash: status %q; job %s", status, job)
	}

	var completed, executions int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM agents.task_events WHERE task_id = $1 AND type = 'completed'", created.TaskID).Scan(&completed))
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM mcp.tool_executions WHERE task_id = $1 AND error IS NULL", created.TaskID).Scan(&executions))
	require.Equal(t, 1, completed, "completed exactly once")
	require.Equal(t, 1, executions, "one successful LLM call recorded")
	var busy int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM agents.agents WHERE status = 'busy' OR current_task_id IS NOT NULL").Scan(&busy))
	require.Zero(t, busy, "no agent left busy by the dead instance")
}

// startBinary runs `bizmcp serve` and returns it with its address; it is
// killed when the test ends.
func startBinary(t *testing.T, env []string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var entry map[string]any
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry["msg"] == "http server listening" {
				addrc <- entry["addr"].(string)
			}
		}
	}()
	select {
	case addr := <-addrc:
		return cmd, addr
	case <-time.After(60 * time.Second):
		t.Fatal("bizmcp serve did not start")
	}
	return nil, ""
}
