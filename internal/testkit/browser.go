package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// BrowserStepTimeout bounds one browser step (a navigation, a wait for an
// element): far above what a page needs, so that only a real failure (an
// element that never appears) reaches it.
const BrowserStepTimeout = 30 * time.Second

// Viewport sizes of the browser tests: a laptop screen and a phone's.
const (
	DesktopWidth, DesktopHeight = 1280, 900
	PhoneWidth, PhoneHeight     = 390, 844
)

// Chromium is a headless Chromium started for one test. Its tabs (NewTab)
// each get a browser context of their own, with their own cookies, so tabs
// signed in to different servers on 127.0.0.1 do not share a session
// (cookies ignore the port).
type Chromium struct {
	ctx    context.Context
	output *syncBuffer
}

// chromiumFlags are the only command-line flags the browser gets (chromedp
// adds the debugging pipe, the profile directory and about:blank): headless,
// no sandbox (tests run as root in CI), and nothing that reaches out to the
// network on its own, since the tests use loopback only.
var chromiumFlags = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-background-networking",
	"disable-component-update", "disable-sync", "no-first-run", "disable-quic",
}

// ChromiumPath is the browser the tests drive: $CHROMIUM, else Debian's
// /usr/bin/chromium.
func ChromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// StartChromium starts a headless Chromium with a fresh profile, stopped
// when the test ends. Without Chromium the test is skipped, unless
// BIZMCP_REQUIRE_BROWSER is set (CI sets it), in which case it fails.
func StartChromium(t testing.TB) *Chromium {
	t.Helper()
	path := ChromiumPath()
	if _, err := exec.LookPath(path); err != nil {
		msg := fmt.Sprintf("Chromium not found at %s (%v): install it (apt-get install chromium; make test does when it may) or set CHROMIUM to its path", path, err)
		if os.Getenv("BIZMCP_REQUIRE_BROWSER") != "" {
			t.Fatal(msg + "; BIZMCP_REQUIRE_BROWSER is set, so this fails instead of skipping")
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir())}
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	b := &Chromium{output: &syncBuffer{}}
	opts = append(opts, chromedp.CombinedOutput(b.output))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Registered after t.TempDir, so it runs first: the browser is gone
	// before its profile directory is removed.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output:\n%s", b.output.String())
		}
	})
	// The first run starts the browser and ties its life to ctx, so it gets
	// no timeout of its own (a timeout here would end the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, b.output.String())
	}
	b.ctx = ctx
	return b
}

// Tab is one browser tab, driven by a test. Its methods fail the test when
// a step fails or times out.
type Tab struct {
	t   testing.TB
	ctx context.Context
	// Base is the URL that relative paths given to Go are resolved against.
	Base string

	// The viewport the tab emulates, restored after a full-page screenshot.
	width, height int64
	viewportOpts  []chromedp.EmulateViewportOption

	mu         sync.Mutex
	dialogs    []string
	exceptions []string
}

// NewTab opens a tab in a browser context of its own (its own cookies and
// storage) at a desktop size, against the server at base. The tab records
// every JavaScript dialog (and dismisses it) and every uncaught exception;
// an uncaught exception fails the test when it ends.
func (b *Chromium) NewTab(t testing.TB, base string) *Tab {
	t.Helper()
	return newTab(t, b.ctx, base, chromedp.WithNewBrowserContext())
}

// NewTab opens another tab in the same browser context as tab: it shares
// tab's cookies, so it is signed in as tab is.
func (tab *Tab) NewTab(t testing.TB) *Tab {
	t.Helper()
	return newTab(t, tab.ctx, tab.Base)
}

func newTab(t testing.TB, parent context.Context, base string, opts ...chromedp.ContextOption) *Tab {
	t.Helper()
	tab := &Tab{t: t, Base: strings.TrimRight(base, "/")}
	opts = append(opts, chromedp.WithListener(tab.listen))
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(func() {
		tab.mu.Lock()
		defer tab.mu.Unlock()
		for _, e := range tab.exceptions {
			t.Errorf("uncaught JavaScript exception in the page: %s", e)
		}
		cancel()
	})
	tab.ctx = ctx
	tab.width, tab.height = DesktopWidth, DesktopHeight
	// The first run opens the tab and ties its event loop to the context
	// it is given: the tab's own, never a step's timeout, which would end
	// the loop with the step.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(DesktopWidth, DesktopHeight)); err != nil {
		t.Fatalf("open a browser tab: %v", err)
	}
	return tab
}

// listen runs in the tab's event loop: it must return at once and send no
// command itself.
func (tab *Tab) listen(ev any) {
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		tab.mu.Lock()
		tab.dialogs = append(tab.dialogs, string(ev.Type)+": "+ev.Message)
		tab.mu.Unlock()
		// A dialog blocks the page: dismiss it, from outside the loop.
		go func() {
			_, _ = chromedp.Call(tab.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		tab.mu.Lock()
		tab.exceptions = append(tab.exceptions, fmt.Sprintf("%s (%s:%d)", text, d.URL, d.LineNumber+1))
		tab.mu.Unlock()
	}
}

// Dialogs returns the JavaScript dialogs (alert, confirm, prompt) the tab's
// pages opened so far.
func (tab *Tab) Dialogs() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.dialogs...)
}

// Context is the tab's chromedp context, for actions this type does not
// wrap. Give it a timeout before a step that waits.
func (tab *Tab) Context() context.Context { return tab.ctx }

func (tab *Tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tab.ctx, BrowserStepTimeout)
}

// Run runs the steps in order, within BrowserStepTimeout.
func (tab *Tab) Run(steps ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tab.t.Fatalf("browser: %v (page %s)", err, tab.location())
	}
}

// Value runs one action that returns a value, within BrowserStepTimeout.
func Value[T any](tab *Tab, a chromedp.Action[T]) T {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tab.t.Fatalf("browser: %v (page %s)", err, tab.location())
	}
	return v
}

func (tab *Tab) location() string {
	ctx, cancel := context.WithTimeout(tab.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	return loc
}

// Open navigates to path on the tab's server and waits for the page's load.
func (tab *Tab) Open(path string) {
	tab.t.Helper()
	tab.Run(chromedp.Navigate(tab.Base + path))
}

// OpenStatus navigates to path and returns the HTTP status of the page.
func (tab *Tab) OpenStatus(path string) int {
	tab.t.Helper()
	resp := Value(tab, chromedp.NavigateResponse(tab.Base+path))
	return int(resp.Status)
}

// Submit clicks the first selected element (a submit button, a link) and
// waits for the page it leads to, returning that page's HTTP status.
func (tab *Tab) Submit(sel chromedp.CSS) int {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	for {
		tab.Run(chromedp.WaitVisible(sel))
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
		if err == nil {
			return int(resp.Status)
		}
		if !nodeSwapped(err) || ctx.Err() != nil {
			tab.t.Fatalf("browser: click %s and wait for the next page: %v (page %s)", sel, err, tab.location())
		}
	}
}

// TestID selects the elements whose data-testid is id, with more CSS
// after it (e.g. TestID("key-row", "[data-state=revoked]")).
func TestID(id string, more ...string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf("[data-testid=%q]", id) + strings.Join(more, ""))
}

// WaitFor waits until the selected element is visible.
func (tab *Tab) WaitFor(sel chromedp.CSS) {
	tab.t.Helper()
	tab.Run(chromedp.WaitVisible(sel))
}

// Text returns the visible text of the first selected element, waiting for
// it to be visible. The element is found and read in one evaluation in the
// page: live pages swap rows in place, and a node found by one protocol
// call may be gone by the next.
func (tab *Tab) Text(sel chromedp.CSS) string {
	tab.t.Helper()
	return strings.TrimSpace(tab.pollElement(sel, `e.offsetWidth || e.offsetHeight || e.getClientRects().length ? {v: e.innerText} : null`))
}

// Attr returns an attribute of the first selected element, waiting for it
// to be in the page ("" when the element lacks it). Like Text, it finds
// and reads in one evaluation.
func (tab *Tab) Attr(sel chromedp.CSS, name string) string {
	tab.t.Helper()
	nameJS, _ := json.Marshal(name)
	return tab.pollElement(sel, `({v: e.getAttribute(`+string(nameJS)+`) ?? ""})`)
}

// pollElement evaluates read (an expression over e, the first element sel
// selects, giving {v: string} or null) every 50 ms until it is not null.
func (tab *Tab) pollElement(sel chromedp.CSS, read string) string {
	tab.t.Helper()
	selJS, _ := json.Marshal(string(sel))
	expr := `(() => { const e = document.querySelector(` + string(selJS) + `); return e ? (` + read + `) : null })()`
	ctx, cancel := tab.step()
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Poll[struct{ V string }](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(BrowserStepTimeout)))
	if err != nil {
		tab.t.Fatalf("browser: waiting for %s: %v (page %s)", sel, err, tab.location())
	}
	return got.V
}

// Click clicks the first selected element once it is visible. A live
// page may swap the element between finding it and clicking it; the click
// is then tried again on the new one (the protocol fails before any mouse
// event is sent, so no click is doubled).
func (tab *Tab) Click(sel chromedp.CSS) {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	for {
		err := chromedp.Do(ctx, chromedp.WaitVisible(sel), chromedp.Click(sel))
		if err == nil {
			return
		}
		if !nodeSwapped(err) || ctx.Err() != nil {
			tab.t.Fatalf("browser: click %s: %v (page %s)", sel, err, tab.location())
		}
	}
}

// nodeSwapped reports whether err says a node found a moment ago has left
// the document.
func nodeSwapped(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "No node with given id") || strings.Contains(msg, "Could not find node") ||
		strings.Contains(msg, "Node is detached") || strings.Contains(msg, "Could not compute box model")
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](tab *Tab, expr string) T {
	tab.t.Helper()
	return Value(tab, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// WaitTrue waits until a JavaScript expression is truthy in the page. It
// is evaluated in the page every 50 ms, so it sees state that changes
// without a DOM change too (a variable an event handler sets).
func (tab *Tab) WaitTrue(expr string) {
	tab.t.Helper()
	ctx, cancel := tab.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(BrowserStepTimeout))); err != nil {
		tab.t.Fatalf("browser: waiting for %s: %v (page %s)", expr, err, tab.location())
	}
}

// SignIn signs in on the login page with key and waits for the signed-in
// page.
func (tab *Tab) SignIn(key string) {
	tab.t.Helper()
	tab.Open("/login")
	tab.Run(chromedp.WaitVisible(TestID("login-form")), chromedp.SendKeys(chromedp.CSS("#api_key"), key))
	tab.Submit(TestID("login-submit"))
	tab.WaitFor(TestID("session-key"))
}

// Cookie returns the tab's cookie named name for its server ("" if none):
// the session cookie is HttpOnly, so the page cannot read it.
func (tab *Tab) Cookie(name string) *http.Cookie {
	tab.t.Helper()
	res := Value(tab, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tab.Base + "/"}})
	})
	for _, c := range res.Cookies {
		if c.Name == name {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return nil
}

// GrantClipboard lets the tab's pages read and write the clipboard without
// asking, so a test can read what a copy button copied.
func (tab *Tab) GrantClipboard() {
	tab.t.Helper()
	bctx := chromedp.FromContext(tab.ctx).BrowserContextID
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(tab.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:          browser.PermissionSettingGranted,
			Origin:           tab.Base,
			BrowserContextID: bctx,
		})
		if err != nil {
			tab.t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// OnNewDocument runs script in every page the tab loads from now on,
// before the page's own scripts (e.g. to count events from the start).
func (tab *Tab) OnNewDocument(script string) {
	tab.t.Helper()
	_ = Value(tab, func(ctx context.Context, t *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
	})
}

// SetViewport resizes the tab's viewport (e.g. PhoneWidth, PhoneHeight).
func (tab *Tab) SetViewport(width, height int64, opts ...chromedp.EmulateViewportOption) {
	tab.t.Helper()
	tab.Run(chromedp.EmulateViewport(width, height, opts...))
	tab.width, tab.height, tab.viewportOpts = width, height, opts
}

// Screenshot saves a full-page PNG of the current page as
// docs/screenshots/NAME.png, only when BIZMCP_SCREENSHOTS=1 (make
// screenshots), so that ordinary test runs leave the tree alone.
func (tab *Tab) Screenshot(name string) {
	tab.t.Helper()
	if os.Getenv("BIZMCP_SCREENSHOTS") != "1" {
		return
	}
	// Wait for web fonts, take the focus out of the picture, and measure
	// the page.
	height := Eval[int64](tab, `document.fonts.ready.then(() => {
		if (document.activeElement) document.activeElement.blur();
		return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
	})`)
	// The whole page at the tab's width: the viewport grows to the page's
	// height for the picture (a capture beyond the viewport would make
	// room for a scrollbar and lose its width), then is put back.
	height = max(height, tab.height)
	tab.Run(chromedp.EmulateViewport(tab.width, height, tab.viewportOpts...))
	png := Value(tab, chromedp.CaptureScreenshot())
	tab.Run(chromedp.EmulateViewport(tab.width, tab.height, tab.viewportOpts...))
	dir := filepath.Join(ModuleRoot(tab.t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tab.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}

// ModuleRoot is the directory of go.mod above the test's working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
