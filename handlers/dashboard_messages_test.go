package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// A message sent over REST appears on an open messages page; filters are
// checked.
func TestDashboardMessagesLive(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	resp, body := srv.Do(t, http.MethodGet, "/api/v1/admin/agents?type=sales", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var agentsPage struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(body, &agentsPage))
	require.NotEmpty(t, agentsPage.Items)
	sales := agentsPage.Items[0]

	live, resp, body := dialLive(t, srv, b, "page=messages")
	require.NotNil(t, live, "status %d: %s", resp.StatusCode, body)
	live.await(t, `id="message-rows"`)
	resp, body = srv.Do(t, http.MethodPost, "/api/v1/admin/agents/"+sales.ID+"/messages", srv.AdminKey,
		strings.NewReader(`{"type":"notification","payload":{"note":"<script>alert(1)</script>"}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	msg := live.await(t, `afterbegin:#message-rows`, `data-type="notification"`)
	require.Contains(t, msg, sales.Name)
	require.NotContains(t, msg, "<script>")

	resp, body = b.Get(t, "/messages?type=notification")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, testkit.ByTestID(testkit.ParseHTML(t, body), "message-row").Length())
	resp, _ = b.Get(t, "/messages?type=gossip")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
