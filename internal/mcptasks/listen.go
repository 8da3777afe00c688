package mcptasks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/mcphttp"
)

// Task status notifications (SEP-2663): a 2026-07-28 client opens
// subscriptions/listen with notifications.taskIds; the acknowledgement lists
// the ids the server agreed to follow (the caller's tasks among them), and
// every change of one of them goes out as notifications/tasks carrying the
// whole task, exactly as tasks/get would answer at that moment. tasks/get
// stays the truth: a notification is a convenience a client may miss.

// MethodNotifyTask is the task status notification.
const MethodNotifyTask = "notifications/tasks"

// MaxListenTasks bounds the task ids of one listen: each is read again on
// every change.
const MaxListenTasks = 100

// MaxListensPerKey bounds the task listens one caller holds open at once on
// one instance: a listen lives as long as its client wants, so the rate limit
// alone (which counts openings) would let listens pile up.
const MaxListensPerKey = 16

// listenCount counts open listens per owner.
type listenCount struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes a place for owner, or reports that none is left.
func (c *listenCount) acquire(owner string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[owner] >= MaxListensPerKey {
		return false
	}
	c.n[owner]++
	return true
}

func (c *listenCount) release(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[owner]--; c.n[owner] <= 0 {
		delete(c.n, owner)
	}
}

// listenRecheck is how often a listen reads its unfinished tasks again
// without a hint, to cover changes whose hint was lost (the events a
// Watcher relies on are best effort).
const listenRecheck = 5 * time.Second

// Watcher is implemented by a Backend that can tell when some of a set of
// tasks may have changed, so that a listen reads them again at once instead
// of at its next recheck. A signal is a hint: the listen reads the tasks to
// learn what, if anything, changed.
type Watcher interface {
	// Watch signals on the returned channel (coalesced, never blocking)
	// until ctx ends.
	Watch(ctx context.Context, owner string, ids []string) <-chan struct{}
}

type listenFilter struct {
	TaskIDs *[]string `json:"taskIds"`
}

// listen serves the taskIds part of a subscriptions/listen and leaves the
// rest (list changes, resource updates) to the SDK, whose acknowledgement
// gains the agreed taskIds.
func (x *extension) listen(ctx context.Context, next mcp.MethodHandler, method string, req mcp.Request) (mcp.Result, error) {
	l, ok := mcphttp.ListenFrom(ctx)
	if !ok || len(l.Filter) == 0 {
		return next(ctx, method, req)
	}
	var f listenFilter
	if err := json.Unmarshal(l.Filter, &f); err != nil {
		if strings.Contains(string(l.Filter), `"taskIds"`) {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "notifications.taskIds must be an array of task ids (strings)"}
		}
		return next(ctx, method, req) // the SDK reports what is wrong with the rest
	}
	if f.TaskIDs == nil {
		return next(ctx, method, req)
	}
	if !Declared(req) {
		return nil, missingCapability("task status notifications (notifications.taskIds) belong to the " + ExtensionID + " extension: declare it in the client capabilities")
	}
	if n := len(*f.TaskIDs); n > MaxListenTasks {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("notifications.taskIds names %d tasks; at most %d per listen", n, MaxListenTasks)}
	}

	owner := Owner(req)
	if !x.listens.acquire(owner) {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: fmt.Sprintf(
			"at most %d task listens at once per API key: close one (or follow several tasks in one listen, up to %d) first", MaxListensPerKey, MaxListenTasks)}
	}
	defer x.listens.release(owner)

	// Agree to the caller's tasks; another key's task, like an unknown one,
	// is left out of the acknowledgement without a word.
	w := &taskWatch{x: x, l: l, owner: owner, last: map[string]string{}}
	for _, id := range *f.TaskIDs {
		if id == "" || len(id) > maxTaskIDBytes || slices.Contains(w.ids, id) {
			continue
		}
		if _, err := x.backend.Get(ctx, owner, id); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				continue
			}
			return nil, err
		}
		w.ids = append(w.ids, id)
	}
	if len(w.ids) > 0 {
		l.AddToAck("taskIds", w.ids)
	}

	// The SDK acknowledges (with the agreed taskIds added) and serves the
	// other notification types; it returns at once when none was agreed.
	type outcome struct {
		res mcp.Result
		err error
	}
	sdk := make(chan outcome, 1)
	go func() {
		res, err := next(ctx, method, req)
		sdk <- outcome{res, err}
	}()
	var sdkDone *outcome
	select {
	case <-l.Acked():
	case o := <-sdk:
		if o.err != nil {
			return nil, o.err
		}
		sdkDone = &o
		select { // the acknowledgement went out before the SDK returned
		case <-l.Acked():
		default:
			return o.res, nil
		}
	}

	end := func() (mcp.Result, error) {
		if sdkDone != nil {
			return sdkDone.res, sdkDone.err
		}
		return &mcp.SubscriptionsListenResult{Meta: mcp.Meta{mcp.MetaKeySubscriptionID: l.ID}}, nil
	}
	var hints <-chan struct{}
	if wt, ok := x.backend.(Watcher); ok && len(w.ids) > 0 {
		hints = wt.Watch(ctx, owner, w.ids)
	}
	recheck := time.NewTicker(listenRecheck)
	defer recheck.Stop()
	for {
		if err := w.push(ctx); err != nil {
			return nil, err
		}
		// Every task followed is over: nothing more will come for them,
		// and when the SDK serves nothing else, the listen ends gracefully.
		if w.over() && sdkDone != nil {
			return end()
		}
		select {
		case <-ctx.Done():
			return end()
		case <-l.Stopping:
			return end()
		case o := <-sdk:
			if o.err != nil {
				return nil, o.err
			}
			sdkDone = &o
		case <-hints:
		case <-recheck.C:
		}
	}
}

// maxTaskIDBytes bounds one task id in a listen filter (bizmcp's handles
// are about 120 bytes).
const maxTaskIDBytes = 1024

// taskWatch is what one listen follows.
type taskWatch struct {
	x     *extension
	l     *mcphttp.Listen
	owner string
	ids   []string
	// last is what was sent of each task, to send only changes; a task
	// whose last state is terminal is not read again.
	last map[string]string
}

// push reads the tasks not yet over and notifies each change.
func (w *taskWatch) push(ctx context.Context) error {
	for _, id := range w.ids {
		if w.done(id) {
			continue
		}
		t, err := w.x.backend.Get(ctx, w.owner, id)
		if apperr.Is(err, apperr.NotFound) {
			w.last[id] = "gone" // expired meanwhile: nothing more to say
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		mark := fingerprint(t)
		if w.last[id] == mark {
			continue
		}
		n := toWire(t, "", true)
		n.Meta = mcp.Meta{mcp.MetaKeySubscriptionID: w.l.ID}
		if err := w.l.Notify(MethodNotifyTask, n); err != nil {
			return nil // the client went away; ctx ends the listen
		}
		w.last[id] = mark
	}
	return nil
}

func (w *taskWatch) done(id string) bool {
	m := w.last[id]
	return m == "gone" || strings.HasPrefix(m, "terminal/")
}

func (w *taskWatch) over() bool {
	for _, id := range w.ids {
		if !w.done(id) {
			return false
		}
	}
	return true
}

// fingerprint is what a client can observe of a task.
func fingerprint(t Task) string {
	keys := make([]string, 0, len(t.InputRequests))
	for k := range t.InputRequests {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	prefix := ""
	if t.Status.Terminal() {
		prefix = "terminal/"
	}
	return fmt.Sprintf("%s%s|%s|%d|%s", prefix, t.Status, t.StatusMessage, t.LastUpdatedAt.UnixNano(), strings.Join(keys, ","))
}
