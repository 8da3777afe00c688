package browsertest

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// TestDashboard drives the dashboard in headless Chromium. One browser
// serves every subtest; each subtest has its own server and database, and
// each of its tabs its own browser context (cookies), so they run in
// parallel without seeing each other.
func TestDashboard(t *testing.T) {
	chrome := testkit.StartChromium(t)
	for _, tc := range []struct {
		name string
		test func(t *testing.T, chrome *testkit.Chromium)
	}{
		{"SignIn", testSignIn},
		{"Logout", testLogout},
		{"KeyLifecycle", testKeyLifecycle},
		{"HostileKeyName", testHostileKeyName},
		{"LiveAcrossInstances", testLiveAcrossInstances},
		{"Reconnect", testReconnect},
		{"ForgedRequests", testForgedRequests},
		{"Pages", testPages},
		{"Work", testWork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, chrome)
		})
	}
}

// restKey is a key as the REST API lists it.
type restKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Secret    string     `json:"key"`
}

// listKeys returns every key over REST, with the admin key.
func listKeys(t *testing.T, srv *testkit.Server) []restKey {
	t.Helper()
	resp, body := srv.Do(t, http.MethodGet, "/api/v1/admin/keys?limit=100", srv.AdminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list keys: %d %s", resp.StatusCode, body)
	}
	var page struct {
		Items      []restKey `json:"items"`
		NextCursor string    `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if page.NextCursor != "" {
		t.Fatal("more than 100 keys: the test expected a handful")
	}
	return page.Items
}

// keyNamed finds a key by name over REST.
func keyNamed(t *testing.T, srv *testkit.Server, name string) restKey {
	t.Helper()
	for _, k := range listKeys(t, srv) {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("no key named %q", name)
	return restKey{}
}

// createKeyREST creates a key over REST with the admin key.
func createKeyREST(t *testing.T, srv *testkit.Server, name, scopes string) restKey {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "scopes": strings.Split(scopes, ",")})
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/keys", srv.AdminKey, strings.NewReader(string(body)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create key over REST: %d %s", resp.StatusCode, b)
	}
	var k restKey
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

// toolsStatus is what GET /api/v1/tools answers to key: 200 for a working
// key with the read scope, 401 for a revoked one.
func toolsStatus(t *testing.T, srv *testkit.Server, key string) int {
	t.Helper()
	resp, _ := srv.Do(t, http.MethodGet, "/api/v1/tools", key, nil)
	return resp.StatusCode
}

// cookieClient is a Go HTTP client that sends the given cookie to srv and
// does not follow redirects.
func cookieClient(t *testing.T, srv *testkit.Server, c *http.Cookie) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	jar.SetCookies(req.URL, []*http.Cookie{c})
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// sessionCookie is the tab's dashboard session cookie (HttpOnly, so read
// through the browser, not the page).
func sessionCookie(t *testing.T, tab *testkit.Tab) *http.Cookie {
	t.Helper()
	c := tab.Cookie("bizmcp_session")
	if c == nil || c.Value == "" {
		t.Fatal("the browser holds no bizmcp_session cookie after signing in")
	}
	return c
}

// rowOf selects the keys table row of the key with this id.
func rowOf(id string, more ...string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="key-row"][data-key-id="` + id + `"]` + strings.Join(more, ""))
}
