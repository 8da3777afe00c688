package browsertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// testWork drives the pages where the business is run (tasks, tools,
// agents) on one deployment of two instances, shared by its flows: each
// flow uses its own tab, and its own domain or agent, so that they run in
// parallel without waiting for each other. The deployment's LLM is a fake
// that answers at once, except a prompt holding neverAnswered, which it
// never answers: that task stays running until it is cancelled.
func testWork(t *testing.T, chrome *testkit.Chromium) {
	answer := testkit.ChatReply("gpt-4o-mini", "Margins are healthy.", 120, 40)
	llm := testkit.StartFakeLLM(t, func(w http.ResponseWriter, r *http.Request) {
		if body, _ := io.ReadAll(r.Body); bytes.Contains(body, []byte(neverAnswered)) {
			<-r.Context().Done()
			return
		}
		answer(w, r)
	})
	srv := testkit.StartServer(t,
		testkit.WithEnv("OPENAI_BASE_URL", llm.URL), testkit.WithEnv("OPENAI_API_KEY", "sk-test-not-a-real-key"),
		testkit.WithEnv("LLM_MODEL", "gpt-4o-mini"))
	other := srv.StartInstance(t)
	for _, tc := range []struct {
		name string
		test func(t *testing.T, chrome *testkit.Chromium, srv, other *testkit.Server)
	}{
		{"TaskFromForm", testTaskFromForm},
		{"CancelAndRetry", testCancelAndRetry},
		{"ForecastTool", testForecastTool},
		{"ToolsCatalogueAndHistory", testToolsCatalogueAndHistory},
		{"PauseAcrossInstances", testPauseAcrossInstances},
		{"TaskFromREST", testTaskFromREST},
		{"FiltersSurviveReload", testFiltersSurviveReload},
		{"HostileTask", testHostileTask},
		{"Delegation", testDelegation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, chrome, srv, other)
		})
	}
}

// neverAnswered in a prompt makes testWork's LLM hang.
const neverAnswered = "Write the annual report, at length."

// openLive opens path and waits until its live channel is open and has
// applied its first message, the snapshot of the page's live parts (which
// replaces them, so a look before it lands could see the page change).
// It then marks the page, so that assertSamePage can tell that later
// changes came without a reload.
func openLive(t *testing.T, tab *testkit.Tab, path string) {
	t.Helper()
	tab.Open(path)
	waitLive(t, tab)
}

func waitLive(t *testing.T, tab *testkit.Tab) {
	t.Helper()
	tab.WaitFor(testkit.TestID("live-badge", `[data-state="live"]`))
	tab.WaitTrue(`window.__live >= 1`)
	tab.WaitTrue(`(window.__samePage = true)`)
}

// restAgent is an agent as the REST API shows it.
type restAgent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

// agentOfType is the first agent of a type (a fresh installation has one
// of each).
func agentOfType(t *testing.T, srv *testkit.Server, typ string) restAgent {
	t.Helper()
	resp, body := srv.Do(t, http.MethodGet, "/api/v1/admin/agents?type="+typ, srv.AdminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list %s agents: %d %s", typ, resp.StatusCode, body)
	}
	var page struct{ Items []restAgent }
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) == 0 {
		t.Fatalf("no %s agent", typ)
	}
	return page.Items[0]
}

// setAgentStatus pauses ("paused") or resumes ("active") an agent over REST.
func setAgentStatus(t *testing.T, srv *testkit.Server, id, status string) {
	t.Helper()
	resp, body := srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+id, srv.AdminKey, strings.NewReader(`{"status":"`+status+`"}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set agent %s to %s: %d %s", id, status, resp.StatusCode, body)
	}
}

// restTask is a task as the REST API shows it.
type restTask struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// createTaskREST creates a task over REST and returns its id.
func createTaskREST(t *testing.T, srv *testkit.Server, task map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(task)
	resp, body := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey, strings.NewReader(string(b)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create a task over REST: %d %s", resp.StatusCode, body)
	}
	var created struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.TaskID == "" {
		t.Fatalf("create a task over REST: no task_id in %s", body)
	}
	return created.TaskID
}

// waitTaskCompleted opens the task's page and waits until it reads
// completed (the page is live: no polling of the API, whose rate limit the
// agents' tool calls share).
func waitTaskCompleted(t *testing.T, tab *testkit.Tab, id string) {
	t.Helper()
	tab.Open("/tasks/" + id)
	tab.WaitFor(taskLive("completed"))
}

// taskRow selects the task list's row of the task with this id.
func taskRow(id string, more ...string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="task-row"][data-task-id="` + id + `"]` + strings.Join(more, ""))
}

// taskLive selects the task page's live part in a state.
func taskLive(status string) chromedp.CSS {
	return testkit.TestID("task-live", `[data-status="`+status+`"]`)
}

// testTaskFromForm: a task created from the form (switching the domain
// swaps the example input) is shown on its page, which follows it to 100%
// and completed without a reload, with its figures as a table and its
// report. Its domain's agent is paused until the page is open, so the page
// sees the task run rather than finding it finished.
func testTaskFromForm(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	marketing := agentOfType(t, srv, "marketing")
	setAgentStatus(t, srv, marketing.ID, "paused")

	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	tab.Open("/tasks/new")
	tab.Run(
		chromedp.WaitVisible(testkit.TestID("task-form")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Who are our champions?"),
		chromedp.SetValue(testkit.TestID("task-domain"), "marketing"),
	)
	// The change event makes htmx fetch the domain's example.
	tab.Run(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="task-domain"]').dispatchEvent(new Event("change", {bubbles: true}))`))
	tab.WaitTrue(`document.querySelector('[data-testid="task-input"]').value.includes("customers")`)
	tab.Screenshot("task-new")
	if st := tab.Submit(testkit.TestID("task-submit")); st != http.StatusOK {
		t.Fatalf("creating a task from the form: the page after it has status %d, want 200", st)
	}
	if h := tab.Text(testkit.TestID("task-heading")); h != "Who are our champions?" {
		t.Errorf("the task page's heading is %q", h)
	}
	loc := testkit.Value(tab, chromedp.Location())
	waitLive(t, tab)
	tab.WaitFor(taskLive("pending"))

	setAgentStatus(t, srv, marketing.ID, "active")
	tab.WaitFor(taskLive("completed"))
	tab.WaitFor(testkit.TestID("task-progress", `[aria-valuenow="100"]`))
	tab.WaitFor(testkit.TestID("task-figures", ` table`))
	if txt := tab.Text(testkit.TestID("task-figures")); !strings.Contains(txt, "c-001") {
		t.Errorf("the figures do not show the customers: %q", txt)
	}
	if rep := tab.Text(testkit.TestID("task-report", " h1")); rep != "Who are our champions?" {
		t.Errorf("the report's title is %q", rep)
	}
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="timeline-entry"]').length`); n < 3 {
		t.Errorf("the timeline has %d entries, want the steps of the run", n)
	}
	assertSamePage(t, tab)
	if now := testkit.Value(tab, chromedp.Location()); now != loc {
		t.Errorf("the page moved from %s to %s", loc, now)
	}
	tab.Screenshot("task")
}

// testCancelAndRetry: a running task (its LLM call never answers) is
// cancelled from its page, which then reads cancelled and offers retry;
// retrying starts it again. All without a reload.
func testCancelAndRetry(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	id := createTaskREST(t, srv, map[string]any{"title": "Write at length", "domain": "general",
		"input_data": map[string]any{"prompt": neverAnswered}})
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	openLive(t, tab, "/tasks/"+id)
	tab.WaitFor(taskLive("processing"))
	if testkit.Eval[bool](tab, `!!document.querySelector('[data-testid="task-retry"]')`) {
		t.Error("a running task offers retry")
	}

	tab.Click(testkit.TestID("task-cancel"))
	tab.WaitFor(taskLive("cancelled"))
	if testkit.Eval[bool](tab, `!!document.querySelector('[data-testid="task-cancel"]')`) {
		t.Error("a cancelled task still offers cancel")
	}

	tab.Click(testkit.TestID("task-retry"))
	tab.WaitFor(testkit.TestID("task-live", `:not([data-status="cancelled"])`))
	tab.WaitFor(testkit.TestID("task-cancel"))
	if st := tab.Attr(testkit.TestID("task-live"), "data-status"); st != "pending" && st != "processing" {
		t.Errorf("after retry the task is %s, want pending or processing", st)
	}
	assertSamePage(t, tab)
	// Leave nothing running for the shutdown to wait on.
	if resp, body := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/"+id+"/cancel", srv.AdminKey, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("cancel over REST: %d %s", resp.StatusCode, body)
	}
}

// testForecastTool: sales_forecaster run from its generated form shows the
// forecast's figures and its chart (SVG: the line and its interval band).
func testForecastTool(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	tab.Open("/tools/sales_forecaster")
	tab.Run(
		chromedp.WaitVisible(testkit.TestID("tool-form")),
		chromedp.SetValue(chromedp.CSS("#f-series"), "[112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118]"),
		chromedp.SetValue(chromedp.CSS("#f-horizon"), "3"),
	)
	if st := tab.Submit(testkit.TestID("tool-submit")); st != http.StatusOK {
		t.Fatalf("running the forecaster: status %d, want 200", st)
	}
	tab.WaitFor(testkit.TestID("tool-result"))
	if s := tab.Text(testkit.TestID("tool-summary")); !strings.Contains(s, "step 3:") {
		t.Errorf("the summary %q does not give the third step", s)
	}
	tab.WaitFor(testkit.TestID("chart", " svg"))
	points := tab.Attr(testkit.TestID("chart-forecast"), "points")
	if n := len(strings.Fields(points)); n < 3 {
		t.Errorf("the forecast line has %d points (%q), want at least the 3 steps", n, points)
	}
	if !testkit.Eval[bool](tab, `!!document.querySelector('[data-testid="chart"] svg polygon.band')`) {
		t.Error("the chart has no interval band")
	}
	// The figures: a table with a row per step.
	if n := testkit.Eval[int](tab, `[...document.querySelectorAll('[data-testid="tool-result"] table.data thead')].filter(h => /step/.test(h.textContent) && /value/.test(h.textContent)).length`); n == 0 {
		t.Error("no table of the forecast's steps and values")
	}
	tab.Screenshot("tool-run")

	// Recorded as a dashboard run.
	tab.Open("/tools")
	tab.WaitFor(testkit.TestID("execution-row"))
	if !testkit.Eval[bool](tab, `[...document.querySelectorAll('[data-testid="execution-row"]')].some(r =>
		r.textContent.includes("sales_forecaster") && r.textContent.includes("dashboard"))`) {
		t.Errorf("the recent runs show no dashboard run of sales_forecaster")
	}
	tab.Screenshot("tools")
}

// testToolsCatalogueAndHistory: a tool disabled from the catalogue shows
// as disabled and refuses calls until enabled again; the history filtered
// from its form keeps the filter in the URL, and a row opens the run's
// page with its figures. It has its own server: the other flows' tasks
// call every tool, and a disabled one would fail them.
func testToolsCatalogueAndHistory(t *testing.T, chrome *testkit.Chromium, _, _ *testkit.Server) {
	srv := testkit.StartServer(t)
	resp, body := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey,
		strings.NewReader(`{"tool_name":"sales_forecaster","parameters":{"series":[1,"x"]}}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a refused REST run: %d %s", resp.StatusCode, body)
	}
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)

	// A dashboard run, its series typed as a list.
	tab.Open("/tools/sales_forecaster")
	tab.Run(chromedp.WaitVisible(testkit.TestID("tool-form")), chromedp.SetValue(chromedp.CSS("#f-series"), "10, 12 14\n16 18 17"))
	if st := tab.Submit(testkit.TestID("tool-submit")); st != http.StatusOK {
		t.Fatalf("running the forecaster from a list: status %d, want 200", st)
	}
	tab.WaitFor(testkit.TestID("tool-result"))

	row := `[data-testid="tool-row"][data-tool="customer_segmenter"]`
	tab.Open("/tools")
	if st := tab.Submit(chromedp.CSS(row + ` [data-testid="tool-toggle"]`)); st != http.StatusOK {
		t.Fatalf("disabling customer_segmenter: status %d, want 200", st)
	}
	tab.WaitFor(chromedp.CSS(row + `[data-status="disabled"]`))
	if s := tab.Text(chromedp.CSS(row + ` [data-testid="tool-status"]`)); s != "disabled" {
		t.Errorf("the catalogue shows customer_segmenter as %q, want disabled", s)
	}
	if s := tab.Text(chromedp.CSS(row + ` [data-testid="tool-toggle"]`)); s != "Enable" {
		t.Errorf("the disabled tool's button says %q, want Enable", s)
	}
	segment := `{"tool_name":"customer_segmenter","parameters":{"customers":[{"customer_id":"c","last_purchase_date":"2026-01-02","frequency":1,"monetary":5}]}}`
	if resp, body := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(segment)); resp.StatusCode != http.StatusConflict {
		t.Errorf("a disabled tool over REST: %d %s, want 409", resp.StatusCode, body)
	}
	if st := tab.Submit(chromedp.CSS(row + ` [data-testid="tool-toggle"]`)); st != http.StatusOK {
		t.Fatalf("enabling customer_segmenter: status %d, want 200", st)
	}
	tab.WaitFor(chromedp.CSS(row + `[data-status="active"]`))
	if resp, body := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(segment)); resp.StatusCode != http.StatusOK {
		t.Errorf("an enabled tool over REST: %d %s, want 200", resp.StatusCode, body)
	}

	// The history, filtered from its form.
	if st := tab.Submit(testkit.TestID("executions-link")); st != http.StatusOK {
		t.Fatalf("opening the history: status %d", st)
	}
	tab.Run(
		chromedp.WaitVisible(testkit.TestID("execution-filter")),
		chromedp.SetValue(chromedp.CSS("#source"), "dashboard"),
		chromedp.SetValue(chromedp.CSS("#failed"), "no"),
	)
	if st := tab.Submit(testkit.TestID("execution-filter-submit")); st != http.StatusOK {
		t.Fatalf("filtering the history: status %d", st)
	}
	tab.WaitFor(testkit.TestID("execution-row"))
	if q, _ := url.ParseQuery(strings.TrimPrefix(testkit.Eval[string](tab, `location.search`), "?")); q.Get("source") != "dashboard" || q.Get("failed") != "no" {
		t.Errorf("the filter is not in the URL: %v", q)
	}
	if n := testkit.Eval[int](tab, `[...document.querySelectorAll('[data-testid="execution-row"]')].filter(r => r.dataset.source !== "dashboard" || r.dataset.status !== "completed").length`); n != 0 {
		t.Errorf("%d rows do not match the filter source=dashboard, failed=no", n)
	}
	tab.Screenshot("executions")
	if st := tab.Submit(testkit.TestID("execution-link")); st != http.StatusOK {
		t.Fatalf("opening a run: status %d", st)
	}
	if s := tab.Text(testkit.TestID("execution-tool")); s != "sales_forecaster" {
		t.Errorf("the run's page is of %q, want sales_forecaster", s)
	}
	if s := tab.Text(testkit.TestID("execution-source")); s != "dashboard" {
		t.Errorf("the run's source is %q, want dashboard", s)
	}
	if args := tab.Text(testkit.TestID("execution-arguments")); !strings.Contains(strings.Join(strings.Fields(args), ""), `"series":[10,12,14,16,18,17]`) {
		t.Errorf("the run's arguments %s do not hold the typed list as numbers", args)
	}
	tab.WaitFor(testkit.TestID("chart", " svg"))
	tab.Screenshot("execution")
}

// testPauseAcrossInstances: an agent paused in one browser changes its
// badge, without reload, in a second browser connected to the other
// instance; resumed, it changes back.
func testPauseAcrossInstances(t *testing.T, chrome *testkit.Chromium, srv, other *testkit.Server) {
	resp, body := srv.Do(t, http.MethodPost, "/api/v1/admin/agents", srv.AdminKey, strings.NewReader(`{"name":"Night shift","type":"analytics"}`))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create an agent: %d %s", resp.StatusCode, body)
	}
	var agent restAgent
	if err := json.Unmarshal(body, &agent); err != nil {
		t.Fatal(err)
	}
	card := func(status string) chromedp.CSS {
		return chromedp.CSS(`[data-testid="agent-card"][data-agent-id="` + agent.ID + `"][data-status="` + status + `"]`)
	}

	watcher := newTab(t, chrome, other.URL)
	watcher.SignIn(srv.AdminKey)
	openLive(t, watcher, "/agents?type=analytics")
	watcher.WaitFor(card("idle"))

	admin := newTab(t, chrome, srv.URL)
	admin.SignIn(srv.AdminKey)
	admin.Open("/agents/" + agent.ID)
	admin.Submit(testkit.TestID("agent-pause"))
	admin.WaitFor(testkit.TestID("agent-resume"))
	watcher.WaitFor(card("paused"))
	if b := watcher.Text(chromedp.CSS(string(card("paused")) + ` [data-testid="state"]`)); b != "paused" {
		t.Errorf("the badge reads %q, want paused", b)
	}
	admin.Submit(testkit.TestID("agent-resume"))
	watcher.WaitFor(card("idle"))
	assertSamePage(t, watcher)
}

// testTaskFromREST: a task created over REST appears on an open task list
// whose filter it matches, once; one that does not match stays off it.
func testTaskFromREST(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	openLive(t, tab, "/tasks?priority=high")

	low := createTaskREST(t, srv, map[string]any{"title": "Not for this list", "domain": "finance", "priority": "low",
		"input_data": map[string]any{"data": []map[string]any{{"period": "Q1", "revenue": 100, "costs": 75}}}})
	high := createTaskREST(t, srv, map[string]any{"title": "Board pack", "domain": "finance", "priority": "high",
		"input_data": map[string]any{"data": []map[string]any{{"period": "Q1", "revenue": 100, "costs": 75}}}})
	tab.WaitFor(taskRow(high))
	if title := tab.Text(taskRow(high, ` [data-testid="task-title"]`)); title != "Board pack" {
		t.Errorf("the new row's title is %q", title)
	}
	// It changes in place as it runs.
	tab.WaitFor(taskRow(high, `[data-status="completed"]`))
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-task-id="`+high+`"]').length`); n != 1 {
		t.Errorf("the task has %d rows, want 1", n)
	}
	if testkit.Eval[bool](tab, `!!document.querySelector('[data-task-id="`+low+`"]')`) {
		t.Error("a low-priority task appeared on the list of high-priority tasks")
	}
	assertSamePage(t, tab)
}

// testFiltersSurviveReload: the task list's filter goes into the URL when
// applied, and a reload (or the live snapshot) keeps it.
func testFiltersSurviveReload(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	id := createTaskREST(t, srv, map[string]any{"title": "Critical review", "domain": "finance", "priority": "critical",
		"input_data": map[string]any{"data": []map[string]any{{"period": "Q1", "revenue": 100, "costs": 75}}}})
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	waitTaskCompleted(t, tab, id)
	tab.Open("/tasks")
	tab.Run(
		chromedp.WaitVisible(testkit.TestID("task-filter")),
		chromedp.SetValue(chromedp.CSS("#status"), "completed"),
		chromedp.SetValue(chromedp.CSS("#domain"), "finance"),
		chromedp.SetValue(chromedp.CSS("#priority"), "critical"),
	)
	tab.Submit(testkit.TestID("task-filter", ` button[type="submit"]`))
	u, err := url.Parse(testkit.Value(tab, chromedp.Location()))
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("status") != "completed" || q.Get("domain") != "finance" || q.Get("priority") != "critical" {
		t.Fatalf("the filter is not in the URL: %s", u)
	}
	check := func(when string) {
		t.Helper()
		for sel, want := range map[string]string{"#status": "completed", "#domain": "finance", "#priority": "critical"} {
			if got := testkit.Eval[string](tab, `document.querySelector('`+sel+`').value`); got != want {
				t.Errorf("%s: %s shows %q, want %q", when, sel, got, want)
			}
		}
		tab.WaitFor(taskRow(id))
		statuses := testkit.Eval[[]string](tab, `[...document.querySelectorAll('[data-testid="task-row"]')].map(r => r.dataset.status)`)
		for _, s := range statuses {
			if s != "completed" {
				t.Errorf("%s: a %s task on the list of completed ones", when, s)
			}
		}
	}
	check("after filtering")
	tab.Run(chromedp.Reload())
	if now := testkit.Value(tab, chromedp.Location()); now != u.String() {
		t.Errorf("the reload moved from %s to %s", u, now)
	}
	check("after a reload")
	waitLive(t, tab)
	check("after the live snapshot")
}

// testHostileTask: a task whose title holds a script, an image with an
// onerror handler and a Markdown link to a javascript: URL (the title also
// heads its report) is shown as text on the list and its page; the report
// renders with no script run and no javascript: link, even after the live
// channel swaps the task's part in.
func testHostileTask(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	const title = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> [click me](javascript:window.__xss=3)`
	id := createTaskREST(t, srv, map[string]any{"title": title, "domain": "finance",
		"description": `[more](javascript:window.__xss=4) <script>window.__xss = 5</script>`,
		"input_data":  map[string]any{"data": []map[string]any{{"period": "Q1", "revenue": 100, "costs": 75}}}})
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	waitTaskCompleted(t, tab, id)

	inert := func(where string) {
		t.Helper()
		if v := testkit.Eval[string](tab, `String(window.__xss)`); v != "undefined" {
			t.Errorf("%s: a script in the task ran (window.__xss = %s)", where, v)
		}
		if n := testkit.Eval[int](tab, `[...document.querySelectorAll('[href]')].filter(a => /^\s*javascript:/i.test(a.getAttribute('href'))).length`); n != 0 {
			t.Errorf("%s: %d links to javascript: URLs", where, n)
		}
		if n := testkit.Eval[int](tab, `document.querySelectorAll('main script, main [onerror]').length`); n != 0 {
			t.Errorf("%s: %d script elements or event handlers in the page's content", where, n)
		}
	}

	openLive(t, tab, "/tasks?domain=finance")
	if got := tab.Text(taskRow(id, ` [data-testid="task-title"]`)); got != title {
		t.Errorf("the list shows the title as %q, want it as text", got)
	}
	inert("the task list")

	openLive(t, tab, "/tasks/"+id)
	if got := tab.Text(testkit.TestID("task-heading")); got != title {
		t.Errorf("the task page shows the title as %q, want it as text", got)
	}
	tab.WaitFor(testkit.TestID("task-report"))
	if rep := tab.Text(testkit.TestID("task-report")); !strings.Contains(rep, "click me") {
		t.Errorf("the report lost its text: %q", rep)
	}
	inert("the task page")

	if d := tab.Dialogs(); len(d) != 0 {
		t.Errorf("the page opened dialogs: %v", d)
	}
}

// testDelegation: a task that delegates parts to agents of other domains
// shows them on its page; the request and response messages between the
// agents appear live on the messages page, each linked to its task, and
// the overview, task list and agent pages show the work. It takes the
// pictures of those pages, with something in them.
func testDelegation(t *testing.T, chrome *testkit.Chromium, srv, _ *testkit.Server) {
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	openLive(t, tab, "/messages")
	id := createTaskREST(t, srv, map[string]any{"title": "Business outlook", "domain": "analytics", "priority": "high",
		"input_data": map[string]any{
			"rows": []map[string]any{{"month": 1, "sales": 10}, {"month": 2, "sales": 12}, {"month": 3, "sales": 15}},
			"delegate": []map[string]any{
				{"domain": "finance", "title": "Margins", "input_data": map[string]any{"data": []map[string]any{{"period": "Q1", "revenue": 100, "costs": 75}, {"period": "Q2", "revenue": 120, "costs": 84}}}},
				{"domain": "sales", "title": "Forecast", "input_data": map[string]any{"series": []float64{10, 12, 14, 16}, "horizon": 2}},
			}}})
	// Two requests out, two responses back, each on the task's page link.
	tab.WaitTrue(`document.querySelectorAll('[data-testid="message-row"][data-type="response"]').length >= 2`)
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="message-row"][data-type="request"]').length`); n < 2 {
		t.Errorf("%d request messages on the page, want the 2 parts asked for", n)
	}
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="message-row"] a[data-testid="message-task"][href="/tasks/`+id+`"]').length`); n < 2 {
		t.Errorf("%d messages link to the delegating task, want its 2 responses", n)
	}
	assertSamePage(t, tab)
	tab.Screenshot("messages")
	// The agent that asked is the responses' recipient. It is not always the
	// task's agent at the end: a parent gives its agent up while its parts
	// run, and any agent of its domain may write the report.
	asker := testkit.Eval[string](tab, `document.querySelector('[data-testid="message-row"][data-type="response"]:has(a[data-testid="message-task"][href="/tasks/`+id+`"]) td:nth-child(4) a').getAttribute('href')`)

	openLive(t, tab, "/tasks/"+id)
	tab.WaitFor(taskLive("completed"))
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="task-children"] li').length`); n != 2 {
		t.Errorf("the task page lists %d delegated parts, want 2", n)
	}
	openLive(t, tab, "/")
	tab.WaitFor(chromedp.CSS(`[data-testid="recent-tasks"] ` + string(taskRow(id, `[data-status="completed"]`))))
	tab.Screenshot("overview")
	if os.Getenv("BIZMCP_SCREENSHOTS") == "1" {
		// Pages the other flows test, opened here for their pictures only.
		openLive(t, tab, "/tasks")
		tab.WaitFor(taskRow(id))
		tab.Screenshot("tasks")
		openLive(t, tab, "/agents")
		tab.Screenshot("agents")
	}
	tab.Open(asker)
	tab.WaitFor(testkit.TestID("agent-message"))
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="agent-message"]').length`); n < 2 {
		t.Errorf("the asking agent's page (%s) shows %d messages, want its requests and responses", asker, n)
	}
	tab.Screenshot("agent")
}
