package handlers_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// liveConn reads a dashboard /ws connection in the background.
type liveConn struct {
	conn *websocket.Conn
	msgs chan string
	err  error
	done chan struct{}
}

// dialLive opens the live channel of a page as the signed-in browser b.
func dialLive(t *testing.T, srv *testkit.Server, b *testkit.FormClient, query string) (*liveConn, *http.Response, []byte) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	h := http.Header{"Origin": {srv.URL}}
	for _, c := range b.Client.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	conn, resp, body := testkit.DialWSWith(t, &websocket.Dialer{HandshakeTimeout: 10 * time.Second}, srv, "/ws?"+query, h)
	if conn == nil {
		return nil, resp, body
	}
	lc := &liveConn{conn: conn, msgs: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(lc.done)
		for {
			_, m, err := conn.ReadMessage()
			if err != nil {
				lc.err = err
				return
			}
			lc.msgs <- string(m)
		}
	}()
	return lc, resp, nil
}

// await returns the first message containing every one of want.
func (lc *liveConn) await(t *testing.T, want ...string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-lc.msgs:
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(m, w)
			}
			if ok {
				return m
			}
		case <-lc.done:
			t.Fatalf("live channel closed while waiting for %q: %v", want, lc.err)
		case <-timeout:
			t.Fatalf("no live message with %q within 15s", want)
		}
	}
}

// closed waits for the server to close the channel and returns its code.
func (lc *liveConn) closed(t *testing.T) int {
	t.Helper()
	select {
	case <-lc.done:
	case <-time.After(15 * time.Second):
		t.Fatal("live channel still open after 15s")
	}
	var ce *websocket.CloseError
	require.True(t, errors.As(lc.err, &ce), "closed without a close frame: %v", lc.err)
	return ce.Code
}

// A key created or revoked anywhere (REST, CLI, another instance) reaches
// an open keys page on another instance; a reconnect starts with a
// snapshot; revoking the session's own key ends the channel.
func TestDashboardLiveKeys(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	other := srv.StartInstance(t)
	operator := testkit.CreateKey(t, srv.Env, "operator", "admin")
	b := other.NewFormClient(t)
	b.SignIn(t, operator)

	lc, resp, body := dialLive(t, other, b, "page=keys")
	require.NotNil(t, lc, "status %d: %s", resp.StatusCode, body)
	snap := lc.await(t, `id="key-rows"`)
	require.Contains(t, snap, `hx-swap-oob="outerHTML"`)
	require.Contains(t, snap, "operator")

	// Over REST, on the first instance.
	created := createKey(t, srv, `{"name":"made-over-rest","scopes":["read"]}`)
	msg := lc.await(t, "made-over-rest")
	require.Contains(t, msg, `hx-swap-oob="afterbegin:#key-rows"`)
	require.Contains(t, msg, `id="key-`+created.ID+`"`)

	// With the CLI, which publishes through Redis.
	testkit.CreateKey(t, srv.Env, "made-with-cli", "read")
	lc.await(t, "made-with-cli")

	// Revoked on the first instance: the row turns to revoked in place.
	resp, _ = srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+created.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	msg = lc.await(t, `id="key-`+created.ID+`"`, `data-state="revoked"`)
	require.Contains(t, msg, `hx-swap-oob="outerHTML"`)

	// A page filtered to revoked keys gets no new active keys.
	filtered, _, _ := dialLive(t, other, b, "page=keys&state=revoked")
	require.Contains(t, filtered.await(t, `id="key-rows"`), "made-over-rest")
	createKey(t, srv, `{"name":"active-one","scopes":["read"]}`)
	lc.await(t, "active-one")
	select {
	case m := <-filtered.msgs:
		require.NotContains(t, m, "active-one")
	default:
	}

	// Revoking the operator's own key ends the session and the channel.
	_, list := srv.Do(t, http.MethodGet, "/api/v1/admin/keys?limit=200", srv.AdminKey, nil)
	resp, _ = srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+keyIDByName(t, list, "operator"), srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 4401, lc.closed(t))
}

func TestDashboardLiveRefusals(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)

	// No session: 401 (a socket cannot follow a redirect to sign in).
	lc, resp, _ := dialLive(t, srv, b, "page=keys")
	require.Nil(t, lc)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	b.SignIn(t, srv.AdminKey)
	u, _ := url.Parse(srv.URL)
	h := http.Header{"Origin": {"https://evil.example"}}
	for _, c := range b.Client.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	conn, resp, body := testkit.DialWSWith(t, &websocket.Dialer{HandshakeTimeout: 10 * time.Second}, srv, "/ws?page=keys", h)
	require.Nil(t, conn)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))

	lc, resp, _ = dialLive(t, srv, b, "page=nothing")
	require.Nil(t, lc)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// A plain GET is told what /ws is.
	resp, _ = b.Get(t, "/ws?page=keys")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// On shutdown the server closes live channels with 1012, the code the htmx
// ws extension reconnects after.
func TestDashboardLiveShutdown(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	b := srv.NewFormClient(t)
	b.SignIn(t, srv.AdminKey)
	lc, resp, body := dialLive(t, srv, b, "page=keys")
	require.NotNil(t, lc, "status %d: %s", resp.StatusCode, body)
	lc.await(t, `id="key-rows"`)
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	require.Equal(t, websocket.CloseServiceRestart, lc.closed(t))
	require.NoError(t, <-stopped)
}
