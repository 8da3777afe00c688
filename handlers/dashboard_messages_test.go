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

// The messages page filtered by agent: the filter is in the URL, the list
// and its live channel (snapshot and new messages) show only the messages
// that agent sent or received, and a bad agent id is a 400.
func TestDashboardMessagesByAgent(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	agentID := func(typ string) string {
		t.Helper()
		resp, body := srv.Do(t, http.MethodGet, "/api/v1/admin/agents?type="+typ, srv.AdminKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(body, &page))
		require.NotEmpty(t, page.Items)
		return page.Items[0].ID
	}
	send := func(agent, note string) string {
		t.Helper()
		resp, body := srv.Do(t, http.MethodPost, "/api/v1/admin/agents/"+agent+"/messages", srv.AdminKey,
			strings.NewReader(`{"type":"notification","payload":{"note":"`+note+`"}}`))
		require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
		var m struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(body, &m))
		require.NotEmpty(t, m.ID, string(body))
		return m.ID
	}
	sales, finance := agentID("sales"), agentID("finance")
	toSales, toFinance := send(sales, "for sales"), send(finance, "for finance")

	resp, body := b.Get(t, "/messages?agent="+sales)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	rows := testkit.ByTestID(doc, "message-row")
	require.Equal(t, 1, rows.Length())
	require.Equal(t, "message-"+toSales, rows.AttrOr("id", ""))
	require.Equal(t, sales, testkit.ByTestID(doc, "message-agent").Find("option[selected]").AttrOr("value", ""))
	// The live channel subscribes to the same filter.
	require.Contains(t, testkit.ByTestID(doc, "live").AttrOr("ws-connect", ""), "agent="+sales)
	// Without the filter, both.
	resp, body = b.Get(t, "/messages")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, testkit.ByTestID(testkit.ParseHTML(t, body), "message-row").Length())

	live, resp, body := dialLive(t, srv, b, "page=messages&agent="+sales)
	require.NotNil(t, live, "status %d: %s", resp.StatusCode, body)
	snap := live.await(t, `id="message-rows"`)
	require.Contains(t, snap, "message-"+toSales)
	require.NotContains(t, snap, "message-"+toFinance)
	// A message to another agent does not reach the page; the next one to
	// this agent does (in order: the other would have come first).
	other := send(finance, "for finance again")
	mine := send(sales, "for sales again")
	for {
		m := live.await(t, `afterbegin:#message-rows`)
		require.NotContains(t, m, "message-"+other, "a message to another agent reached a page filtered by agent")
		if strings.Contains(m, "message-"+mine) {
			break
		}
	}

	for _, q := range []string{"agent=not-an-id", "agent=" + sales + "&type=gossip"} {
		resp, _ = b.Get(t, "/messages?"+q)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
	live2, resp, _ := dialLive(t, srv, b, "page=messages&agent=not-an-id")
	require.Nil(t, live2)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
