package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	mcpgoserver "github.com/mark3labs/mcp-go/server"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The peers are bare MCP servers with one trivial tool, each run as its own
// process (this binary with -serve-peer), the way bizmcp runs: so every
// server has the machine's cores to itself and the same load generator, in
// the bench's process, drives them all.
const (
	peerMCPGo = "mcp-go"
	peerGoSDK = "go-sdk"
	peerEcho  = "net/http"

	// peerTool is the peers' trivial tool. It takes the same arguments as
	// the sales_forecaster call sent to bizmcp, so request bodies are alike.
	peerTool = "trivial"

	peerListening = "BENCH-PEER-LISTENING "
)

var peerKinds = []string{peerMCPGo, peerGoSDK, peerEcho}

// servePeer runs one peer server until SIGTERM or until its stdin closes
// (the bench went away).
func servePeer(kind string, stdout io.Writer) error {
	var h http.Handler
	switch kind {
	case peerMCPGo:
		h = mcpGoHandler()
	case peerGoSDK:
		h = goSDKHandler()
	case peerEcho:
		h = http.HandlerFunc(echoJSONRPC)
	default:
		return fmt.Errorf("unknown peer %q: use one of %s", kind, strings.Join(peerKinds, ", "))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%s%s\n", peerListening, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the bench closes it or exits
		stop()
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// startPeer runs this binary as a peer server.
func (e *env) startPeer(ctx context.Context, kind string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-peer", kind)
	cmd.Env = os.Environ()
	p, err := startProcess(ctx, e.o, "peer-"+strings.ReplaceAll(kind, "/", "-"), cmd, func(line []byte) string {
		s := string(line)
		if strings.HasPrefix(s, peerListening) {
			return strings.TrimPrefix(s, peerListening)
		}
		return ""
	}, false)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p, nil
}

type trivialIn struct {
	Series  []float64 `json:"series"`
	Horizon int       `json:"horizon,omitempty"`
}

// goSDKHandler is the official SDK as its documentation sets it up: the
// stateful handler for 2025-11-25 sessions and the stateless one for
// 2026-07-28, chosen by the protocol version header (the only routing a
// server serving both needs).
func goSDKHandler() http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "bench-go-sdk", Version: "1.0.0"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: peerTool, Description: "Counts the points it is given."},
		func(_ context.Context, _ *mcp.CallToolRequest, in trivialIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%d points", len(in.Series))}}}, nil, nil
		})
	get := func(*http.Request) *mcp.Server { return srv }
	stateful := mcp.NewStreamableHTTPHandler(get, nil)
	stateless := mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Stateless: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Protocol-Version") >= protoStateless {
			stateless.ServeHTTP(w, r)
			return
		}
		stateful.ServeHTTP(w, r)
	})
}

// mcpGoHandler is mark3labs/mcp-go with sessions validated (as bizmcp and
// the go-sdk's stateful handler do); it serves 2026-07-28 on the same
// handler.
func mcpGoHandler() http.Handler {
	s := mcpgoserver.NewMCPServer("bench-mcp-go", "1.0.0", mcpgoserver.WithToolCapabilities(false))
	tool := mcpgo.NewTool(peerTool, mcpgo.WithDescription("Counts the points it is given."),
		mcpgo.WithArray("series", mcpgo.Items(map[string]any{"type": "number"})), mcpgo.WithNumber("horizon"))
	s.AddTool(tool, func(_ context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
		series, _ := req.GetArguments()["series"].([]any)
		return mcpgo.NewToolResultText(fmt.Sprintf("%d points", len(series))), nil
	})
	return mcpgoserver.NewStreamableHTTPServer(s, mcpgoserver.WithStateful(true))
}

// echoJSONRPC answers any JSON-RPC request with a fixed tool result: the
// floor of what an HTTP JSON-RPC round trip costs on this machine.
func echoJSONRPC(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if len(req.ID) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(req.ID)
	b.WriteString(`,"result":{"content":[{"type":"text","text":"5 points"}]}}`)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}
