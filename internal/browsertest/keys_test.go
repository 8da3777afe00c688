package browsertest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// testKeyLifecycle: the create form shows field errors next to the
// fields; a read key with a 30-day expiry is shown once, its copy button
// copies exactly the key, and the key works over REST; revoking it turns
// its row to revoked in place, and REST refuses it from then on.
func testKeyLifecycle(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	tab := newTab(t, chrome, srv.URL)
	tab.GrantClipboard()
	tab.SignIn(srv.AdminKey)

	tab.Open("/keys")
	tab.Submit(testkit.TestID("new-key"))
	tab.WaitFor(testkit.TestID("key-form"))

	// No name and no scope: both are refused, next to their fields.
	readBox := chromedp.CSS(`input[name="scopes"][value="read"]`)
	if testkit.Eval[bool](tab, `document.querySelector('input[name="scopes"][value="read"]').checked`) {
		tab.Click(readBox)
	}
	if st := tab.Submit(testkit.TestID("key-submit")); st != http.StatusUnprocessableEntity {
		t.Errorf("an empty key form: status %d, want 422", st)
	}
	tab.WaitFor(testkit.TestID("error-name"))
	tab.WaitFor(testkit.TestID("error-scopes"))
	tab.Screenshot("key-form-errors")

	// Corrected: a read key that expires in 30 days.
	tab.Run(
		chromedp.SendKeys(chromedp.CSS("#name"), "cursor-alice"),
		chromedp.Click(readBox),
		chromedp.SetValue(chromedp.CSS("#expiry"), "30"),
	)
	if st := tab.Submit(testkit.TestID("key-submit")); st != http.StatusCreated {
		t.Errorf("creating a key: status %d, want 201", st)
	}
	secret := tab.Text(testkit.TestID("new-key-secret"))
	if !strings.HasPrefix(secret, "bmcp_") || len(secret) < 40 {
		t.Fatalf("the new key shown is %q, want a bmcp_ key", secret)
	}
	tab.WaitFor(testkit.TestID("shown-once"))
	if body := tab.Text(testkit.TestID("snippet-body-cursor")); !strings.Contains(body, secret) {
		t.Errorf("the Cursor configuration does not hold the new key:\n%s", body)
	}
	tab.Screenshot("key-created")

	// The copy button: the page's copy handler gets exactly the key, and so
	// does the clipboard.
	tab.Run(chromedp.Evaluate[chromedp.Void](`window.__copied = new Promise(resolve =>
		document.addEventListener("bizmcp:copied", e => resolve(e.detail.text), {once: true}))`))
	tab.Click(testkit.TestID("copy-new-key"))
	if copied := testkit.Eval[string](tab, `window.__copied`); copied != secret {
		t.Errorf("the copy button copied %q, want exactly the key %q", copied, secret)
	}
	if clip := testkit.Eval[string](tab, `navigator.clipboard.readText()`); clip != secret {
		t.Errorf("the clipboard holds %q after the copy button, want exactly the key %q", clip, secret)
	}

	// The key is real: it works over REST, with the scope and expiry asked.
	if st := toolsStatus(t, srv, secret); st != http.StatusOK {
		t.Fatalf("GET /api/v1/tools with the new key: %d, want 200", st)
	}
	key := keyNamed(t, srv, "cursor-alice")
	if !slices.Equal(key.Scopes, []string{"read"}) {
		t.Errorf("scopes %v, want [read]", key.Scopes)
	}
	if key.ExpiresAt == nil || key.ExpiresAt.Before(time.Now().AddDate(0, 0, 29)) || key.ExpiresAt.After(time.Now().AddDate(0, 0, 31)) {
		t.Errorf("expires at %v, want 30 days from now", key.ExpiresAt)
	}

	// Revoke it from the list: confirm in the row, then the row turns to
	// revoked where it is, without a page load.
	tab.Submit(testkit.TestID("back-to-keys"))
	tab.WaitFor(testkit.TestID("key-rows"))
	if loc := testkit.Value(tab, chromedp.Location()); !strings.HasSuffix(loc, "/keys") {
		t.Errorf("back to the keys leads to %s", loc)
	}
	openLiveKeys(t, tab)
	tab.WaitFor(rowOf(key.ID, `[data-state="active"]`))
	tab.Click(rowOf(key.ID, ` [data-testid="revoke"]`))
	tab.WaitFor(rowOf(key.ID, ` [data-testid="revoke-confirm"]`))
	if q := tab.Text(rowOf(key.ID, ` [data-testid="revoke-confirm"]`)); !strings.Contains(q, "cursor-alice") {
		t.Errorf("the confirmation %q does not name the key", q)
	}
	tab.Screenshot("revoke-confirm")
	tab.Click(rowOf(key.ID, ` [data-testid="revoke-yes"]`))
	tab.WaitFor(rowOf(key.ID, `[data-state="revoked"]`))
	if st := tab.Text(rowOf(key.ID, ` [data-testid="state"]`)); st != "revoked" {
		t.Errorf("the row's status reads %q, want revoked", st)
	}
	assertSamePage(t, tab)
	if n := testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="key-row"][data-key-id="`+key.ID+`"]').length`); n != 1 {
		t.Errorf("the revoked key has %d rows, want 1", n)
	}
	if st := toolsStatus(t, srv, secret); st != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/tools with the revoked key: %d, want 401", st)
	}
}

// createKeyUI creates a read key named name through the dashboard's form
// and returns its secret, as shown once.
func createKeyUI(t *testing.T, tab *testkit.Tab, name string) string {
	t.Helper()
	tab.Open("/keys/new")
	tab.Run(
		chromedp.WaitVisible(testkit.TestID("key-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
	)
	if st := tab.Submit(testkit.TestID("key-submit")); st != http.StatusCreated {
		t.Fatalf("creating key %q in the dashboard: status %d, want 201", name, st)
	}
	return tab.Text(testkit.TestID("new-key-secret"))
}

// revokeKeyUI revokes the key with this id from the keys list: revoke,
// then confirm, and waits for its row to read revoked.
func revokeKeyUI(t *testing.T, tab *testkit.Tab, id string) {
	t.Helper()
	openLiveKeys(t, tab)
	tab.Click(rowOf(id, ` [data-testid="revoke"]`))
	tab.Click(rowOf(id, ` [data-testid="revoke-yes"]`))
	tab.WaitFor(rowOf(id, `[data-state="revoked"]`))
}
