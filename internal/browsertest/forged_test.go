package browsertest

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// testForgedRequests: state-changing requests that did not come from the
// dashboard's own page are refused with 403 and change nothing: without
// the CSRF token (from the page itself, or from a script), from a foreign
// origin even with a valid token and the session cookie (a page on another
// port of the same host is same-site, so SameSite=Lax sends the cookie),
// and a WebSocket upgrade from a foreign origin.
func testForgedRequests(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	cookie := sessionCookie(t, tab)
	tab.Open("/keys/new")
	token := tab.Attr(chromedp.CSS(`input[name="csrf_token"]`), "value")
	if token == "" {
		t.Fatal("no CSRF token on the key form")
	}
	admin := keyNamed(t, srv, "test admin")
	before := len(listKeys(t, srv))

	// 1. From the dashboard's own origin, but without the token.
	status := testkit.Eval[int](tab, `fetch("/keys", {method: "POST", body: new URLSearchParams(
		{name: "forged-no-token", scopes: "admin", expiry: "never"})}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("a same-origin POST without the token: %d, want 403", status)
	}

	// 2. A page on another origin (loopback, another port) that posts the
	// forms, with the stolen token.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := srv.URL + "/keys"
		if r.URL.Path == "/revoke" {
			action = srv.URL + "/keys/" + admin.ID + "/revoke"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>forged</title>
<form method="post" action="%s">
<input type="hidden" name="csrf_token" value="%s">
<input type="hidden" name="name" value="forged-cross-origin">
<input type="hidden" name="scopes" value="admin">
<input type="hidden" name="expiry" value="never">
<button id="go" type="submit">go</button></form>`, html.EscapeString(action), html.EscapeString(token))
	}))
	t.Cleanup(evil.Close)
	for _, path := range []string{"/create", "/revoke"} {
		tab.Run(chromedp.Navigate(evil.URL + path))
		if st := tab.Submit(chromedp.CSS("#go")); st != http.StatusForbidden {
			t.Errorf("a cross-origin form post (%s) with the token and the cookie: %d, want 403", path, st)
		}
	}

	// 3. Outside a browser: the cookie without the token, and with the
	// token from a foreign Origin.
	client := cookieClient(t, srv, cookie)
	post := func(path string, form url.Values, origin string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	form := url.Values{"name": {"forged-by-script"}, "scopes": {"admin"}, "expiry": {"never"}}
	if st := post("/keys", form, ""); st != http.StatusForbidden {
		t.Errorf("a POST with the cookie and no token: %d, want 403", st)
	}
	withToken := url.Values{"csrf_token": {token}}
	for k, v := range form {
		withToken[k] = v
	}
	if st := post("/keys", withToken, "http://evil.example"); st != http.StatusForbidden {
		t.Errorf("a POST with the token from a foreign Origin: %d, want 403", st)
	}
	if st := post("/logout", url.Values{}, ""); st != http.StatusForbidden {
		t.Errorf("a logout without the token: %d, want 403", st)
	}

	// Nothing changed: no key, the admin key still works, still signed in.
	if after := len(listKeys(t, srv)); after != before {
		t.Errorf("forged requests changed the number of keys from %d to %d", before, after)
	}
	if st := toolsStatus(t, srv, srv.AdminKey); st != http.StatusOK {
		t.Errorf("the admin key after a forged revoke: %d, want 200", st)
	}
	tab.Open("/keys")
	tab.WaitFor(testkit.TestID("session-key"))

	// 4. The live channel: a foreign Origin is refused before the upgrade.
	dial := func(origin string) (*websocket.Conn, int) {
		t.Helper()
		h := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}, "Origin": {origin}}
		conn, resp, _ := testkit.DialWSWith(t, &websocket.Dialer{}, srv, "/ws?page=keys", h)
		if conn != nil {
			return conn, http.StatusSwitchingProtocols
		}
		return nil, resp.StatusCode
	}
	if _, st := dial("http://evil.example"); st != http.StatusForbidden {
		t.Errorf("a WebSocket upgrade from a foreign Origin: %d, want 403", st)
	}
	// The same upgrade from the server's own origin works, so the refusal
	// above was the Origin's doing.
	if _, st := dial(srv.URL); st != http.StatusSwitchingProtocols {
		t.Errorf("a WebSocket upgrade from the server's own origin: %d, want 101", st)
	}

	// And the positive control of the forms: with the token from the
	// page's origin, the same POST creates the key.
	if st := post("/keys", withToken, srv.URL); st != http.StatusCreated {
		t.Errorf("a POST with the token from the dashboard's origin: %d, want 201", st)
	}
	if after := len(listKeys(t, srv)); after != before+1 {
		t.Errorf("a genuine create made %d keys, want 1", after-before)
	}
}
