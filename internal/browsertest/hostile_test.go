package browsertest

import (
	"strings"
	"testing"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// testHostileKeyName: key names that are markup show as text everywhere a
// name appears (the created page, the list, the live row, the revoke
// confirmation) and run no script.
func testHostileKeyName(t *testing.T, chrome *testkit.Chromium) {
	const imgName = `<img src=x onerror=alert(1)>`
	const scriptName = `<script>alert(2)</script>`
	srv := testkit.StartServer(t)
	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	// A second tab of the same session, whose list gets the rows live.
	watcher := countLiveMessages(tab.NewTab(t))
	openLiveKeys(t, watcher)

	noMarkup := func(tab *testkit.Tab, where string) {
		t.Helper()
		// Nothing the page renders is an image or a script of the page's
		// own making: an injected one would be.
		if n := testkit.Eval[int](tab, `document.querySelectorAll('main img, main script, body > script:not([src])').length`); n != 0 {
			t.Errorf("%s: %d injected img/script elements", where, n)
		}
	}

	createKeyUI(t, tab, imgName)
	if h := tab.Text("h1"); !strings.Contains(h, imgName) {
		t.Errorf("the created page's heading is %q, want the name as text", h)
	}
	noMarkup(tab, "created page")

	key := keyNamed(t, srv, imgName)
	watcher.WaitFor(rowOf(key.ID))
	if name := watcher.Text(rowOf(key.ID, ` [data-testid="key-name"]`)); name != imgName {
		t.Errorf("the live row shows the name as %q, want %q", name, imgName)
	}
	rest := createKeyREST(t, srv, scriptName, "read")
	watcher.WaitFor(rowOf(rest.ID))
	if name := watcher.Text(rowOf(rest.ID, ` [data-testid="key-name"]`)); name != scriptName {
		t.Errorf("the live row shows the name as %q, want %q", name, scriptName)
	}
	noMarkup(watcher, "live list")

	openLiveKeys(t, tab)
	if name := tab.Text(rowOf(key.ID, ` [data-testid="key-name"]`)); name != imgName {
		t.Errorf("the list shows the name as %q, want %q", name, imgName)
	}
	tab.Click(rowOf(key.ID, ` [data-testid="revoke"]`))
	if q := tab.Text(rowOf(key.ID, ` [data-testid="revoke-confirm"]`)); !strings.Contains(q, imgName) {
		t.Errorf("the confirmation reads %q, want the name as text", q)
	}
	noMarkup(tab, "list with the revoke confirmation")

	for _, tb := range []*testkit.Tab{tab, watcher} {
		if d := tb.Dialogs(); len(d) > 0 {
			t.Errorf("a page opened JavaScript dialogs: %q", d)
		}
	}
	// An injected <img src=x> would have asked for /x or /keys/x.
	for _, p := range []string{`"path":"/x"`, `"path":"/keys/x"`} {
		if strings.Contains(srv.Logs(), p) {
			t.Errorf("the server was asked for %s: a key name was rendered as markup", p)
		}
	}
}
