// Package mcphttp serves one MCP server over Streamable HTTP in both protocol
// revisions bizmcp speaks, on one URL:
//
//   - 2026-07-28, stateless: no initialize and no session; every request
//     carries its protocol version (the MCP-Protocol-Version header and
//     _meta) and its client capabilities, so any instance can answer it.
//   - 2025-11-25 (and the older revisions it negotiates down to), stateful:
//     initialize, an Mcp-Session-Id, the GET stream and server-to-client
//     requests; a session lives in the instance that created it.
//
// The Go SDK serves 2026-07-28 only from a stateless handler and sessions
// only from a stateful one, so Handler holds one of each and sends every
// request to the right one by the version it declares. Before either sees a
// request, Handler also refuses what the SDK would mishandle: a body that is
// not exactly one JSON value (the SDK reads the first and silently drops the
// rest), invalid UTF-8, a 2026 request that carries a session id, and a
// resources/read URI holding control characters (the SDK's not-found error
// echoes such a URI in a form that is not valid JSON and kills the session).
//
// A 2026 request is answered with a plain application/json body when nothing
// can be sent before its response: no progress token and no log level in its
// _meta, and not a subscriptions/listen. Those are the only ways a stateless
// request receives notifications (a stateless server cannot make requests of
// the client), so the SSE stream would carry the response alone; the JSON
// answer saves its framing and flushes. A request that asks for progress or
// log messages gets the SSE stream, and them.
//
// Handler is transport plumbing only: authentication, Origin checks and rate
// limits stay with the caller's middleware, which wraps it.
package mcphttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Protocol revisions and the wire names the router reads.
const (
	// Stateless is the first revision served without sessions.
	Stateless = "2026-07-28"
	// Stateful is the newest revision that uses the initialize handshake.
	Stateful = "2025-11-25"

	headerProtocolVersion = "Mcp-Protocol-Version"
	headerSessionID       = "Mcp-Session-Id"
	headerName            = "Mcp-Name"
	methodDiscover        = "server/discover"
	methodReadResource    = "resources/read"
	metaProgressToken     = "progressToken"
)

// Options configure a Handler.
type Options struct {
	Logger *slog.Logger
	// MaxRequestBodyBytes bounds a POST body (the SDK's default when zero).
	MaxRequestBodyBytes int64
	// SessionTimeout closes 2025-11-25 sessions idle this long (never when
	// zero).
	SessionTimeout time.Duration
	// EventStore makes 2025-11-25 streams resumable (none when nil).
	EventStore mcp.EventStore
	// PropagateRequestCancellation cancels a 2026 request's handler when its
	// HTTP request ends: the POST is the whole life of such a request.
	PropagateRequestCancellation bool
	// Stopping, closed when the server shuts down, ends the listen streams
	// an extension serves (see Listen).
	Stopping <-chan struct{}
}

// Handler routes MCP requests to a stateless (2026-07-28) or a stateful
// (2025-11-25) SDK handler of the same server.
type Handler struct {
	// stateless answers with an SSE stream, statelessJSON with one JSON
	// body (see wantsStream).
	stateless     http.Handler
	statelessJSON http.Handler
	stateful      http.Handler
	maxBody       int64
	logger        *slog.Logger
	stopping      <-chan struct{}
}

// New returns a Handler serving server in both revisions.
func New(server *mcp.Server, o Options) *Handler {
	get := func(*http.Request) *mcp.Server { return server }
	if o.MaxRequestBodyBytes == 0 {
		o.MaxRequestBodyBytes = mcp.DefaultMaxRequestBodyBytes
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stateless := func(jsonResponse bool) http.Handler {
		return mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{
			Stateless: true, JSONResponse: jsonResponse, Logger: o.Logger, MaxRequestBodyBytes: o.MaxRequestBodyBytes,
			PropagateRequestCancellation: o.PropagateRequestCancellation,
		})
	}
	return &Handler{
		stateless:     stateless(false),
		statelessJSON: stateless(true),
		stateful: mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{
			Logger: o.Logger, MaxRequestBodyBytes: o.MaxRequestBodyBytes,
			SessionTimeout: o.SessionTimeout, EventStore: o.EventStore,
		}),
		maxBody:  o.MaxRequestBodyBytes,
		logger:   logger,
		stopping: o.Stopping,
	}
}

// message is the part of a JSON-RPC message the router reads.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type params struct {
	// Meta stays raw: the router reads one string of it and whether two
	// keys are present, and the SDK decodes it again anyway.
	Meta   map[string]json.RawMessage `json:"_meta"`
	URI    *string                    `json:"uri"`
	TaskID json.RawMessage            `json:"taskId"`
	// Notifications is the filter of a subscriptions/listen.
	Notifications json.RawMessage `json:"notifications"`
}

// ServeHTTP routes the request; see the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version := r.Header.Get(headerProtocolVersion)
	if r.Method != http.MethodPost {
		// GET (the 2025 stream) and DELETE (end a session) exist only with
		// sessions; the stateless handler answers 405 for a 2026 client.
		if version >= Stateless {
			h.stateless.ServeHTTP(w, r)
			return
		}
		h.stateful.ServeHTTP(w, r)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, nil, jsonrpc.CodeParseError, "could not read the request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	msg, batch, jerr := frame(body)
	if jerr != nil {
		writeError(w, http.StatusBadRequest, nil, jerr.Code, jerr.Message)
		return
	}
	var p params
	if !batch && len(msg.Params) > 0 {
		_ = json.Unmarshal(msg.Params, &p) // a malformed params is the SDK's to report
	}
	var metaVersion string
	if raw, ok := p.Meta[mcp.MetaKeyProtocolVersion]; ok {
		_ = json.Unmarshal(raw, &metaVersion) // not a string: no version
	}

	if !batch && msg.Method == methodReadResource && p.URI != nil {
		if err := checkURI(*p.URI); err != nil {
			writeError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidParams, err.Error())
			return
		}
	}

	// A request that names 2026-07-28 or later, in the header or in _meta,
	// or that asks server/discover (how a client learns what is served), is
	// stateless. The stateless handler then checks that header and _meta
	// agree, and answers an unknown version with the versions it serves.
	newProtocol := !batch && (version >= Stateless || metaVersion != "" || msg.Method == methodDiscover)
	if newProtocol {
		if r.Header.Get(headerSessionID) != "" && (version >= Stateless || metaVersion >= Stateless) {
			writeError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidRequest,
				"protocol version "+Stateless+" is stateless: send no Mcp-Session-Id header (sessions belong to "+Stateful+" and earlier)")
			return
		}
		if code, err := checkTaskName(r.Header, msg.Method, p.TaskID); err != nil {
			writeError(w, http.StatusBadRequest, msg.ID, code, err.Error())
			return
		}
		if msg.Method == methodListen {
			// Extensions may add their notifications to the stream.
			w, r = newListen(w, r, msg.ID, p.Notifications, h.stopping)
		}
		if wantsStream(msg.Method, p.Meta) {
			h.stateless.ServeHTTP(w, r)
		} else {
			h.statelessJSON.ServeHTTP(w, r)
		}
		return
	}
	h.stateful.ServeHTTP(w, r)
}

// wantsStream reports whether a 2026 request may receive notifications
// before its response, and so needs the SSE stream: a subscriptions/listen,
// or a request whose _meta carries a progress token (progress notifications)
// or a log level (log messages; the SDK sends none without one). Any other
// stateless request gets its response alone, as one JSON body.
func wantsStream(method string, meta map[string]json.RawMessage) bool {
	if method == methodListen {
		return true
	}
	_, progress := meta[metaProgressToken]
	_, logLevel := meta[mcp.MetaKeyLogLevel]
	return progress || logLevel
}

// checkTaskName extends the SDK's Mcp-Name check to the methods of the Tasks
// extension: SEP-2663 has a client set Mcp-Name to params.taskId on
// tasks/get, tasks/update and tasks/cancel (a load balancer may route on it),
// and SEP-2243 has a server refuse a missing or disagreeing header with
// -32020. A taskId that is not a string is -32602 before any header check.
func checkTaskName(h http.Header, method string, rawID json.RawMessage) (int64, error) {
	switch method {
	case "tasks/get", "tasks/update", "tasks/cancel":
	default:
		return 0, nil
	}
	var taskID string
	if len(rawID) > 0 && json.Unmarshal(rawID, &taskID) != nil {
		return jsonrpc.CodeInvalidParams, fmt.Errorf("invalid params: taskId must be a string, the taskId of a task handle")
	}
	name, ok := h[http.CanonicalHeaderKey(headerName)]
	if !ok {
		return mcp.CodeHeaderMismatch, fmt.Errorf("header mismatch: the Mcp-Name header is required on %s; set it to params.taskId", method)
	}
	if got := strings.TrimSpace(strings.Join(name, ",")); got != taskID {
		return mcp.CodeHeaderMismatch, fmt.Errorf("header mismatch: Mcp-Name header value %q does not match params.taskId %q", apperr.Truncate(got, 100), apperr.Truncate(taskID, 100))
	}
	return 0, nil
}

// frame checks that body is exactly one JSON value (an object, or an array
// for a legacy batch) in valid UTF-8, and decodes the router's view of a
// single message.
func frame(body []byte) (message, bool, *jsonrpc.Error) {
	var msg message
	if !utf8.Valid(body) {
		return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "parse error: the request body is not valid UTF-8"}
	}
	if depth := nesting(body); depth > MaxNesting {
		return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest,
			Message: fmt.Sprintf("invalid request: the JSON nests %d levels deep; at most %d", depth, MaxNesting)}
	}
	// One pass: an object is decoded straight into msg (a field of the
	// wrong type is an invalid request, once the whole value has been read),
	// anything else only checked.
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	dec := json.NewDecoder(bytes.NewReader(body))
	var typeErr error
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := dec.Decode(&msg); err != nil {
			var ute *json.UnmarshalTypeError
			if !errors.As(err, &ute) {
				return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "parse error: the request body is not JSON: " + err.Error()}
			}
			typeErr = err
		}
	} else {
		var first json.RawMessage
		if err := dec.Decode(&first); err != nil {
			return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "parse error: the request body is not JSON: " + err.Error()}
		}
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeParseError,
			Message: fmt.Sprintf("parse error: %d bytes after the JSON-RPC message; send one message per request", len(rest))}
	}
	switch trimmed[0] {
	case '[':
		return msg, true, nil
	case '{':
		if typeErr != nil {
			return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: " + typeErr.Error()}
		}
		return msg, false, nil
	default:
		return msg, false, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: a JSON-RPC message is a JSON object"}
	}
}

// MaxNesting bounds how deep a request's JSON may nest. No MCP message or
// tool argument needs more; the SDK's own bound (1000) answers in plain text,
// not JSON-RPC, and a deep document costs every decoder on the way.
const MaxNesting = 64

// nesting is the deepest nesting of objects and arrays in body (a valid or
// invalid JSON document; brackets inside strings are not counted). It stops
// counting once past MaxNesting.
func nesting(body []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > MaxNesting {
					return deepest
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// checkURI refuses URIs with control characters, before the SDK echoes one
// into an error it cannot encode.
func checkURI(uri string) error {
	for i, c := range uri {
		if c < 0x20 || (c >= 0x7f && c <= 0x9f) {
			return fmt.Errorf("invalid uri: control character %U at byte %d; percent-encode it or leave it out", c, i)
		}
	}
	if strings.TrimSpace(uri) == "" {
		return errors.New("invalid uri: it is empty")
	}
	return nil
}

// writeError answers with a JSON-RPC error, the way the SDK answers the
// errors it finds before a request reaches a session.
func writeError(w http.ResponseWriter, status int, id json.RawMessage, code int64, msg string) {
	resp := map[string]any{"jsonrpc": "2.0", "error": map[string]any{"code": code, "message": msg}}
	if len(id) > 0 && !bytes.Equal(id, []byte("null")) {
		resp["id"] = id
	} else {
		resp["id"] = nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}
