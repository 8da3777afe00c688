package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// A tool runs from the form generated from its input schema; the result
// shows as figures and, for a forecast, as a chart; the run is recorded as
// a dashboard run.
func TestDashboardToolsRunFromSchemaForm(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)

	resp, body := b.Get(t, "/tools")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.GreaterOrEqual(t, testkit.ByTestID(testkit.ParseHTML(t, body), "tool-row").Length(), 6)

	resp, body = b.Get(t, "/tools/sales_forecaster")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	require.Equal(t, "textarea", goquery.NodeName(doc.Find("#f-series")), "an array of numbers is a list field")
	require.Equal(t, "number", doc.Find("#f-series").AttrOr("data-list", ""))
	require.Equal(t, "10000", doc.Find("#f-series").AttrOr("data-max-items", ""))
	require.Equal(t, "1000", doc.Find("#f-horizon").AttrOr("max", ""), "the schema's limits are HTML attributes")
	require.Equal(t, "number", doc.Find("#f-horizon").AttrOr("type", ""))
	require.Equal(t, 1, doc.Find(`select#f-confidence option[value="0.9"]`).Length(), "an enum is a select")
	require.Equal(t, 1, doc.Find(`label[for="f-series"]`).Length())

	resp, body = b.PostForm(t, "/tools/sales_forecaster", url.Values{"csrf_token": {tok}, "series": {"[10, 12, 14, 16, 18, 17, 19]"}, "horizon": {"3"}, "confidence": {"0.9"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	doc = testkit.ParseHTML(t, body)
	result := testkit.ByTestID(doc, "tool-result")
	require.Equal(t, 1, result.Length())
	require.Equal(t, 1, testkit.ByTestID(result, "chart").Find("svg").Length())
	require.NotEmpty(t, testkit.ByTestID(result, "chart-forecast").AttrOr("points", ""))
	require.Positive(t, result.Find("table.data").Length(), "figures as tables")
	require.Equal(t, "[10, 12, 14, 16, 18, 17, 19]", doc.Find("#f-series").Text(), "the input is kept")

	// Mistakes: by field before running, and the tool's own refusal.
	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"series": {"[1, 2,"}}, "series"},
		{url.Values{"series": {"[1,2,3]"}, "horizon": {"three"}}, "horizon"},
		{url.Values{"horizon": {"3"}}, "series"},
	} {
		tc.form.Set("csrf_token", tok)
		resp, body := b.PostForm(t, "/tools/sales_forecaster", tc.form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
		require.NotEmpty(t, testkit.ByTestID(testkit.ParseHTML(t, body), "error-"+tc.field).Text(), tc.field)
	}
	resp, body = b.PostForm(t, "/tools/sales_forecaster", url.Values{"csrf_token": {tok}, "series": {"[1]"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
	require.NotEmpty(t, testkit.ByTestID(testkit.ParseHTML(t, body), "form-error").Text())
	resp, _ = b.Get(t, "/tools/no_such_tool")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, body = srv.Do(t, http.MethodGet, "/api/v1/tools/executions?source=dashboard", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `"source":"dashboard"`)
	resp, body = b.Get(t, "/tools")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Positive(t, testkit.ByTestID(testkit.ParseHTML(t, body), "execution-row").Length())
}

// toolRow is the catalogue row of a tool.
func toolRow(t *testing.T, b *testkit.FormClient, name string) *goquery.Selection {
	t.Helper()
	resp, body := b.Get(t, "/tools")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	row := testkit.ParseHTML(t, body).Find(`[data-testid="tool-row"][data-tool="` + name + `"]`)
	require.Equal(t, 1, row.Length(), name)
	return row
}

// A tool disabled from the catalogue refuses runs from every surface until
// it is enabled again; a forged form changes nothing.
func TestDashboardToolsDisableEnable(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)

	row := toolRow(t, b, "report_generator")
	require.Equal(t, "active", row.AttrOr("data-status", ""))
	require.Equal(t, "reporting", strings.TrimSpace(testkit.ByTestID(row, "tool-category").Text()))
	require.Equal(t, "read", strings.TrimSpace(testkit.ByTestID(row, "tool-scope").Text()))
	require.Equal(t, 1, testkit.ByTestID(row, "tool-runs").Find("a[href]").Length(), "runs link to the tool's history")
	require.Equal(t, 1, testkit.ByTestID(row, "tool-p50").Length())
	require.Equal(t, "Disable", strings.TrimSpace(testkit.ByTestID(row, "tool-toggle").Text()))
	require.Equal(t, "disabled", row.Find(`input[name="status"]`).AttrOr("value", ""))

	// Forged: no CSRF token.
	resp, _ := b.PostForm(t, "/tools/report_generator/status", url.Values{"status": {"disabled"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "active", toolRow(t, b, "report_generator").AttrOr("data-status", ""), "a forged form changes nothing")

	resp, body := b.PostForm(t, "/tools/report_generator/status", url.Values{"csrf_token": {tok}, "status": {"disabled"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	require.Equal(t, "/tools", resp.Header.Get("Location"))
	row = toolRow(t, b, "report_generator")
	require.Equal(t, "disabled", row.AttrOr("data-status", ""))
	require.Equal(t, "disabled", strings.TrimSpace(testkit.ByTestID(row, "tool-status").Text()))
	require.Equal(t, "Enable", strings.TrimSpace(testkit.ByTestID(row, "tool-toggle").Text()))

	args := map[string]any{"title": "t", "sections": []map[string]any{{"heading": "h", "content": "c"}}}
	rest := `{"tool_name":"report_generator","parameters":{"title":"t","sections":[{"heading":"h","content":"c"}]}}`
	resp, body = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(rest))
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(body))
	require.Contains(t, string(body), "disabled")
	res := callTool(t, testkit.MCPClient(t, srv, srv.AdminKey, nil), "report_generator", args)
	require.True(t, res.IsError)
	require.Contains(t, text(res), "disabled")
	resp, body = b.PostForm(t, "/tools/report_generator", url.Values{"csrf_token": {tok}, "title": {"t"}})
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(body))
	require.Contains(t, testkit.ByTestID(testkit.ParseHTML(t, body), "form-error").Text(), "disabled")

	// Refused values.
	resp, _ = b.PostForm(t, "/tools/report_generator/status", url.Values{"csrf_token": {tok}, "status": {"broken"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = b.PostForm(t, "/tools/no_such_tool/status", url.Values{"csrf_token": {tok}, "status": {"active"}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, body = b.PostForm(t, "/tools/report_generator/status", url.Values{"csrf_token": {tok}, "status": {"active"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	require.Equal(t, "active", toolRow(t, b, "report_generator").AttrOr("data-status", ""))
	resp, body = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(rest))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

// executionRows are the rows of a history page, which must answer 200.
func executionRows(t *testing.T, b *testkit.FormClient, path string) (*goquery.Document, *goquery.Selection) {
	t.Helper()
	resp, body := b.Get(t, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	doc := testkit.ParseHTML(t, body)
	return doc, testkit.ByTestID(doc, "execution-row")
}

// The history filters by tool, source and outcome with the filter in the
// URL; each run has its page with its arguments and result.
func TestDashboardToolsHistoryAndDetail(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)

	// Runs from every source: REST (one refused for its arguments), MCP,
	// the dashboard, and an agent working a task.
	for _, body := range []string{
		`{"tool_name":"data_analyzer","parameters":{"rows":[{"v":1},{"v":2},{"v":3}]}}`,
		`{"tool_name":"sales_forecaster","parameters":{"series":[1,"x"]}}`,
	} {
		resp, b := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(body))
		require.Less(t, resp.StatusCode, 500, string(b))
	}
	res := callTool(t, testkit.MCPClient(t, srv, srv.AdminKey, nil), "data_analyzer", map[string]any{"csv": "a,b\n1,2\n3,5\n"})
	require.False(t, res.IsError, text(res))
	resp, body := b.PostForm(t, "/tools/sales_forecaster", url.Values{"csrf_token": {tok}, "series": {"10 12 14 16 18 17 19"}, "horizon": {"2"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	resp, body = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey,
		strings.NewReader(`{"title":"history","domain":"sales","input_data":{"series":[1,2,3,4,5]}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	var task struct {
		ID string `json:"task_id"`
	}
	require.NoError(t, json.Unmarshal(body, &task))

	// The catalogue links to the history.
	resp, body = b.Get(t, "/tools")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/tools/executions", testkit.ByTestID(testkit.ParseHTML(t, body), "executions-link").AttrOr("href", ""))

	attrs := func(rows *goquery.Selection, name string) []string {
		var out []string
		rows.Each(func(_ int, r *goquery.Selection) { out = append(out, r.AttrOr(name, "")) })
		return out
	}
	_, rows := executionRows(t, b, "/tools/executions?source=rest")
	require.ElementsMatch(t, []string{"rest", "rest"}, attrs(rows, "data-source"))
	doc, rows := executionRows(t, b, "/tools/executions?source=rest&failed=yes")
	require.Equal(t, []string{"failed"}, attrs(rows, "data-status"))
	require.Equal(t, []string{"sales_forecaster"}, attrs(rows, "data-tool"))
	require.Equal(t, "rest", doc.Find(`select#source option[selected]`).AttrOr("value", ""), "the filter form shows the filter")
	require.Equal(t, "yes", doc.Find(`select#failed option[selected]`).AttrOr("value", ""))
	failedID := rows.AttrOr("data-execution-id", "")
	_, rows = executionRows(t, b, "/tools/executions?source=mcp")
	require.Equal(t, []string{"data_analyzer"}, attrs(rows, "data-tool"))
	_, rows = executionRows(t, b, "/tools/executions?tool=sales_forecaster&source=dashboard&failed=no")
	require.Equal(t, []string{"completed"}, attrs(rows, "data-status"))
	require.Regexp(t, `^(\d+|< 1) ms$`, strings.TrimSpace(testkit.ByTestID(rows, "execution-duration").Text()), "timings shown")
	dashID := rows.AttrOr("data-execution-id", "")
	require.Equal(t, "/tools/executions/"+dashID, testkit.ByTestID(rows, "execution-link").AttrOr("href", ""))
	_, rows = executionRows(t, b, "/tools/executions?failed=no")
	for _, st := range attrs(rows, "data-status") {
		require.Equal(t, "completed", st)
	}

	// Paging keeps the filter.
	doc, rows = executionRows(t, b, "/tools/executions?failed=no")
	require.Positive(t, rows.Length())
	if next := testkit.ByTestID(doc, "next-page").AttrOr("href", ""); next != "" {
		require.Contains(t, next, "failed=no")
	}

	// Bad filters are a 400 page that says what is wrong.
	for path, want := range map[string]string{
		"/tools/executions?source=ftp":   "source",
		"/tools/executions?failed=maybe": "failed",
		"/tools/executions?tool=nope":    "tool",
		"/tools/executions?tool=%FF%00":  "tool",
		"/tools/executions?cursor=zzz":   "cursor",
		"/tools/executions/not-a-uuid":   "id",
		"/tools/executions/%00":          "id",
	} {
		resp, body := b.Get(t, path)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", path, body)
		require.Contains(t, testkit.ByTestID(testkit.ParseHTML(t, body), "error-detail").Text(), want, path)
	}
	resp, body = b.Get(t, "/tools/executions/01234567-89ab-7def-8123-456789abcdef")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, string(body))
	require.NotEmpty(t, testkit.ByTestID(testkit.ParseHTML(t, body), "error-detail").Text())

	// A dashboard run's page: who, how, the arguments and the figures.
	resp, body = b.Get(t, "/tools/executions/"+dashID)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	doc = testkit.ParseHTML(t, body)
	require.Equal(t, "sales_forecaster", testkit.ByTestID(doc, "execution-tool").Text())
	require.Equal(t, "dashboard", testkit.ByTestID(doc, "execution-source").Text())
	require.Equal(t, "completed", testkit.ByTestID(doc, "execution-facts").AttrOr("data-status", ""))
	require.Regexp(t, `^(\d+|< 1) ms$`, strings.TrimSpace(testkit.ByTestID(doc, "execution-time").Text()))
	require.Contains(t, testkit.ByTestID(doc, "execution-key").Text(), "admin", "the key that ran it, by name")
	var params map[string]any
	require.NoError(t, json.Unmarshal([]byte(testkit.ByTestID(doc, "execution-arguments").Text()), &params))
	require.Equal(t, []any{10.0, 12.0, 14.0, 16.0, 18.0, 17.0, 19.0}, params["series"], "the list field became numbers")
	result := testkit.ByTestID(doc, "tool-result")
	require.Equal(t, 1, testkit.ByTestID(result, "chart").Find("svg").Length(), "a forecast as a chart")
	require.Positive(t, result.Find("table.data").Length(), "figures as tables")
	require.Zero(t, testkit.ByTestID(doc, "execution-task").Length())

	// A refused run's page shows the error and no result.
	resp, body = b.Get(t, "/tools/executions/"+failedID)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	doc = testkit.ParseHTML(t, body)
	require.Contains(t, testkit.ByTestID(doc, "execution-error").Text(), "series")
	require.Equal(t, "failed", testkit.ByTestID(doc, "execution-facts").AttrOr("data-status", ""))
	require.Zero(t, testkit.ByTestID(doc, "tool-result").Length())

	// An agent's run links to its task.
	var agentRun string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, body := b.Get(t, "/tools/executions?source=agent")
		if !assert.Equal(c, http.StatusOK, resp.StatusCode) {
			return
		}
		agentRun = testkit.ByTestID(testkit.ParseHTML(t, body), "execution-row").AttrOr("data-execution-id", "")
		assert.NotEmpty(c, agentRun, "the task's tool call is recorded")
	}, 30*time.Second, 50*time.Millisecond)
	resp, body = b.Get(t, "/tools/executions/"+agentRun)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	doc = testkit.ParseHTML(t, body)
	require.Equal(t, "agent", testkit.ByTestID(doc, "execution-source").Text())
	require.Equal(t, "/tasks/"+task.ID, testkit.ByTestID(doc, "execution-task").AttrOr("href", ""))
	require.NotEmpty(t, testkit.ByTestID(doc, "execution-agent").AttrOr("href", ""))
}

// List fields take numbers separated by commas, spaces or lines; records
// fields take JSON or a CSV paste; mistakes are named under their field.
func TestDashboardToolsFormConversions(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)

	// The fields and their help.
	resp, body := b.Get(t, "/tools/financial_analyzer")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	require.Equal(t, "records", doc.Find("#f-data").AttrOr("data-kind", ""))
	hint := testkit.ByTestID(doc, "hint-data").Text()
	require.Contains(t, hint, "Periods oldest first", "the schema's description")
	require.Contains(t, hint, "CSV")
	require.Contains(t, hint, "period, revenue, costs")
	require.Contains(t, doc.Find("#f-data").AttrOr("aria-describedby", ""), "data-hint")
	resp, body = b.Get(t, "/tools/report_generator")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "300", testkit.ParseHTML(t, body).Find("#f-title").AttrOr("maxlength", ""))
	resp, body = b.Get(t, "/tools/data_analyzer")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc = testkit.ParseHTML(t, body)
	require.Equal(t, "records", doc.Find("#f-rows").AttrOr("data-kind", ""), "open rows are records too")
	require.Equal(t, "string", doc.Find("#f-columns").AttrOr("data-list", ""), "an array of strings is a list")

	run := func(tool string, form url.Values) (int, *goquery.Document) {
		t.Helper()
		form.Set("csrf_token", tok)
		resp, body := b.PostForm(t, "/tools/"+tool, form)
		require.Less(t, resp.StatusCode, 500, string(body))
		return resp.StatusCode, testkit.ParseHTML(t, body)
	}
	arguments := func(doc *goquery.Document) map[string]any {
		t.Helper()
		require.Equal(t, 1, testkit.ByTestID(doc, "tool-result").Length())
		href := testkit.ByTestID(doc, "tool-result-link").AttrOr("href", "")
		require.NotEmpty(t, href)
		_, page := executionRowsDoc(t, b, href)
		var args map[string]any
		require.NoError(t, json.Unmarshal([]byte(testkit.ByTestID(page, "execution-arguments").Text()), &args))
		return args
	}

	st, doc := run("sales_forecaster", url.Values{"series": {"10, 12 14\n16;18\r\n17  19,"}})
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, []any{10.0, 12.0, 14.0, 16.0, 18.0, 17.0, 19.0}, arguments(doc)["series"])

	st, doc = run("financial_analyzer", url.Values{"data": {"period, revenue, costs\n2024-Q1,100,80\n\"2024-Q2\", 120.5 ,90\n"}})
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, []any{
		map[string]any{"period": "2024-Q1", "revenue": 100.0, "costs": 80.0},
		map[string]any{"period": "2024-Q2", "revenue": 120.5, "costs": 90.0},
	}, arguments(doc)["data"])

	st, doc = run("customer_segmenter", url.Values{"customers": {"customer_id,last_purchase_date,frequency,monetary\n007,2024-01-05,3,120.5\nc2,2024-02-01,1,40\n"}})
	require.Equal(t, http.StatusOK, st)
	customers := arguments(doc)["customers"].([]any)
	require.Equal(t, map[string]any{"customer_id": "007", "last_purchase_date": "2024-01-05", "frequency": 3.0, "monetary": 120.5}, customers[0],
		"a string column keeps 007; an integer column is a number")

	st, doc = run("data_analyzer", url.Values{"rows": {"region,sales,ok\nnorth,10,true\nsouth,,false\n"}, "columns": {"sales\nregion"}})
	require.Equal(t, http.StatusOK, st)
	args := arguments(doc)
	require.Equal(t, []any{map[string]any{"region": "north", "sales": 10.0, "ok": true}, map[string]any{"region": "south", "ok": false}}, args["rows"])
	require.Equal(t, []any{"sales", "region"}, args["columns"])

	st, doc = run("financial_analyzer", url.Values{"data": {`[{"period":"Q1","revenue":1,"costs":1}]`}})
	require.Equal(t, http.StatusOK, st, "JSON still works")

	for _, tc := range []struct {
		name, tool, field, value, want string
	}{
		{"bad number", "sales_forecaster", "series", "10, twelve, 14", `item 2, "twelve", is not a number`},
		{"infinite number", "sales_forecaster", "series", "1, 1e999", "item 2"},
		{"NaN", "sales_forecaster", "series", "1, NaN", "item 2"},
		{"broken JSON list", "sales_forecaster", "series", "[1, 2,", "not valid JSON"},
		{"too many items", "sales_forecaster", "series", strings.Repeat("1,", 10_001), "at most 10000"},
		{"only separators", "sales_forecaster", "series", ", ,\n", "no items"},
		{"NUL", "sales_forecaster", "series", "1,\x002", "NUL"},
		{"invalid UTF-8", "sales_forecaster", "series", "1,\xff\xfe", "UTF-8"},
		{"ragged row", "financial_analyzer", "data", "period,revenue,costs\nQ1,100\n", "line 2 has 2 cells but the header row has 3"},
		{"long row", "financial_analyzer", "data", "period,revenue,costs\nQ1,100,1,2\n", "line 2 has 4 cells"},
		{"text in a number column", "financial_analyzer", "data", "period,revenue,costs\nQ1,lots,80\n", `line 2, column revenue: "lots" is not a number`},
		{"unknown column", "financial_analyzer", "data", "period,revenue,costs,mood\nQ1,1,1,ok\n", `"mood" is not one of period, revenue, costs`},
		{"duplicate column", "financial_analyzer", "data", "period,period\nQ1,Q2\n", "twice"},
		{"empty header cell", "financial_analyzer", "data", "period,,costs\nQ1,1,1\n", "column 2 of the header row has no name"},
		{"header only", "financial_analyzer", "data", "period,revenue,costs\n", "no records"},
		{"bare quote", "financial_analyzer", "data", "period,revenue,costs\nQ\"1,1,1\n", "cannot be read at line 2"},
		{"fraction in an integer column", "customer_segmenter", "customers", "customer_id,last_purchase_date,frequency,monetary\nc1,2024-01-05,2.5,1\n", "is not a whole number"},
		{"broken JSON records", "financial_analyzer", "data", `[{"period":`, "not valid JSON"},
		{"huge paste", "financial_analyzer", "data", "period,revenue,costs\n" + strings.Repeat("Q,1,1\n", 10_001), "at most 10000 records"},
	} {
		st, doc := run(tc.tool, url.Values{tc.field: {tc.value}})
		require.Equal(t, http.StatusUnprocessableEntity, st, tc.name)
		require.Contains(t, testkit.ByTestID(doc, "error-"+tc.field).Text(), tc.want, tc.name)
		require.Zero(t, testkit.ByTestID(doc, "tool-result").Length(), tc.name)
	}
	// A missing required column is the tool's own refusal, shown on the form.
	st, doc = run("financial_analyzer", url.Values{"data": {"period,revenue\nQ1,1\n"}})
	require.Equal(t, http.StatusUnprocessableEntity, st)
	require.NotEmpty(t, testkit.ByTestID(doc, "form-error").Text())
}

// executionRowsDoc gets a page that must answer 200.
func executionRowsDoc(t *testing.T, b *testkit.FormClient, path string) (*http.Response, *goquery.Document) {
	t.Helper()
	resp, body := b.Get(t, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	return resp, testkit.ParseHTML(t, body)
}
