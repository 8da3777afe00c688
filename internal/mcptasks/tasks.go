// Package mcptasks implements the MCP Tasks extension
// (io.modelcontextprotocol/tasks, SEP-2663) on top of the Go SDK, which does
// not implement it: a tools/call of a task-supporting tool from a client that
// declared the extension answers at once with a task handle (a
// CreateTaskResult), and the client follows the task with tasks/get, answers
// its input requests with tasks/update and stops it with tasks/cancel.
//
// Where tasks live is a Backend's business: bizmcp's real MCP server keeps
// them as durable orchestrator tasks (a PostgreSQL row and a River job, so
// any instance answers tasks/get), the conformance fixtures in memory. The
// extension itself only speaks the wire: it decides per call whether a task
// is created (the tool's declared support and the client's declared
// capability), gates the tasks/* methods on the capability, and shapes the
// results.
package mcptasks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// ExtensionID names the extension in capabilities.
const ExtensionID = "io.modelcontextprotocol/tasks"

// The methods of the extension.
const (
	MethodGet    = "tasks/get"
	MethodUpdate = "tasks/update"
	MethodCancel = "tasks/cancel"
)

// Status is a task's state on the wire.
type Status string

// The task states of SEP-2663.
const (
	Working       Status = "working"
	InputRequired Status = "input_required"
	Completed     Status = "completed"
	Failed        Status = "failed"
	Cancelled     Status = "cancelled"
)

// Terminal reports whether a task in status s is over.
func (s Status) Terminal() bool { return s == Completed || s == Failed || s == Cancelled }

// Task is what a Backend knows of a task.
type Task struct {
	ID            string
	Status        Status
	StatusMessage string
	CreatedAt     time.Time
	LastUpdatedAt time.Time
	// TTL is how long the task stays readable after its creation; zero
	// means unlimited (ttlMs null).
	TTL time.Duration
	// PollInterval suggests how often to call tasks/get.
	PollInterval time.Duration
	// Result is the tool's result once Completed (a tool that failed is
	// Completed with Result.IsError: Failed is for protocol errors).
	Result *mcp.CallToolResult
	// Error is the protocol error of a Failed task.
	Error *jsonrpc.Error
	// InputRequests are the questions still open while InputRequired.
	InputRequests mcp.InputRequestMap
}

// Backend stores tasks. owner identifies the caller (the API key); a task
// of another owner, like an unknown one, is apperr.NotFound, with no hint
// that it exists.
type Backend interface {
	Get(ctx context.Context, owner, id string) (Task, error)
	// Cancel stops a task; cancelling a task that is already over is not
	// an error.
	Cancel(ctx context.Context, owner, id string) error
	// Update hands the task answers to (some of) its input requests, as
	// sent, and returns the keys it ignored: SEP-2663 has a server ignore
	// answers to requests that are not outstanding (never asked, already
	// answered, or a task that asks nothing now), since a client's answer
	// may cross the task's own progress. DecodeResponse reads the others;
	// one that is not an answer fails the whole update, applying nothing.
	Update(ctx context.Context, owner, id string, responses map[string]json.RawMessage) (ignored []string, err error)
}

// Support is how a tool takes part in tasks.
type Support int

const (
	// Forbidden tools always answer synchronously (the default).
	Forbidden Support = iota
	// Optional tools run as a task when the client declared the
	// extension, and synchronously otherwise.
	Optional
	// Required tools only run as a task; a client that did not declare
	// the extension gets -32021.
	Required
)

// Capability is the value to put under ServerCapabilities.Extensions.
func Capability() map[string]any { return map[string]any{ExtensionID: map[string]any{}} }

// Install adds the extension to srv: the tasks/* methods, and task creation
// for the tools in support. The server must advertise Capability().
func Install(srv *mcp.Server, backend Backend, support map[string]Support) error {
	x := &extension{backend: backend, support: support, listens: listenCount{n: map[string]int{}}}
	noop := func(context.Context, *mcp.ServerSession, *idParams) (*ackResult, error) {
		return nil, fmt.Errorf("tasks methods are served by the tasks middleware")
	}
	for _, m := range []string{MethodGet, MethodCancel} {
		if err := mcp.AddReceivingCustomMethod(srv, m, noop); err != nil {
			return err
		}
	}
	if err := mcp.AddReceivingCustomMethod(srv, MethodUpdate, func(context.Context, *mcp.ServerSession, *updateParams) (*ackResult, error) {
		return nil, fmt.Errorf("tasks methods are served by the tasks middleware")
	}); err != nil {
		return err
	}
	srv.AddReceivingMiddleware(x.middleware)
	return nil
}

type extension struct {
	backend Backend
	support map[string]Support
	// listens counts the task listens open per owner on this instance.
	listens listenCount
}

type idParams struct {
	mcp.ParamsBase
	TaskID string `json:"taskId"`
}

type updateParams struct {
	mcp.ParamsBase
	TaskID         string                     `json:"taskId"`
	InputResponses map[string]json.RawMessage `json:"inputResponses"`
}

// DecodeResponse reads one answer of a tasks/update as the SDK reads
// inputResponses (an elicitation, sampling or roots result).
func DecodeResponse(key string, raw json.RawMessage) (mcp.InputResponse, error) {
	var m mcp.InputResponseMap
	wrapped, err := json.Marshal(map[string]json.RawMessage{key: raw})
	if err == nil {
		err = json.Unmarshal(wrapped, &m)
	}
	if err != nil || m[key] == nil {
		return nil, apperr.E(apperr.Invalid, "inputResponses[%q] is not an answer to an input request", apperr.Truncate(key, 64))
	}
	return m[key], nil
}

// ackResult is the empty acknowledgement of tasks/update and tasks/cancel.
type ackResult struct {
	mcp.ResultBase
	ResultType string `json:"resultType"`
}

// wireTask is the Task of SEP-2663 on the wire. ttlMs is always present:
// null means the task does not expire. A notification carries no
// resultType.
type wireTask struct {
	mcp.ResultBase
	ResultType     string              `json:"resultType,omitempty"`
	TaskID         string              `json:"taskId"`
	Status         Status              `json:"status"`
	StatusMessage  string              `json:"statusMessage,omitempty"`
	CreatedAt      string              `json:"createdAt"`
	LastUpdatedAt  string              `json:"lastUpdatedAt"`
	TTLMs          *int64              `json:"ttlMs"`
	PollIntervalMs int64               `json:"pollIntervalMs,omitempty"`
	Result         *mcp.CallToolResult `json:"result,omitempty"`
	Error          *jsonrpc.Error      `json:"error,omitempty"`
	InputRequests  mcp.InputRequestMap `json:"inputRequests,omitempty"`
}

func toWire(t Task, resultType string, detailed bool) *wireTask {
	w := &wireTask{
		ResultType: resultType, TaskID: t.ID, Status: t.Status, StatusMessage: t.StatusMessage,
		CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339Nano), LastUpdatedAt: t.LastUpdatedAt.UTC().Format(time.RFC3339Nano),
		PollIntervalMs: t.PollInterval.Milliseconds(),
	}
	if t.TTL > 0 {
		ms := t.TTL.Milliseconds()
		w.TTLMs = &ms
	}
	if detailed {
		switch t.Status {
		case Completed:
			w.Result = t.Result
		case Failed:
			w.Error = t.Error
		case InputRequired:
			w.InputRequests = t.InputRequests
		}
	}
	return w
}

// slot carries the task a tool handler created back to the middleware.
type slot struct{ task *Task }

type slotKey struct{}

// Requested reports whether the tools/call being handled runs as a task: the
// handler then starts the work, hands its task to Created and returns any
// non-nil result (it is replaced by the task handle).
func Requested(ctx context.Context) bool {
	_, ok := ctx.Value(slotKey{}).(*slot)
	return ok
}

// Created hands the task a tool handler started to the extension.
func Created(ctx context.Context, t Task) {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		s.task = &t
	}
}

// Owner is the caller a task belongs to: the user of the request's token
// (bizmcp's API key id), or "" for an unauthenticated endpoint.
func Owner(req mcp.Request) string {
	if extra := req.GetExtra(); extra != nil && extra.TokenInfo != nil {
		return extra.TokenInfo.UserID
	}
	return ""
}

func (x *extension) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case "tools/call":
			return x.toolsCall(ctx, next, method, req)
		case MethodGet, MethodUpdate, MethodCancel:
			return x.tasksMethod(ctx, method, req)
		case "subscriptions/listen":
			return x.listen(ctx, next, method, req)
		}
		return next(ctx, method, req)
	}
}

func (x *extension) toolsCall(ctx context.Context, next mcp.MethodHandler, method string, req mcp.Request) (mcp.Result, error) {
	call, ok := req.(*mcp.CallToolRequest)
	if !ok || call.Params == nil {
		return next(ctx, method, req)
	}
	support := x.support[call.Params.Name]
	if support == Forbidden {
		return next(ctx, method, req)
	}
	if !Declared(req) {
		if support == Required {
			return nil, missingCapability(fmt.Sprintf("tool %s runs only as a task: declare the %s extension in the client capabilities", call.Params.Name, ExtensionID))
		}
		return next(ctx, method, req)
	}
	s := &slot{}
	res, err := next(context.WithValue(ctx, slotKey{}, s), method, req)
	if err != nil || s.task == nil {
		// An error, an input-required round before the task exists, or a
		// result quick enough to return at once.
		return res, err
	}
	return toWire(*s.task, "task", false), nil
}

func (x *extension) tasksMethod(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
	if !Declared(req) {
		return nil, missingCapability(fmt.Sprintf("%s belongs to the %s extension: declare it in the client capabilities", method, ExtensionID))
	}
	owner := Owner(req)
	var id string
	var responses map[string]json.RawMessage
	switch p := req.GetParams().(type) {
	case *idParams:
		if p != nil {
			id = p.TaskID
		}
	case *updateParams:
		if p != nil {
			id, responses = p.TaskID, p.InputResponses
		}
	}
	if id == "" {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "taskId is required"}
	}
	var err error
	ack := &ackResult{ResultType: "complete"}
	switch method {
	case MethodGet:
		var t Task
		if t, err = x.backend.Get(ctx, owner, id); err == nil {
			return toWire(t, "complete", true), nil
		}
	case MethodCancel:
		err = x.backend.Cancel(ctx, owner, id)
	case MethodUpdate:
		if responses == nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "inputResponses is required: an object mapping the keys of the task's inputRequests to their answers"}
		}
		if len(responses) > MaxInputResponses {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("inputResponses holds %d answers; at most %d per tasks/update", len(responses), MaxInputResponses)}
		}
		var ignored []string
		if ignored, err = x.backend.Update(ctx, owner, id, responses); err == nil && len(ignored) > 0 {
			// The ack stays empty as SEP-2663 asks; _meta says what was
			// not taken, so a client can tell a stale answer from a used one.
			slices.Sort(ignored)
			for i, k := range ignored {
				ignored[i] = apperr.Truncate(k, 100)
			}
			ack.Meta = mcp.Meta{MetaIgnoredResponses: ignored}
		}
	}
	if err != nil {
		return nil, wireError(id, err)
	}
	return ack, nil
}

// MaxInputResponses bounds the answers of one tasks/update: a task asks a
// few questions at a time.
const MaxInputResponses = 100

// MetaIgnoredResponses names, in a tasks/update acknowledgement's _meta, the
// inputResponses keys the task did not take because they answer nothing it
// is asking now.
const MetaIgnoredResponses = "bizmcp/ignored_input_responses"

// wireError turns a backend error into the JSON-RPC error SEP-2663 names:
// an unknown task (or another key's) and a request that does not fit the
// task are invalid params.
func wireError(id string, err error) error {
	switch {
	case apperr.Is(err, apperr.NotFound):
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("no task %q", apperr.Truncate(id, 100))}
	case apperr.Is(err, apperr.Invalid), apperr.Is(err, apperr.Conflict):
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: apperr.MessageOf(err)}
	}
	return err
}

func missingCapability(msg string) error {
	data, _ := json.Marshal(mcp.MissingRequiredClientCapabilityData{
		RequiredCapabilities: &mcp.ClientCapabilities{Extensions: Capability()},
	})
	return &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities, Message: msg, Data: data}
}

// Declared reports whether the client declared the extension: in this
// request's _meta client capabilities (2026-07-28, or a per-request opt-in),
// or at initialize (2025-11-25 sessions). The declaration is an object (its
// settings, none defined yet); anything else under the extension's name
// (null, a string) declares nothing, and the client is told what to send.
func Declared(req mcp.Request) bool {
	if meta := metaOf(req); meta != nil {
		if caps, ok := meta[mcp.MetaKeyClientCapabilities].(map[string]any); ok {
			if ext, ok := caps["extensions"].(map[string]any); ok {
				if _, ok := ext[ExtensionID].(map[string]any); ok {
					return true
				}
			}
		}
	}
	if ss, ok := req.GetSession().(*mcp.ServerSession); ok {
		if ip := ss.InitializeParams(); ip != nil && ip.Capabilities != nil {
			_, ok := ip.Capabilities.Extensions[ExtensionID].(map[string]any)
			return ok
		}
	}
	return false
}

// metaOf is the _meta of the params the extension handles; nil params (a
// typed nil pointer in the interface) have none.
func metaOf(req mcp.Request) map[string]any {
	switch p := req.GetParams().(type) {
	case *mcp.CallToolParamsRaw:
		if p != nil {
			return p.Meta
		}
	case *idParams:
		if p != nil {
			return p.Meta
		}
	case *updateParams:
		if p != nil {
			return p.Meta
		}
	case *mcp.SubscriptionsListenParams:
		if p != nil {
			return p.Meta
		}
	}
	return nil
}
