package browsertest

import (
	"net/http"
	"testing"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// countLiveMessages makes every page of the tab count the messages its
// live channel has applied, in window.__live.
func countLiveMessages(tab *testkit.Tab) *testkit.Tab {
	tab.OnNewDocument(`window.__live = 0;
		document.addEventListener("htmx:wsAfterMessage", () => { window.__live++; });`)
	return tab
}

// newTab opens a tab of its own session that counts live messages.
func newTab(t *testing.T, chrome *testkit.Chromium, base string) *testkit.Tab {
	t.Helper()
	return countLiveMessages(chrome.NewTab(t, base))
}

// openLiveKeys opens the keys list and waits until its live channel is
// open and has applied its first message, the snapshot of the list. The
// snapshot replaces the table's body (all but the actions cells of keys
// that can still be revoked), so a look at the rows before it lands could
// see them change.
func openLiveKeys(t *testing.T, tab *testkit.Tab) {
	t.Helper()
	tab.Open("/keys")
	tab.WaitFor(testkit.TestID("live-badge", `[data-state="live"]`))
	tab.WaitTrue(`window.__live >= 1`)
	// Set on this page only: a reload would drop it, so its survival
	// proves that the changes below arrived without one.
	tab.WaitTrue(`(window.__samePage = true)`)
}

func assertSamePage(t *testing.T, tab *testkit.Tab) {
	t.Helper()
	if !testkit.Eval[bool](tab, `window.__samePage === true`) {
		t.Error("the page was reloaded; live changes must arrive without a reload")
	}
}

// rowCount is how many rows the open page shows for the key with this id.
func rowCount(tab *testkit.Tab, id string) int {
	return testkit.Eval[int](tab, `document.querySelectorAll('[data-testid="key-row"][data-key-id="`+id+`"]').length`)
}

// testLiveAcrossInstances: a keys page open in a second browser, signed in
// on a second instance, shows a key created in the first browser, its
// revocation, and a key created over REST, without reload.
func testLiveAcrossInstances(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	other := srv.StartInstance(t)

	admin := newTab(t, chrome, srv.URL)
	admin.SignIn(srv.AdminKey)
	watcher := newTab(t, chrome, other.URL)
	watcher.SignIn(srv.AdminKey)
	openLiveKeys(t, watcher)

	createKeyUI(t, admin, "made-in-browser-one")
	made := keyNamed(t, srv, "made-in-browser-one")
	watcher.WaitFor(rowOf(made.ID, `[data-state="active"]`))
	if name := watcher.Text(rowOf(made.ID, ` [data-testid="key-name"]`)); name != "made-in-browser-one" {
		t.Errorf("the live row is named %q", name)
	}

	revokeKeyUI(t, admin, made.ID)
	watcher.WaitFor(rowOf(made.ID, `[data-state="revoked"]`))

	rest := createKeyREST(t, srv, "made-over-rest", "read")
	watcher.WaitFor(rowOf(rest.ID, `[data-state="active"]`))

	// Newest first, each key once.
	first := testkit.Eval[string](watcher, `document.querySelector('[data-testid="key-row"]').dataset.keyId`)
	if first != rest.ID {
		t.Errorf("the first row is key %s, want the newest, %s", first, rest.ID)
	}
	for _, id := range []string{made.ID, rest.ID} {
		if n := rowCount(watcher, id); n != 1 {
			t.Errorf("key %s has %d rows, want 1", id, n)
		}
	}
	assertSamePage(t, watcher)
}

// testReconnect: when the instance a keys page is connected to stops, its
// badge says reconnecting; when it is back, the badge says live again and
// the list shows what changed meanwhile, without reload, and a revoke
// confirmation that was open stays open (the snapshot keeps the row's
// actions cell).
func testReconnect(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	doomed := createKeyREST(t, srv, "revoked-while-away", "read")
	kept := createKeyREST(t, srv, "being-revoked", "read")
	inst := srv.StartInstance(t)

	tab := newTab(t, chrome, inst.URL)
	tab.SignIn(srv.AdminKey)
	openLiveKeys(t, tab)
	tab.WaitFor(rowOf(doomed.ID, `[data-state="active"]`))
	tab.Click(rowOf(kept.ID, ` [data-testid="revoke"]`))
	tab.WaitFor(rowOf(kept.ID, ` [data-testid="revoke-confirm"]`))

	addr := inst.Addr()
	if err := inst.Stop(); err != nil {
		t.Fatalf("stop the instance: %v", err)
	}
	tab.WaitFor(testkit.TestID("live-badge", `[data-state="reconnecting"]`))

	// Changes while the page is cut off, made on the other instance.
	made := createKeyREST(t, srv, "made-while-away", "read")
	resp, body := srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+doomed.ID, srv.AdminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke over REST: %d %s", resp.StatusCode, body)
	}

	srv.StartInstanceOn(t, addr)
	tab.WaitFor(testkit.TestID("live-badge", `[data-state="live"]`))
	tab.WaitFor(rowOf(made.ID, `[data-state="active"]`))
	tab.WaitFor(rowOf(doomed.ID, `[data-state="revoked"]`))
	if n := rowCount(tab, made.ID); n != 1 {
		t.Errorf("the key made while away has %d rows, want 1", n)
	}
	if testkit.Eval[bool](tab, `!!document.querySelector('[data-key-id="`+doomed.ID+`"] [data-testid="revoke"]')`) {
		t.Error("the key revoked while away still offers revoke")
	}
	// The confirmation opened before the outage is still there, and works.
	tab.WaitFor(rowOf(kept.ID, `[data-state="active"] [data-testid="revoke-confirm"]`))
	tab.Click(rowOf(kept.ID, ` [data-testid="revoke-yes"]`))
	tab.WaitFor(rowOf(kept.ID, `[data-state="revoked"]`))
	assertSamePage(t, tab)
}
