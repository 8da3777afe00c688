package browsertest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// testSignIn: a wrong key and a key without the admin scope are refused
// with a message on the sign-in page; an admin key signs in.
func testSignIn(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	tab := newTab(t, chrome, srv.URL)

	// A page behind the session sends the browser to sign in.
	tab.Open("/keys")
	tab.WaitFor(testkit.TestID("login-form"))
	tab.Screenshot("login")

	submit := func(key string) int {
		t.Helper()
		tab.Run(chromedp.WaitVisible(chromedp.CSS("#api_key")), chromedp.SendKeys(chromedp.CSS("#api_key"), key))
		return tab.Submit(testkit.TestID("login-submit"))
	}
	if st := submit("bmcp_" + strings.Repeat("x", 43)); st != http.StatusUnauthorized {
		t.Errorf("a wrong key: status %d, want 401", st)
	}
	if msg := tab.Text(testkit.TestID("login-error")); !strings.Contains(msg, "not valid") {
		t.Errorf("a wrong key got %q, want a message that it is not valid", msg)
	}
	tab.Screenshot("login-error")

	if st := submit(readKey); st != http.StatusForbidden {
		t.Errorf("a read-only key: status %d, want 403", st)
	}
	if msg := tab.Text(testkit.TestID("login-error")); !strings.Contains(msg, "admin") {
		t.Errorf("a read-only key got %q, want a message naming the admin scope", msg)
	}
	if c := tab.Cookie("bizmcp_session"); c != nil {
		t.Errorf("a refused sign-in left a session cookie")
	}

	// The admin key signs in and lands where it was going.
	if st := submit(srv.AdminKey); st != http.StatusOK {
		t.Errorf("the admin key: the page after sign-in has status %d, want 200", st)
	}
	if got := tab.Text(testkit.TestID("session-key")); got != "test admin" {
		t.Errorf("signed in as %q, want the admin key's name", got)
	}
	tab.WaitFor(testkit.TestID("key-rows"))
	if loc := testkit.Value(tab, chromedp.Location()); !strings.HasSuffix(loc, "/keys") {
		t.Errorf("after sign-in the browser is at %s, want the page it asked for, /keys", loc)
	}
}

// testLogout: signing out ends the session on the server: the cookie the
// browser had gets the sign-in page afterwards.
func testLogout(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	old := sessionCookie(t, tab)

	client := cookieClient(t, srv, old)
	get := func() *http.Response {
		t.Helper()
		resp, err := client.Get(srv.URL + "/keys")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// The copied cookie works before the logout (else the check after it
	// would prove nothing).
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session cookie copied from the browser got %d before logout, want 200", resp.StatusCode)
	}

	tab.Submit(testkit.TestID("logout"))
	tab.WaitFor(testkit.TestID("login-form"))

	resp := get()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("the old cookie after logout got %d (Location %q), want 303 to the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// And in the browser: the keys page asks to sign in again.
	tab.Open("/keys")
	tab.WaitFor(testkit.TestID("login-form"))
}
