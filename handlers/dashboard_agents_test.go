package handlers_test

import (
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

// Agents from the browser: create with the API's rules, pause in one
// browser and see the card change on another instance's overview, delete.
func TestDashboardAgents(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	other := srv.StartInstance(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)
	watcher := other.NewFormClient(t)
	watcher.SignIn(t, srv.AdminKey)

	resp, body := b.Get(t, "/agents")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 6, testkit.ByTestID(testkit.ParseHTML(t, body), "agent-card").Length(), "one seeded agent per domain")
	resp, body = b.Get(t, "/agents/capabilities?type=sales", "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, testkit.ParseHTML(t, body).Find(`input[value="sales_forecaster"]`).Length())

	resp, body = b.PostForm(t, "/agents", url.Values{"csrf_token": {tok}, "name": {"x"}, "type": {"astrology"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
	doc := testkit.ParseHTML(t, body)
	require.NotEmpty(t, testkit.ByTestID(doc, "form-error").Text()+testkit.ByTestID(doc, "error-type").Text())

	resp, body = b.PostForm(t, "/agents", url.Values{"csrf_token": {tok}, "name": {"<b>Forecaster</b>"}, "type": {"sales"}, "capabilities": {"sales_forecaster"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	agentURL := resp.Header.Get("Location")
	id := strings.TrimPrefix(agentURL, "/agents/")
	resp, body = b.Get(t, agentURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "<b>Forecaster</b>", testkit.ByTestID(testkit.ParseHTML(t, body), "agent-heading").Text())

	overview, _, _ := dialLive(t, other, watcher, "page=overview")
	overview.await(t, `id="agent-grid"`, `id="task-rows"`)

	resp, body = b.PostForm(t, "/agents/"+id+"/status", url.Values{"csrf_token": {tok}, "status": {"paused"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	overview.await(t, `id="agent-`+id+`"`, `data-status="paused"`)
	resp, _ = b.PostForm(t, "/agents/"+id+"/status", url.Values{"csrf_token": {tok}, "status": {"busy"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = b.PostForm(t, "/agents/"+id+"/status", url.Values{"csrf_token": {tok}, "status": {"idle"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	overview.await(t, `id="agent-`+id+`"`, `data-status="idle"`)

	resp, _ = b.PostForm(t, "/agents/"+id+"/delete", url.Values{"csrf_token": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = b.Get(t, agentURL)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	for _, path := range []string{"/agents?type=astrology", "/agents?status=asleep", "/agents/not-an-id"} {
		resp, _ := b.Get(t, path)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, path)
	}
}

// The overview's counts and charts come from the cached aggregates, which a
// finished task nudges.
func TestDashboardOverviewStats(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	resp, body := b.Get(t, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	require.Equal(t, "0", testkit.ByTestID(doc, "tasks-completed").Text())
	require.Equal(t, "6", testkit.ByTestID(doc, "agents-idle").Text())
	require.Contains(t, testkit.ByTestID(doc, "latency-chart").Text(), "No tool runs")
	require.Equal(t, 1, testkit.ByTestID(doc, "overview-stats").Find(`[data-testid="chart-completed"]`).Length())

	resp, body = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey,
		strings.NewReader(`{"title":"count me","domain":"sales","input_data":{"series":[1,2,3,4,5]}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := b.Client.Get(srv.URL + "/")
		if !assert.NoError(c, err) {
			return
		}
		defer resp.Body.Close()
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		if !assert.NoError(c, err) {
			return
		}
		assert.Equal(c, "1", testkit.ByTestID(doc, "tasks-completed").Text())
		assert.Positive(c, testkit.ByTestID(doc, "latency-chart").Find("rect.p95").Length(), "a bar for each tool that ran")
	}, 30*time.Second, 250*time.Millisecond)
}
