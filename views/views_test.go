package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/connect"
	"github.com/bizmcp/bizmcp/internal/testkit"
	"github.com/bizmcp/bizmcp/views"
)

func testKey(name string) auth.Key {
	used := time.Now().Add(-3 * time.Minute)
	return auth.Key{
		ID: uuid.New(), Name: name, Prefix: "bmcp_abcdefg", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite},
		RateLimit: 60, Active: true, CreatedAt: time.Now().Add(-time.Hour), LastUsedAt: &used,
	}
}

func signedIn() views.Frame {
	return views.Frame{Title: "t", Nav: views.URLKeys, Session: &views.SessionView{KeyName: "admin", CSRFToken: "tok123"}, Live: "/ws?page=keys"}
}

func TestKeyRowShowsHostileNameAsText(t *testing.T) {
	t.Parallel()
	k := testKey(`<img src=x onerror=alert(1)>`)
	doc := testkit.Render(t, views.KeysList(views.KeysPage{Frame: signedIn(), Keys: []auth.Key{k}, OnFirst: true, Now: time.Now()}))
	rows := testkit.ByTestID(doc, "key-row")
	require.Equal(t, 1, rows.Length())
	require.Equal(t, k.Name, testkit.ByTestID(rows, "key-name").Text())
	require.Zero(t, doc.Find("img").Length(), "the name must not become an element")
	require.Equal(t, "active", testkit.ByTestID(rows, "state").Text())
	require.Equal(t, "3 minutes ago", strings.TrimSpace(testkit.ByTestID(rows, "key-last-used").Text()))
	require.Equal(t, "read, write", testkit.ByTestID(rows, "key-scopes").Text())
	require.Equal(t, 1, testkit.ByTestID(rows, "revoke").Length())
}

func TestKeyRowStates(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Minute)
	expired := testKey("old")
	expired.ExpiresAt = &past
	revoked := testKey("gone")
	revoked.RevokedAt, revoked.Active = &past, false
	doc := testkit.RenderFragment(t, views.KeyRows([]auth.Key{expired, revoked}, time.Now()))
	states := testkit.ByTestID(doc, "state")
	require.Equal(t, "expired", states.Eq(0).Text())
	require.Equal(t, "revoked", states.Eq(1).Text())
	// A revoked key cannot be revoked again.
	require.Equal(t, 1, testkit.ByTestID(doc, "revoke").Length())
}

// Live fragments swap out of band: the row replaces its twin by id, a new
// key goes to the top after removing any copy the page already has.
func TestLiveFragments(t *testing.T) {
	t.Parallel()
	k := testKey("live")
	doc := testkit.RenderFragment(t, views.KeyUpdate(k, time.Now()))
	row := doc.Find("tr#key-" + k.ID.String())
	require.Equal(t, 1, row.Length())
	require.Equal(t, "outerHTML", row.AttrOr("hx-swap-oob", ""))

	doc = testkit.RenderFragment(t, views.KeyRemove(k))
	del := doc.Find(`tr[hx-swap-oob="delete"]`)
	require.Equal(t, "key-"+k.ID.String(), del.AttrOr("id", ""))
	doc = testkit.RenderFragment(t, views.KeyInsert(k, time.Now()))
	require.Equal(t, 1, doc.Find(`tbody[hx-swap-oob="afterbegin:#key-rows"] tr.key-row`).Length())

	past := time.Now().Add(-time.Minute)
	gone := testKey("gone")
	gone.RevokedAt, gone.Active = &past, false
	doc = testkit.RenderFragment(t, views.KeyRowsSnapshot([]auth.Key{k, gone}, time.Now()))
	require.Equal(t, "outerHTML", doc.Find("tbody#key-rows").AttrOr("hx-swap-oob", ""))
	// The snapshot keeps the page's actions cell of a key that can still be
	// revoked (a confirmation may be open in it), not of a revoked one.
	require.Equal(t, 1, doc.Find(`td#key-actions-`+k.ID.String()+`[hx-preserve]`).Length())
	require.Equal(t, 1, doc.Find(`td#key-actions-`+gone.ID.String()).Length())
	require.Equal(t, 0, doc.Find(`td#key-actions-`+gone.ID.String()+`[hx-preserve]`).Length())
	// Single-row updates replace the whole row.
	require.Equal(t, 0, testkit.RenderFragment(t, views.KeyUpdate(k, time.Now())).Find(`[hx-preserve]`).Length())
}

func TestFrameCarriesCSRFAndLiveChannel(t *testing.T) {
	t.Parallel()
	doc := testkit.Render(t, views.KeysList(views.KeysPage{Frame: signedIn(), OnFirst: true, Now: time.Now()}))
	require.Equal(t, `{"X-CSRF-Token": "tok123"}`, doc.Find("body").AttrOr("hx-headers", ""))
	live := testkit.ByTestID(doc, "live")
	require.Equal(t, "ws", live.AttrOr("hx-ext", ""))
	require.Equal(t, "/ws?page=keys", live.AttrOr("ws-connect", ""))
	require.Equal(t, "offline", testkit.ByTestID(doc, "live-badge").AttrOr("data-state", ""))
	// Sign-out is a form with the token, not a link a page could trigger.
	require.Equal(t, "tok123", doc.Find(`form[action="/logout"] input[name="csrf_token"]`).AttrOr("value", ""))
	require.Equal(t, "page", doc.Find(`nav a[href="/keys"]`).AttrOr("aria-current", ""))
	// Every script and stylesheet is local and versioned.
	doc.Find("script[src], link[rel=stylesheet]").Each(func(_ int, s *goquery.Selection) {
		src := s.AttrOr("src", s.AttrOr("href", ""))
		require.True(t, strings.HasPrefix(src, "/static/") && strings.Contains(src, "?v="), src)
	})
}

func TestLoginPageWithoutSession(t *testing.T) {
	t.Parallel()
	doc := testkit.Render(t, views.LoginPage(views.Frame{Title: "Sign in"}, "/keys", "That key is not valid"))
	require.Zero(t, doc.Find("nav").Length(), "no navigation before sign-in")
	require.Zero(t, doc.Find("[hx-headers]").Length())
	require.Equal(t, "That key is not valid", testkit.ByTestID(doc, "login-error").Text())
	input := doc.Find("input#api_key")
	require.Equal(t, "password", input.AttrOr("type", ""))
	require.Equal(t, "true", input.AttrOr("aria-invalid", ""))
	require.Equal(t, 1, doc.Find(`label[for="api_key"]`).Length())
	require.Equal(t, "/keys", doc.Find(`input[name="next"]`).AttrOr("value", ""))
}

func TestKeyFormShowsErrorsByTheirFields(t *testing.T) {
	t.Parallel()
	form := views.KeyForm{
		Name: "x\"><script>", Scopes: []string{"write"}, RateLimit: "abc", Expiry: "custom", ExpiresOn: "2020-01-01",
		DefaultRateLimit: 60, Errors: views.FieldErrors{"rate_limit": "enter a whole number", "expires_on": "that date has passed"},
	}
	doc := testkit.Render(t, views.KeyNewPage(signedIn(), form))
	require.Equal(t, form.Name, doc.Find("input#name").AttrOr("value", ""), "the value is kept")
	require.Zero(t, doc.Find("main script").Length())
	require.Equal(t, "enter a whole number", testkit.ByTestID(doc, "error-rate_limit").Text())
	require.Equal(t, "rate_limit-error", doc.Find("input#rate_limit").AttrOr("aria-describedby", ""))
	require.Equal(t, "true", doc.Find("input#rate_limit").AttrOr("aria-invalid", ""))
	require.Equal(t, "that date has passed", testkit.ByTestID(doc, "error-expires_on").Text())
	_, hidden := doc.Find("#expires-on-field").Attr("hidden")
	require.False(t, hidden, "the custom date stays visible when chosen")
	_, checked := doc.Find(`input[name="scopes"][value="write"]`).Attr("checked")
	require.True(t, checked)
	_, checked = doc.Find(`input[name="scopes"][value="read"]`).Attr("checked")
	require.False(t, checked)
	require.Equal(t, "custom", doc.Find(`select#expiry option[selected]`).AttrOr("value", ""))
	doc.Find("form.stack input:not([type=hidden]):not([type=checkbox]), form.stack select").Each(func(_ int, s *goquery.Selection) {
		id := s.AttrOr("id", "")
		require.Equal(t, 1, doc.Find(`label[for="`+id+`"]`).Length(), "input %s has a label", id)
	})
}

func TestKeyCreatedShowsSecretOnceWithSnippets(t *testing.T) {
	t.Parallel()
	secret := "bmcp_" + strings.Repeat("k", 43)
	k := auth.CreatedKey{Key: testKey("ci"), Secret: secret}
	endpoint := "http://localhost:8080/mcp"
	doc := testkit.Render(t, views.KeyCreated(views.KeyCreatedPage{Frame: signedIn(), Key: k, Endpoint: endpoint, Snippets: connect.Snippets(endpoint, secret), Now: time.Now()}))
	require.Equal(t, secret, testkit.ByTestID(doc, "new-key-secret").Text())
	require.Equal(t, "new-key", testkit.ByTestID(doc, "copy-new-key").AttrOr("data-copy-target", ""))
	require.Contains(t, testkit.ByTestID(doc, "shown-once").Text(), "shown only this once")
	require.Contains(t, testkit.ByTestID(doc, "snippet-body-cursor").Text(), secret)
	require.Equal(t, 6, doc.Find("section.snippet").Length())
}

func TestConnectPageListsCatalogue(t *testing.T) {
	t.Parallel()
	endpoint := "https://bizmcp.example.test/mcp"
	doc := testkit.Render(t, views.Connect(views.ConnectPage{
		Frame: signedIn(), Endpoint: endpoint, Snippets: connect.Snippets(endpoint, ""),
		Tools: []views.CatalogItem{{Name: "sales_forecaster", Description: "Forecast a series"}},
	}))
	require.Equal(t, endpoint, testkit.ByTestID(doc, "endpoint").Text())
	tools := testkit.ByTestID(doc, "catalog-tools")
	require.Equal(t, "sales_forecaster", tools.Find("code").Text())
	for _, id := range []string{"claude-code", "cursor", "vscode", "windsurf", "claude-desktop", "inspector"} {
		require.Equal(t, 1, testkit.ByTestID(doc, "snippet-"+id).Length(), id)
	}
}

// A component call after text on the same line is not a call in templ: no
// page may show one as text.
func TestNoTemplCallRenderedAsText(t *testing.T) {
	t.Parallel()
	used := time.Now().Add(-time.Hour)
	a := agents.Agent{ID: uuid.New(), Name: "a", Type: "sales", Status: "idle", LastActivity: &used}
	doc := testkit.RenderFragment(t, views.AgentUpdate(a, time.Now()))
	require.NotContains(t, doc.Text(), "@")
	require.Equal(t, "1 hour ago", doc.Find("time").Text())
}
