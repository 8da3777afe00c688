package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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
