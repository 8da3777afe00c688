package browsertest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// testPages opens every page of the navigation: each answers 200 with its
// heading and marks itself current in the navigation; the connect page
// has every client's configuration; the keys list fits a phone's width.
// With BIZMCP_SCREENSHOTS=1 it also saves their pictures.
func testPages(t *testing.T, chrome *testkit.Chromium) {
	srv := testkit.StartServer(t)
	// A list with something in it: a used key, an expiring one, a revoked
	// one.
	used := createKeyREST(t, srv, "cursor-alice", "read")
	if st := toolsStatus(t, srv, used.Secret); st != http.StatusOK {
		t.Fatalf("use a key: %d", st)
	}
	createKeyREST(t, srv, "ci-pipeline", "read,write")
	gone := createKeyREST(t, srv, "old-laptop", "read,write")
	if resp, body := srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+gone.ID, srv.AdminKey, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}

	tab := newTab(t, chrome, srv.URL)
	tab.SignIn(srv.AdminKey)
	// The pages of the business (overview, agents, tasks, tools,
	// messages) are pictured by testWork, with work in them.
	for _, p := range []struct{ path, picture, nav string }{
		{"/", "", "/"},
		{"/keys", "keys", "/keys"},
		{"/connect", "connect", "/connect"},
		{"/agents", "", "/agents"},
		{"/tasks", "", "/tasks"},
		{"/tools", "", "/tools"},
		{"/messages", "", "/messages"},
	} {
		if st := tab.OpenStatus(p.path); st != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p.path, st)
			continue
		}
		if h := tab.Text("main h1"); h == "" {
			t.Errorf("%s has no heading", p.path)
		}
		if testkit.Eval[bool](tab, `!!document.querySelector('[data-testid="live-badge"]')`) {
			tab.WaitFor(testkit.TestID("live-badge", `[data-state="live"]`))
		}
		if cur := tab.Attr(`nav a[aria-current="page"]`, "href"); cur != p.nav {
			t.Errorf("%s: the navigation marks %q as current, want %q", p.path, cur, p.nav)
		}
		if p.picture != "" {
			tab.Screenshot(p.picture)
		}
	}

	tab.Open("/connect")
	if ep := tab.Text(testkit.TestID("endpoint")); !strings.HasSuffix(ep, "/mcp") {
		t.Errorf("the connect page's endpoint is %q, want this server's /mcp", ep)
	}
	for _, id := range []string{"claude-code", "cursor", "vscode", "windsurf", "claude-desktop", "inspector"} {
		if body := tab.Text(testkit.TestID("snippet-body-" + id)); !strings.Contains(body, "/mcp") {
			t.Errorf("the %s configuration does not name the endpoint:\n%s", id, body)
		}
	}

	// A phone: the page itself does not scroll sideways (a wide table may,
	// inside its own box).
	tab.SetViewport(testkit.PhoneWidth, testkit.PhoneHeight, chromedp.EmulateMobile)
	openLiveKeys(t, tab)
	if w := testkit.Eval[[]int](tab, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
		t.Errorf("at phone width the keys page is %d px wide on a %d px screen: it scrolls sideways", w[0], w[1])
	}
	tab.Screenshot("keys-phone")
}
