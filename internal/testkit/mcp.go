package testkit

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	headers map[string]string
	base    http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		r.Header.Set(k, v)
	}
	return t.base.RoundTrip(r)
}

// MCPClient connects the official Go SDK client to srv's /mcp with key as a
// bearer token. The session is closed when the test ends.
func MCPClient(t testing.TB, srv *Server, key string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "bizmcp-test", Version: "1.0.0"}, opts)
	transport := &mcp.StreamableClientTransport{
		Endpoint: srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: headerTransport{
			headers: map[string]string{"Authorization": "Bearer " + key},
			base:    http.DefaultTransport,
		}},
	}
	session, err := client.Connect(context.Background(), transport, nil)
	if err != nil {
		t.Fatalf("connect MCP client: %v", err)
	}
	t.Cleanup(func() {
		// Close waits for the connection's handlers; one stuck in a test's
		// callback must not hang the whole run.
		done := make(chan struct{})
		go func() { _ = session.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("MCP client session did not close within 10s")
		}
	})
	return session
}
