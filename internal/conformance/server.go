// Package conformance holds the fixture tools, resources and prompts that the
// official MCP conformance suite (@modelcontextprotocol/conformance) calls on
// a server under test.
//
// The fixtures are not business features: they exist so that `bizmcp serve
// --conformance` can mount them, next to the real MCP endpoint and behind the
// same HTTP middleware, and let the suite verify the transport, the protocol
// handling and the go-sdk wiring end to end. Names, URIs and payloads follow
// the suite's scenario descriptions for spec revision 2025-11-25 (the suite's
// `--requirements 2025-11-25` list) and the reference "everything" servers of
// the TypeScript and Go SDKs, because several scenarios assert exact values.
package conformance

import (
	"context"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/mcphttp"
	"github.com/bizmcp/bizmcp/internal/mcpstate"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
)

// ServerName is the implementation name the conformance server reports in
// its initialize result; it differs from the main server's so that a client
// (or a person reading the suite's logs) can tell the two endpoints apart.
const ServerName = "bizmcp-conformance"

// ServerVersion is the implementation version the conformance server reports.
// The fixtures change only when the suite does, so this is versioned on its
// own rather than with the binary.
const ServerVersion = "1.0.0"

// WatchedResourceURI is the resource the suite subscribes to and unsubscribes
// from; [WatchResource] sends update notifications for it.
const WatchedResourceURI = "test://watched-resource"

// sessionIdleTimeout closes sessions nobody uses: the conformance endpoint is
// unauthenticated, so sessions left behind by a crashed or careless client
// must not pile up for the life of the process.
const sessionIdleTimeout = 5 * time.Minute

// NewServer returns an MCP server holding every fixture that the suite's
// scored 2025-11-25 server scenarios call: the test_* tools, the test://
// resources and resource template, the test_* prompts, argument completion,
// logging and resource subscriptions.
//
// Each call returns a new, independent server; it keeps no state outside
// itself, so tests may build one per test.
func NewServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{
		Name:    ServerName,
		Title:   "bizmcp conformance fixtures",
		Version: ServerVersion,
	}, &mcp.ServerOptions{
		Instructions: "Fixture server for the MCP conformance suite. Not for business use.",
		// Setting these handlers is what makes the SDK advertise the
		// completions capability and resources.subscribe, and track
		// subscriptions per session for Server.ResourceUpdated.
		CompletionHandler:  complete,
		SubscribeHandler:   subscribe,
		UnsubscribeHandler: unsubscribe,
		SetCacheable:       setCacheable,
		// Logging is what a nil Capabilities would give; the tasks
		// extension must be named explicitly.
		Capabilities: &mcp.ServerCapabilities{Logging: &mcp.LoggingCapabilities{}, Extensions: mcptasks.Capability()},
	})
	// The fixtures run in one process for one suite run: a random key is
	// all their request state needs.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	addTools(srv)
	addStatelessTools(srv, mcpstate.NewSealer(secret))
	if err := addTaskTools(srv, mcptasks.NewMemory(taskTTL)); err != nil {
		// Only a programming error (a custom method shadowing a standard
		// one) gets here.
		panic(err)
	}
	addResources(srv)
	addPrompts(srv)
	return srv
}

// NewHandler returns the Streamable HTTP handler that serves srv the way the
// suite needs it, in both revisions on one URL (internal/mcphttp routes each
// request by its protocol version): 2026-07-28 statelessly, 2025-11-25 in
// sessions (the sampling and elicitation scenarios of that revision need
// server-to-client requests), with the SDK's DNS-rebinding protection on (a
// request reaching a loopback address with a non-localhost Host header gets
// 403, which the dns-rebinding-protection scenario checks), resumable
// 2025-11-25 streams (an event store, which the server-sse-polling scenario
// uses) and idle sessions closed after a while.
//
// opts may be nil. Its Logger, MaxRequestBodyBytes, SessionTimeout and
// EventStore are kept (the last two get the defaults above when unset); the
// rest is decided here, since the suite fails without it. Callers add their
// own middleware around the handler (cross-origin protection, logging); it
// applies no authentication.
func NewHandler(srv *mcp.Server, opts *mcp.StreamableHTTPOptions) http.Handler {
	var o mcphttp.Options
	if opts != nil {
		o = mcphttp.Options{Logger: opts.Logger, MaxRequestBodyBytes: opts.MaxRequestBodyBytes,
			SessionTimeout: opts.SessionTimeout, EventStore: opts.EventStore}
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = sessionIdleTimeout
	}
	if o.EventStore == nil {
		// Bounded in bytes (10 MiB by default), oldest streams purged first.
		o.EventStore = mcp.NewMemoryEventStore(nil)
	}
	return mcphttp.New(srv, o)
}

// WatchResource notifies the sessions subscribed to [WatchedResourceURI]
// that it changed, every interval, until ctx is done; it then returns
// ctx.Err(). It is optional: no scored scenario waits for an update, but a
// client exercising subscriptions by hand sees them arrive.
func WatchResource(ctx context.Context, srv *mcp.Server, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			// A failed notification concerns one session (for instance one
			// that just went away); the next tick tries again.
			_ = srv.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: WatchedResourceURI})
		}
	}
}

// subscribableURIs are the concrete resources a client may subscribe to.
func subscribableURIs() []string {
	return []string{staticTextURI, staticBinaryURI, WatchedResourceURI}
}

// subscribe accepts subscriptions to the fixture resources; the SDK records
// the subscription once this returns nil.
func subscribe(_ context.Context, req *mcp.SubscribeRequest) error {
	if !slices.Contains(subscribableURIs(), req.Params.URI) {
		return mcp.ResourceNotFoundError(req.Params.URI)
	}
	return nil
}

// unsubscribe accepts any unsubscription: dropping a subscription that does
// not exist is harmless, and the SDK forgets it either way.
func unsubscribe(context.Context, *mcp.UnsubscribeRequest) error {
	return nil
}

// complete suggests values for prompt arguments and template variables. The
// suite only checks the result's shape, but a real prefix match shows a
// client what completions look like.
func complete(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	var candidates []string
	if ref := req.Params.Ref; ref != nil {
		switch {
		case ref.Type == "ref/prompt" && ref.Name == promptWithArguments:
			candidates = []string{"paris", "park", "party", "test", "testing"}
		case ref.Type == "ref/resource" && ref.URI == templateURI && req.Params.Argument.Name == "id":
			candidates = []string{"1", "2", "3", "42", "123"}
		}
	}
	values := []string{}
	for _, c := range candidates {
		if strings.HasPrefix(c, req.Params.Argument.Value) {
			values = append(values, c)
		}
	}
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{
		Values: values,
		Total:  len(values),
	}}, nil
}
