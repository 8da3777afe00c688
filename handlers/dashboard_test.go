package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "bizmcp_session") && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil
}

func countKeys(t *testing.T, srv *testkit.Server) int {
	t.Helper()
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys?limit=200", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return strings.Count(string(b), `"prefix"`)
}

func TestDashboardSignIn(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	reader := testkit.CreateKey(t, srv.Env, "reader", "read")
	b := srv.NewFormClient(t)

	// Every page but sign-in sends a stranger to sign in, keeping where
	// they were going.
	resp, _ := b.Get(t, "/keys?state=active")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next=%2Fkeys%3Fstate%3Dactive", resp.Header.Get("Location"))
	// An htmx request is told to go there instead of getting a login form
	// swapped into the page.
	resp, _ = b.Get(t, "/keys", "HX-Request", "true")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "/login", resp.Header.Get("HX-Redirect"))

	for _, tc := range []struct {
		key, status, message string
	}{
		{"bmcp_" + strings.Repeat("x", 43), "401", "not valid"},
		{"not even a key", "401", "not valid"},
		{reader, "403", "admin scope"},
		{"", "400", "Enter an admin API key"},
		{strings.Repeat("k", 5000), "400", "not an API key"},
	} {
		resp, body := b.PostForm(t, "/login", url.Values{"api_key": {tc.key}})
		require.Equal(t, tc.status, resp.Status[:3], string(body))
		require.Contains(t, testkit.ByTestID(testkit.ParseHTML(t, body), "login-error").Text(), tc.message)
		require.Empty(t, resp.Cookies(), "no session for a refused key")
		require.NotContains(t, srv.Logs(), tc.key[:min(len(tc.key), 20)]+strings.Repeat("x", 5), "the key is never logged")
	}

	resp, _ = b.PostForm(t, "/login", url.Values{"api_key": {srv.AdminKey}, "next": {"/keys?state=active"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/keys?state=active", resp.Header.Get("Location"))
	first := sessionCookie(t, resp)
	require.Equal(t, "bizmcp_session", first.Name)
	require.True(t, first.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, first.SameSite)
	require.False(t, first.Secure, "plain http without an https PUBLIC_URL")
	require.Equal(t, "/", first.Path)
	require.NotContains(t, srv.Logs(), srv.AdminKey, "the key is never logged")

	resp, body := b.Get(t, "/keys")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "test admin", testkit.ByTestID(testkit.ParseHTML(t, body), "session-key").Text())
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	// A new session id on every sign-in; the old one stays valid until it
	// is signed out.
	other := srv.NewFormClient(t)
	resp, _ = other.PostForm(t, "/login", url.Values{"api_key": {srv.AdminKey}, "next": {"//evil.example/x"}})
	require.Equal(t, "/", resp.Header.Get("Location"), "no redirect to another site")
	require.NotEqual(t, first.Value, sessionCookie(t, resp).Value)

	// Sign-out ends the session on the server: the old cookie is worthless.
	tok := b.CSRFToken(t)
	resp, _ = b.PostForm(t, "/logout", url.Values{"csrf_token": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login", resp.Header.Get("Location"))
	stale := srv.NewFormClient(t)
	u, _ := url.Parse(srv.URL)
	stale.Client.Jar.SetCookies(u, []*http.Cookie{{Name: first.Name, Value: first.Value}})
	resp, _ = stale.Get(t, "/keys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login"))
	// A form replayed after sign-out changes nothing.
	before := countKeys(t, srv)
	resp, _ = stale.PostForm(t, "/keys", url.Values{"csrf_token": {tok}, "name": {"replayed"}, "scopes": {"read"}, "expiry": {"never"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, before, countKeys(t, srv))
	// And the other browser's session is untouched.
	resp, _ = other.Get(t, "/keys")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// Revoking (or expiring) the key behind a session ends the session at once,
// on every instance: each request checks the key in the shared database.
func TestDashboardSessionEndsWithItsKey(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	second := srv.StartInstance(t)
	admin2 := testkit.CreateKey(t, srv.Env, "second admin", "admin")
	b := second.NewFormClient(t)
	b.SignIn(t, admin2)
	resp, _ := b.Get(t, "/keys")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, body := srv.Do(t, http.MethodGet, "/api/v1/admin/keys?limit=200", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := keyIDByName(t, body, "second admin")
	resp, _ = srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+id, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = b.Get(t, "/keys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body = b.PostForm(t, "/login", url.Values{"api_key": {admin2}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
}

func keyIDByName(t *testing.T, listJSON []byte, name string) string {
	t.Helper()
	doc := string(listJSON)
	i := strings.Index(doc, `"name":"`+name+`"`)
	require.GreaterOrEqual(t, i, 0, doc)
	j := strings.LastIndex(doc[:i], `"id":"`)
	return doc[j+6 : j+6+36]
}

// Every state-changing request must prove it came from the dashboard's own
// page; a forged one is 403 and changes nothing.
func TestDashboardCSRF(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)
	form := url.Values{"name": {"forged"}, "scopes": {"admin"}, "expiry": {"never"}}
	before := countKeys(t, srv)

	for name, tc := range map[string]struct {
		token   string
		headers []string
	}{
		"no token":             {"", nil},
		"wrong token":          {"x" + tok, nil},
		"foreign origin":       {tok, []string{"Origin", "https://evil.example"}},
		"cross-site no origin": {tok, []string{"Origin", "", "Sec-Fetch-Site", "cross-site"}},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if tc.token != "" {
			f.Set("csrf_token", tc.token)
		}
		resp, body := b.PostForm(t, "/keys", f, tc.headers...)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", name, body)
		require.Contains(t, resp.Header.Get("Content-Type"), "text/html", name)
		require.NotEmpty(t, testkit.ByTestID(testkit.ParseHTML(t, body), "error-detail").Text(), name)
	}
	// Sign-in itself refuses a cross-origin post (login CSRF).
	resp, _ := srv.NewFormClient(t).PostForm(t, "/login", url.Values{"api_key": {srv.AdminKey}}, "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, before, countKeys(t, srv))

	// The token as an htmx header works as well as the form field.
	resp, body := b.PostForm(t, "/keys", form, "X-CSRF-Token", tok)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, before+1, countKeys(t, srv))
}

// Every hostile form value gets a message next to its field (422), keeps
// what was typed where it is safe to show, and stores nothing.
func TestDashboardKeyFormRefusesBadInput(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	tok := b.CSRFToken(t)
	before := countKeys(t, srv)
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"empty name", url.Values{"name": {"  "}, "scopes": {"read"}, "expiry": {"never"}}, "name"},
		{"NUL in name", url.Values{"name": {"a\x00b"}, "scopes": {"read"}, "expiry": {"never"}}, "name"},
		{"invalid UTF-8", url.Values{"name": {"a\xff\xfeb"}, "scopes": {"read"}, "expiry": {"never"}}, "name"},
		{"newline", url.Values{"name": {"a\nb"}, "scopes": {"read"}, "expiry": {"never"}}, "name"},
		{"too long", url.Values{"name": {strings.Repeat("n", 101)}, "scopes": {"read"}, "expiry": {"never"}}, "name"},
		{"far too long", url.Values{"name": {strings.Repeat("n", 50000)}, "scopes": {"read"}, "expiry": {"never"}}, "name"},
		{"no scope", url.Values{"name": {"x"}, "expiry": {"never"}}, "scopes"},
		{"unknown scope", url.Values{"name": {"x"}, "scopes": {"root"}, "expiry": {"never"}}, "scopes"},
		{"rate not a number", url.Values{"name": {"x"}, "scopes": {"read"}, "rate_limit": {"ten"}, "expiry": {"never"}}, "rate_limit"},
		{"rate zero", url.Values{"name": {"x"}, "scopes": {"read"}, "rate_limit": {"0"}, "expiry": {"never"}}, "rate_limit"},
		{"rate overflow", url.Values{"name": {"x"}, "scopes": {"read"}, "rate_limit": {"99999999999999999999"}, "expiry": {"never"}}, "rate_limit"},
		{"unknown preset", url.Values{"name": {"x"}, "scopes": {"read"}, "expiry": {"forever"}}, "expiry"},
		{"custom without date", url.Values{"name": {"x"}, "scopes": {"read"}, "expiry": {"custom"}}, "expires_on"},
		{"past date", url.Values{"name": {"x"}, "scopes": {"read"}, "expiry": {"custom"}, "expires_on": {"2001-02-03"}}, "expires_on"},
		{"unparsable date", url.Values{"name": {"x"}, "scopes": {"read"}, "expiry": {"custom"}, "expires_on": {"'; DROP TABLE mcp.api_keys; --"}}, "expires_on"},
		{"absurd year", url.Values{"name": {"x"}, "scopes": {"read"}, "expiry": {"custom"}, "expires_on": {"9999-12-31"}}, "expires_on"},
	} {
		tc.form.Set("csrf_token", tok)
		resp, body := b.PostForm(t, "/keys", tc.form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "%s: %s", tc.name, body)
		doc := testkit.ParseHTML(t, body)
		require.NotEmpty(t, testkit.ByTestID(doc, "error-"+tc.field).Text(), tc.name)
		require.Equal(t, 1, testkit.ByTestID(doc, "key-form").Length(), tc.name)
	}
	// HTML and SQL in a name are data: stored and shown as typed.
	hostile := `<img src=x onerror=alert(1)>'; DROP TABLE mcp.api_keys; --`
	resp, body := b.PostForm(t, "/keys", url.Values{"csrf_token": {tok}, "name": {hostile}, "scopes": {"read"}, "expiry": {"30"}})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Zero(t, testkit.ParseHTML(t, body).Find("main img").Length())
	require.Equal(t, before+1, countKeys(t, srv))
	resp, body = b.Get(t, "/keys")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, hostile, testkit.ByTestID(testkit.ParseHTML(t, body), "key-name").First().Text())

	// Bad filters and ids are 4xx pages in the layout, not 500s.
	for path, status := range map[string]int{
		"/keys?state=deleted":                               http.StatusBadRequest,
		"/keys?cursor=not-a-cursor":                         http.StatusBadRequest,
		"/keys/not-a-uuid/revoke":                           http.StatusBadRequest,
		"/keys/01234567-89ab-7def-8123-456789abcdef/revoke": http.StatusNotFound,
		"/no-such-page":                                     http.StatusNotFound,
	} {
		resp, body := b.Get(t, path)
		require.Equal(t, status, resp.StatusCode, "%s: %s", path, body)
		doc := testkit.ParseHTML(t, body)
		require.NotEmpty(t, testkit.ByTestID(doc, "error-detail").Text(), path)
		require.Equal(t, 1, testkit.ByTestID(doc, "session-key").Length(), "%s: the error is in the signed-in layout", path)
	}
	// For htmx, an error goes into the page's notice area.
	resp, body = b.Get(t, "/keys/01234567-89ab-7def-8123-456789abcdef/revoke", "HX-Request", "true")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "#flash", resp.Header.Get("HX-Retarget"))
	require.Equal(t, 1, testkit.ByTestID(testkit.ParseHTML(t, body), "flash-error").Length())
}

// Revoking from the page: a confirmation naming the key, then the row in
// place (htmx) and 401 for the key everywhere.
func TestDashboardRevokeKey(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	victim := testkit.CreateKey(t, srv.Env, "victim", "read")
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	_, list := srv.Do(t, http.MethodGet, "/api/v1/admin/keys?limit=200", srv.AdminKey, nil)
	id := keyIDByName(t, list, "victim")

	resp, body := b.Get(t, "/keys/"+id+"/revoke", "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	confirm := testkit.ByTestID(testkit.ParseHTML(t, body), "revoke-confirm")
	require.Contains(t, confirm.Text(), "victim")

	resp, body = b.PostForm(t, "/keys/"+id+"/revoke", url.Values{"csrf_token": {b.CSRFToken(t)}}, "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	row := testkit.ParseHTML(t, []byte("<table>"+string(body)+"</table>")).Find("tr.key-row")
	require.Equal(t, "revoked", row.AttrOr("data-state", ""))
	require.Zero(t, testkit.ByTestID(row, "revoke").Length())

	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/tools", victim, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestDashboardLoginIsRateLimited(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t, testkit.WithEnv("LOGIN_RATE_LIMIT_PER_MINUTE", "3"))
	b := srv.NewFormClient(t)
	var last *http.Response
	var body []byte
	for range 6 {
		last, body = b.PostForm(t, "/login", url.Values{"api_key": {"bmcp_" + strings.Repeat("z", 43)}})
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, last.StatusCode)
	}
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode)
	require.NotEmpty(t, last.Header.Get("Retry-After"))
	require.Contains(t, testkit.ByTestID(testkit.ParseHTML(t, body), "login-error").Text(), "Too many sign-in attempts")
	// Even the right key waits: the limit is on attempts, not failures.
	last, _ = b.PostForm(t, "/login", url.Values{"api_key": {srv.AdminKey}})
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode)
	_, metrics := srv.Do(t, http.MethodGet, "/metrics", "", nil)
	require.Contains(t, string(metrics), `bizmcp_dashboard_logins_total{outcome="invalid_key"}`)
	require.Contains(t, string(metrics), `bizmcp_dashboard_logins_total{outcome="rate_limited"}`)
}

// Behind TLS (PUBLIC_URL https), the cookie is Secure and __Host- prefixed.
func TestDashboardSecureCookie(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t, testkit.WithEnv("PUBLIC_URL", "https://bizmcp.example.test"))
	resp, body := srv.NewFormClient(t).PostForm(t, "/login", url.Values{"api_key": {srv.AdminKey}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, string(body))
	c := sessionCookie(t, resp)
	require.Equal(t, "__Host-bizmcp_session", c.Name)
	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Empty(t, c.Domain)
	require.Equal(t, "/", c.Path)
}

// The connect page's snippets use PUBLIC_URL, else the browser's own origin,
// and it lists what the MCP server offers.
func TestDashboardConnectPage(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	resp, body := b.Get(t, "/connect")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := testkit.ParseHTML(t, body)
	require.Equal(t, srv.URL+"/mcp", testkit.ByTestID(doc, "endpoint").First().Text())
	tools := testkit.ByTestID(testkit.ByTestID(doc, "catalog-tools"), "catalog-item").Text()
	for _, name := range []string{"sales_forecaster", "create_task", "report_generator"} {
		require.Contains(t, tools, name)
	}
	require.Positive(t, testkit.ByTestID(testkit.ByTestID(doc, "catalog-prompts"), "catalog-item").Length())
	require.Positive(t, testkit.ByTestID(testkit.ByTestID(doc, "catalog-resources"), "catalog-item").Length())
	require.Contains(t, testkit.ByTestID(doc, "snippet-body-cursor").Text(), srv.URL+"/mcp")
}
