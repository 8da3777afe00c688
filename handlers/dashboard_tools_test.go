package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// A tool runs from the form generated from its input schema; the result
// shows as figures and, for a forecast, as a chart; the run is recorded as
// a dashboard run.
func TestDashboardRunToolFromSchemaForm(t *testing.T) {
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
	require.Equal(t, "textarea", goquery.NodeName(doc.Find("#f-series")), "an array is a JSON editor")
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
