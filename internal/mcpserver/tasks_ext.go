package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/mcpstate"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

// MCP Tasks (io.modelcontextprotocol/tasks) on bizmcp's own durable tasks: a
// task-augmented create_task returns its handle only after the orchestrator
// stored the agents.tasks row and its River job in one transaction, so
// tasks/get on any instance finds it, tasks/cancel cancels the job and the
// running step, and the task survives a crash of the instance that created
// it.
//
// The handle is the task's id sealed with SECRET_KEY and bound to the API
// key that created it (mcpstate): no table maps tasks to keys, yet another
// key's tasks/get finds nothing (an invalid params error, as for an unknown
// id, with no hint the task exists), and every instance can check it.

// taskHandleTTL is how long a task handle is honoured; it is the ttlMs the
// client is told.
const taskHandleTTL = 30 * 24 * time.Hour

// taskPollInterval is the tasks/get rhythm suggested to clients; tasks/get is
// rate limited like any other request.
const taskPollInterval = time.Second

// taskSupport names the tools that run as MCP tasks for clients that declared
// the extension. The analysis tools answer in milliseconds and stay
// synchronous; create_task is the long-running one.
func taskSupport() map[string]mcptasks.Support {
	return map[string]mcptasks.Support{"create_task": mcptasks.Optional}
}

// durableTasks is the mcptasks.Backend over the orchestrator.
type durableTasks struct {
	tasks  Tasks
	sealer *mcpstate.Sealer
	// events (the bus across instances) tells a listen when its tasks
	// move, wherever they run; nil leaves it to its periodic recheck.
	events Subscriber
}

func taskBinding(owner string) string { return "mcp-task/" + owner }

func (b durableTasks) handle(owner string, id uuid.UUID) (string, error) {
	return b.sealer.Seal(taskBinding(owner), id.String(), taskHandleTTL)
}

// open reads a handle; whatever is wrong with it, the task is not found.
func (b durableTasks) open(owner, handle string) (uuid.UUID, error) {
	var raw string
	if err := b.sealer.Open(taskBinding(owner), handle, &raw); err != nil {
		return uuid.Nil, apperr.E(apperr.NotFound, "no such task")
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, apperr.E(apperr.NotFound, "no such task")
	}
	return id, nil
}

// Get implements mcptasks.Backend.
func (b durableTasks) Get(ctx context.Context, owner, handle string) (mcptasks.Task, error) {
	id, err := b.open(owner, handle)
	if err != nil {
		return mcptasks.Task{}, err
	}
	t, err := b.tasks.Get(ctx, id)
	if err != nil {
		return mcptasks.Task{}, err
	}
	return toMCPTask(handle, t)
}

// Cancel implements mcptasks.Backend; a task already over stays as it is.
func (b durableTasks) Cancel(ctx context.Context, owner, handle string) error {
	id, err := b.open(owner, handle)
	if err != nil {
		return err
	}
	t, err := b.tasks.Get(ctx, id)
	if err != nil {
		return err
	}
	if orchestrator.Terminal(t.Status) {
		return nil
	}
	if _, err := b.tasks.Cancel(ctx, id); err != nil && !apperr.Is(err, apperr.Conflict) {
		return err // a conflict is a task that ended meanwhile: acknowledged
	}
	return nil
}

// Update implements mcptasks.Backend. A business task asks nothing once it is
// created (create_task settles its domain before, through input-required),
// so every answer is one to a request that is not outstanding: SEP-2663 has
// those ignored, and the acknowledgement names them.
func (b durableTasks) Update(ctx context.Context, owner, handle string, responses map[string]json.RawMessage) ([]string, error) {
	if _, err := b.Get(ctx, owner, handle); err != nil {
		return nil, err
	}
	ignored := make([]string, 0, len(responses))
	for k := range responses {
		ignored = append(ignored, k)
	}
	return ignored, nil
}

// Watch implements mcptasks.Watcher on the task events, which every
// instance publishes to the others: a client listening here hears of a task
// running on another instance.
func (b durableTasks) Watch(ctx context.Context, owner string, handles []string) <-chan struct{} {
	c := make(chan struct{}, 1)
	if b.events == nil {
		return c
	}
	want := map[string]bool{}
	for _, h := range handles {
		if id, err := b.open(owner, h); err == nil {
			want[id.String()] = true
		}
	}
	filter := func(e events.Event) bool { return want[e.TaskID] }
	signal := func() {
		select {
		case c <- struct{}{}:
		default: // a signal is already pending
		}
	}
	// Subscribed before returning: a change after the listen's first read
	// is never missed.
	sub := b.events.Subscribe(16, filter)
	go func() {
		defer func() { sub.Close() }() // the subscription in use at the end
		for {
			select {
			case <-ctx.Done():
				return
			case _, open := <-sub.C:
				if !open { // dropped for being slow: subscribe again and re-read
					sub = b.events.Subscribe(16, filter)
				}
				signal()
			}
		}
	}()
	return c
}

// toMCPTask maps an orchestrator task to the wire task. A task whose work
// failed ran to its end: it is completed with a result flagged isError, as
// SEP-2663 reserves "failed" for protocol errors.
func toMCPTask(handle string, t orchestrator.Task) (mcptasks.Task, error) {
	mt := mcptasks.Task{ID: handle, CreatedAt: t.CreatedAt, LastUpdatedAt: t.CreatedAt, TTL: taskHandleTTL, PollInterval: taskPollInterval}
	for _, ts := range []*time.Time{t.StartedAt, t.CompletedAt} {
		if ts != nil && ts.After(mt.LastUpdatedAt) {
			mt.LastUpdatedAt = *ts
		}
	}
	switch t.Status {
	case "completed", "failed":
		b, err := json.Marshal(t)
		if err != nil {
			return mt, err
		}
		res := &mcp.CallToolResult{StructuredContent: json.RawMessage(b)}
		if t.Status == "failed" {
			msg := "the task failed"
			if t.Error != nil {
				msg = "the task failed: " + *t.Error
			}
			res.Content = []mcp.Content{&mcp.TextContent{Text: msg}}
			res.IsError = true
		} else {
			res.Content = []mcp.Content{&mcp.TextContent{Text: string(b)}}
		}
		mt.Status, mt.Result = mcptasks.Completed, res
	case "cancelled":
		mt.Status = mcptasks.Cancelled
	default: // pending, assigned, processing
		mt.Status = mcptasks.Working
		mt.StatusMessage = fmt.Sprintf("%s, %d%% done", t.Status, t.Progress)
	}
	return mt, nil
}

// startAsMCPTask hands a created task to the extension as the call's answer.
func (s *Server) startAsMCPTask(ctx context.Context, req *mcp.CallToolRequest, t orchestrator.Task) error {
	owner := mcptasks.Owner(req)
	handle, err := durableTasks{tasks: s.tasks, sealer: s.sealer}.handle(owner, t.ID)
	if err != nil {
		return err
	}
	mt, err := toMCPTask(handle, t)
	if err != nil {
		return err
	}
	mcptasks.Created(ctx, mt)
	return nil
}
