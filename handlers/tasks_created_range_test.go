package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// The created from/to filter of the task list, over REST and on the
// dashboard: dates include their whole day (UTC), times their instant,
// and a bad or empty range is a 400 that says what to send.
func TestTaskListCreatedRange(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	ids := map[string]string{}
	for name, at := range map[string]string{
		"nov01": "2026-11-01T10:00:00Z",
		"nov15": "2026-11-15T23:59:59Z",
		"nov16": "2026-11-16T00:00:00Z",
	} {
		ids[name] = postTask(t, srv, `{"title":"Margins `+name+`","domain":"finance","input_data":{"data":[{"period":"Q1","revenue":100,"costs":75}]}}`)
		_, err := dbConn(t, srv).Exec(context.Background(), "UPDATE agents.tasks SET created_at = $2 WHERE id = $1", ids[name], at)
		require.NoError(t, err)
	}
	named := func(got []string) []string {
		var out []string
		for name, id := range ids {
			if slices.Contains(got, id) {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	list := func(query string) []string {
		t.Helper()
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks?"+query, srv.AdminKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", query, b)
		var page struct{ Items []taskJSON }
		require.NoError(t, json.Unmarshal(b, &page))
		var got []string
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		return named(got)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"created_from=2026-11-02", []string{"nov15", "nov16"}},
		{"created_to=2026-11-15", []string{"nov01", "nov15"}},
		{"created_from=2026-11-15&created_to=2026-11-15", []string{"nov15"}},
		{"created_to=2026-11-15T23:59:59Z", []string{"nov01", "nov15"}},
		{"created_to=2026-11-15T23:59:58Z", []string{"nov01"}},
		{"created_from=" + url.QueryEscape("2026-11-16T01:00:00+01:00"), []string{"nov16"}},
		{"created_from=2026-11-01&domain=finance&limit=2", []string{"nov15", "nov16"}},
		{"created_from=2026-10-01&created_to=2026-10-31", nil},
	} {
		assert.Equal(t, tc.want, list(tc.query), tc.query)
	}
	// Paging keeps the range: the second page holds the oldest.
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks?created_to=2026-11-30&limit=2", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var first struct {
		NextCursor string `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(b, &first))
	require.NotEmpty(t, first.NextCursor)
	assert.Equal(t, []string{"nov01"}, list("created_to=2026-11-30&limit=2&cursor="+url.QueryEscape(first.NextCursor)))

	for _, tc := range []struct{ query, message string }{
		{"created_from=yesterday", `created_from "yesterday" is not a date (2026-12-01) or an RFC 3339 time`},
		{"created_to=2026-13-01", `created_to "2026-13-01" is not a date`},
		{"created_from=2026-11-16&created_to=2026-11-15", "created_from 2026-11-16 is after created_to 2026-11-15"},
	} {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks?"+tc.query, srv.AdminKey, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, tc.query)
		var problem struct{ Detail string }
		require.NoError(t, json.Unmarshal(b, &problem), string(b))
		assert.Contains(t, problem.Detail, tc.message, tc.query)
	}

	// The dashboard: the form's date pickers hold the range, the rows
	// follow it, and the live channel and the pager keep it.
	browser := srv.NewFormClient(t)
	browser.SignIn(t, srv.AdminKey)
	resp, b = browser.Get(t, "/tasks?created_from=2026-11-15&created_to=2026-11-15")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	doc := testkit.ParseHTML(t, b)
	from := testkit.ByTestID(doc, "filter-created_from")
	assert.Equal(t, "date", from.AttrOr("type", ""))
	assert.Equal(t, "2026-11-15", from.AttrOr("value", ""))
	assert.Equal(t, "2026-11-15", testkit.ByTestID(doc, "filter-created_to").AttrOr("value", ""))
	var rows []string
	testkit.ByTestID(doc, "task-row").Each(func(_ int, s *goquery.Selection) { rows = append(rows, s.AttrOr("data-task-id", "")) })
	assert.Equal(t, []string{"nov15"}, named(rows))
	live := testkit.ByTestID(doc, "live").AttrOr("ws-connect", "")
	assert.Contains(t, live, "created_from=2026-11-15")
	assert.Contains(t, live, "created_to=2026-11-15")

	// A time from a URL made elsewhere stays whole in a text field.
	_, b = browser.Get(t, "/tasks?created_to=2026-11-15T23:59:58Z")
	to := testkit.ByTestID(testkit.ParseHTML(t, b), "filter-created_to")
	assert.Equal(t, "text", to.AttrOr("type", ""))
	assert.Equal(t, "2026-11-15T23:59:58Z", to.AttrOr("value", ""))

	resp, b = browser.Get(t, "/tasks?created_from=2026-11-31")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), `created_from &#34;2026-11-31&#34; is not a date`)
}
