package mcptasks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Memory is a Backend that runs tasks as goroutines of this process and
// forgets them TTL after their creation. It serves the conformance fixtures
// (one process, no database); bizmcp's business tasks use the durable
// orchestrator instead.
type Memory struct {
	ttl, poll time.Duration
	mu        sync.Mutex
	tasks     map[string]*memTask
	watches   map[*memWatch]struct{}
}

// memWatch is one listen's interest in some tasks.
type memWatch struct {
	ids map[string]bool
	c   chan struct{}
}

type memTask struct {
	Task
	owner   string
	cancel  context.CancelFunc
	answers mcp.InputResponseMap // answers gathered for the open questions
	ready   chan struct{}        // closed when every open question is answered
}

// NewMemory returns a Memory backend keeping tasks for ttl.
func NewMemory(ttl time.Duration) *Memory {
	return &Memory{ttl: ttl, poll: 200 * time.Millisecond, tasks: map[string]*memTask{}, watches: map[*memWatch]struct{}{}}
}

// RunFunc does a task's work. It may ask the client for input through in.
type RunFunc func(ctx context.Context, in *Input) (*mcp.CallToolResult, error)

// Input lets a running task ask its client questions (SEP-2322 through
// tasks/get and tasks/update).
type Input struct {
	m  *Memory
	id string
}

// Ask parks the task in input_required with requests and waits until every
// one has an answer (the client may answer them one tasks/update at a time).
func (in *Input) Ask(ctx context.Context, requests mcp.InputRequestMap) (mcp.InputResponseMap, error) {
	m := in.m
	m.mu.Lock()
	t, ok := m.tasks[in.id]
	if !ok || t.Status.Terminal() {
		m.mu.Unlock()
		return nil, context.Canceled
	}
	t.InputRequests, t.answers, t.ready = requests, mcp.InputResponseMap{}, make(chan struct{})
	t.Status, t.LastUpdatedAt = InputRequired, time.Now()
	ready := t.ready
	m.changedLocked(in.id)
	m.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-ready:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return t.answers, nil
}

// Start runs run as a new task of owner and returns it, already readable
// with Get.
func (m *Memory) Start(owner string, run RunFunc) Task {
	now := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	t := &memTask{Task: Task{ID: rand.Text(), Status: Working, CreatedAt: now, LastUpdatedAt: now, TTL: m.ttl, PollInterval: m.poll},
		owner: owner, cancel: cancel}
	m.mu.Lock()
	m.purgeLocked(now)
	m.tasks[t.ID] = t
	snapshot := t.Task
	m.mu.Unlock()
	go m.run(ctx, t, run)
	return snapshot
}

func (m *Memory) run(ctx context.Context, t *memTask, run RunFunc) {
	var res *mcp.CallToolResult
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("task panicked: %v", r)
			}
		}()
		res, err = run(ctx, &Input{m: m, id: t.ID})
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	defer t.cancel()
	if t.Status.Terminal() { // cancelled meanwhile: the cancellation stands
		return
	}
	defer m.changedLocked(t.ID)
	t.InputRequests, t.LastUpdatedAt = nil, time.Now()
	var rpcErr *jsonrpc.Error
	switch {
	case err == nil && res != nil:
		t.Status, t.Result = Completed, res
	case errors.Is(err, context.Canceled):
		t.Status = Cancelled
	case errors.As(err, &rpcErr):
		t.Status, t.Error = Failed, rpcErr
	default:
		msg := "the task produced no result"
		if err != nil {
			msg = err.Error()
		}
		t.Status, t.Error = Failed, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: msg}
	}
}

func (m *Memory) purgeLocked(now time.Time) {
	for id, t := range m.tasks {
		if m.ttl > 0 && now.Sub(t.CreatedAt) > m.ttl && t.Status.Terminal() {
			delete(m.tasks, id)
		}
	}
}

func (m *Memory) lookupLocked(owner, id string) (*memTask, error) {
	t, ok := m.tasks[id]
	if !ok || t.owner != owner {
		return nil, apperr.E(apperr.NotFound, "no task %q", apperr.Truncate(id, 100))
	}
	return t, nil
}

// Get implements Backend.
func (m *Memory) Get(_ context.Context, owner, id string) (Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.lookupLocked(owner, id)
	if err != nil {
		return Task{}, err
	}
	snapshot := t.Task
	if t.Status == InputRequired {
		open := mcp.InputRequestMap{}
		for k, v := range t.InputRequests {
			if _, answered := t.answers[k]; !answered {
				open[k] = v
			}
		}
		snapshot.InputRequests = open
	}
	return snapshot, nil
}

// Cancel implements Backend: the task is cancelled at once (its work is
// told to stop), and a task already over stays as it was.
func (m *Memory) Cancel(_ context.Context, owner, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.lookupLocked(owner, id)
	if err != nil {
		return err
	}
	if !t.Status.Terminal() {
		t.Status, t.InputRequests, t.LastUpdatedAt = Cancelled, nil, time.Now()
		t.cancel()
		m.changedLocked(id)
	}
	return nil
}

// Update implements Backend: answers to the questions still open are kept
// and the others ignored (never asked, already answered, or a task no longer
// asking); when the last open question is answered the task resumes.
func (m *Memory) Update(_ context.Context, owner, id string, responses map[string]json.RawMessage) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, err := m.lookupLocked(owner, id)
	if err != nil {
		return nil, err
	}
	var ignored []string
	decoded := mcp.InputResponseMap{}
	for k, raw := range responses {
		_, asked := t.InputRequests[k]
		_, answered := t.answers[k]
		if t.Status != InputRequired || !asked || answered {
			ignored = append(ignored, k)
			continue
		}
		v, err := DecodeResponse(k, raw)
		if err != nil {
			return nil, err // nothing applied: the update is all or nothing
		}
		decoded[k] = v
	}
	if len(decoded) == 0 {
		return ignored, nil
	}
	for k, v := range decoded {
		t.answers[k] = v
	}
	t.LastUpdatedAt = time.Now()
	if len(t.answers) == len(t.InputRequests) {
		t.Status, t.InputRequests = Working, nil
		close(t.ready)
	}
	m.changedLocked(id)
	return ignored, nil
}

// Watch implements Watcher.
func (m *Memory) Watch(ctx context.Context, _ string, ids []string) <-chan struct{} {
	w := &memWatch{ids: map[string]bool{}, c: make(chan struct{}, 1)}
	for _, id := range ids {
		w.ids[id] = true
	}
	m.mu.Lock()
	m.watches[w] = struct{}{}
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		delete(m.watches, w)
		m.mu.Unlock()
	}()
	return w.c
}

// changedLocked signals the watches of task id.
func (m *Memory) changedLocked(id string) {
	for w := range m.watches {
		if w.ids[id] {
			select {
			case w.c <- struct{}{}:
			default: // a signal is already pending
			}
		}
	}
}
