package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

// A task created from the form runs to completed while its page watches
// live; its output is shown for a person, and hostile text stays inert.
func TestDashboardTaskFromFormToCompleted(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)

	// The form starts from the domain's example input, and switching the
	// domain swaps it.
	resp, body := b.Get(t, "/tasks/new?domain=sales")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	input := testkit.ByTestID(testkit.ParseHTML(t, body), "task-input").Text()
	require.JSONEq(t, string(orchestrator.ExampleInput("sales")), input)
	resp, body = b.Get(t, "/tasks/example?domain=finance", "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, string(orchestrator.ExampleInput("finance")), testkit.ByTestID(testkit.ParseHTML(t, body), "task-input").Text())

	list, _, _ := dialLive(t, srv, b, "page=tasks")
	list.await(t, `id="task-rows"`)

	title := `<script>alert(1)</script> [click](javascript:alert(1))`
	resp, body = b.PostForm(t, "/tasks", url.Values{
		"csrf_token": {tok}, "title": {title}, "domain": {"finance"}, "priority": {"high"},
		"input": {string(orchestrator.ExampleInput("finance"))},
	})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	taskURL := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(taskURL, "/tasks/"), taskURL)
	id := strings.TrimPrefix(taskURL, "/tasks/")

	// The open list gets the new task at the top.
	list.await(t, `afterbegin:#task-rows`, `data-task-id="`+id+`"`)

	live, _, _ := dialLive(t, srv, b, "page=task&id="+id)
	// The task may have finished before the page connected (a finance
	// plan takes milliseconds): then the snapshot shows it completed, else
	// a later fragment does.
	done := live.await(t, `id="task-live"`, `data-status="completed"`)
	require.Contains(t, done, `data-value="100"`)
	require.Contains(t, done, `data-testid="task-agent"`, "the agent that took the task is shown with it")

	resp, body = b.Get(t, taskURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	require.Equal(t, title, testkit.ByTestID(doc, "task-heading").Text())
	require.Equal(t, "completed", testkit.ByTestID(doc, "task-live").AttrOr("data-status", ""))
	require.Equal(t, "100", testkit.ByTestID(doc, "task-progress").AttrOr("aria-valuenow", ""))
	require.Regexp(t, `; created \S.* and finished \S`, strings.Join(strings.Fields(testkit.ByTestID(doc, "task-usage").Text()), " "))
	require.NotEmpty(t, testkit.ByTestID(doc, "task-agent").AttrOr("href", ""))
	require.Positive(t, testkit.ByTestID(doc, "task-figures").Find("table").Length(), "figures as tables")
	report := testkit.ByTestID(doc, "task-report")
	require.Positive(t, report.Find("h1, h2").Length(), "the Markdown report rendered")
	require.Zero(t, doc.Find("main script").Length(), "no script from the title or report")
	doc.Find("main a[href]").Each(func(_ int, a *goquery.Selection) {
		require.NotContains(t, strings.ToLower(a.AttrOr("href", "")), "javascript:")
	})
	var types []string
	testkit.ByTestID(doc, "timeline-entry").Each(func(_ int, e *goquery.Selection) { types = append(types, e.AttrOr("data-type", "")) })
	require.Contains(t, types, "tool_call")
	require.Equal(t, "completed", types[len(types)-1])

	// A finished task cannot be cancelled: the refusal is explained in the
	// page (htmx: in the notice area).
	resp, body = b.PostForm(t, taskURL+"/cancel", url.Values{}, "X-CSRF-Token", tok, "HX-Request", "true")
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(body))
	require.Equal(t, "#flash", resp.Header.Get("HX-Retarget"))
	require.NotEmpty(t, testkit.ByTestID(testkit.ParseHTML(t, body), "flash-error").Text())
}

func TestDashboardTaskListFiltersAndBadInput(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)

	// A filter lives in the URL and in the page's live channel.
	resp, body := b.Get(t, "/tasks?status=failed&domain=sales")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	ws := testkit.ByTestID(doc, "live").AttrOr("ws-connect", "")
	require.Contains(t, ws, "status=failed")
	require.Contains(t, ws, "domain=sales")
	require.Equal(t, "failed", doc.Find(`select#status option[selected]`).AttrOr("value", ""))
	for _, path := range []string{"/tasks?status=done", "/tasks?agent=nope", "/tasks?cursor=zzz", "/tasks/nope", "/tasks/example?domain=space"} {
		resp, _ := b.Get(t, path)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, path)
	}
	resp, _ = b.Get(t, "/tasks/01234567-89ab-7def-8123-456789abcdef")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"bad JSON", url.Values{"title": {"x"}, "domain": {"sales"}, "input": {`{"series": [1,2,`}}, "input"},
		{"unknown domain", url.Values{"title": {"x"}, "domain": {"space"}, "input": {"{}"}}, "domain"},
		{"timeout overflow", url.Values{"title": {"x"}, "domain": {"sales"}, "timeout": {"18446744075"}, "input": {"{}"}}, "timeout"},
		{"empty title", url.Values{"title": {" "}, "domain": {"sales"}, "input": {"{}"}}, "title"},
		{"NUL in title", url.Values{"title": {"a\x00b"}, "domain": {"sales"}, "input": {"{}"}}, "title"},
	} {
		tc.form.Set("csrf_token", tok)
		resp, body := b.PostForm(t, "/tasks", tc.form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%s: %s", tc.name, body)
		doc := testkit.ParseHTML(t, body)
		msg := testkit.ByTestID(doc, "error-"+tc.field).Text() + testkit.ByTestID(doc, "form-error").Text()
		require.NotEmpty(t, msg, tc.name)
	}
	_, list := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks", srv.AdminKey, nil)
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal(list, &page))
	require.Empty(t, page.Items, "nothing stored from a refused form")

	// Bulk cancel: the ticked tasks are cancelled in one action; those that
	// finished meanwhile are skipped, not an error.
	var ids []string
	for range 3 {
		resp, body := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey,
			strings.NewReader(`{"title":"bulk","domain":"sales","input_data":{"series":[1,2,3,4,5]}}`))
		require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
		var created struct {
			ID string `json:"task_id"`
		}
		require.NoError(t, json.Unmarshal(body, &created))
		require.NotEmpty(t, created.ID, string(body))
		ids = append(ids, created.ID)
	}
	resp, body = b.PostForm(t, "/tasks/cancel", url.Values{"csrf_token": {tok}, "ids": ids})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	for _, id := range ids {
		_, body := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+id, srv.AdminKey, nil)
		var task struct {
			Status string `json:"status"`
		}
		require.NoError(t, json.Unmarshal(body, &task))
		require.Contains(t, []string{"cancelled", "completed"}, task.Status, "cancelled, or finished before the cancel")
	}
	resp, body = b.PostForm(t, "/tasks/cancel", url.Values{"csrf_token": {tok}, "ids": {"not-an-id"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
	resp, _ = b.PostForm(t, "/tasks/cancel", url.Values{"ids": ids})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
}
