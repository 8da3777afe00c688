package views

import (
	"fmt"
	"net/url"
	"time"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

// TaskFilter is the task list's filter, kept in the URL so a filtered view
// can be bookmarked and shared.
type TaskFilter struct {
	Status, Domain, Priority, Agent string
	// CreatedFrom and CreatedTo are as given: a date (2026-12-01) from the
	// form's date pickers, or an RFC 3339 time in a URL made elsewhere.
	CreatedFrom, CreatedTo string
}

// Query is the filter as URL parameters (empty ones left out).
func (f TaskFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "domain": f.Domain, "priority": f.Priority, "agent": f.Agent,
		"created_from": f.CreatedFrom, "created_to": f.CreatedTo} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// TasksPage is the task list.
type TasksPage struct {
	Frame
	Tasks   []orchestrator.Task
	Filter  TaskFilter
	Agents  []agents.Agent
	NextURL string
	OnFirst bool
	Now     time.Time
}

// TaskForm is the create-task form.
type TaskForm struct {
	Title, Description, Domain, Priority, Timeout, Input string
	Errors                                               FieldErrors
	FormError                                            string
}

// TaskDetailPage is one task.
type TaskDetailPage struct {
	Frame
	Task     orchestrator.Task
	Live     TaskLive
	Children []orchestrator.Task
	// Notice explains a refused action (cancel, retry) in the page.
	Notice string
}

// TaskLive is what changes on a task's page while it runs: rendered for
// the page and, on every change, for the live channel.
type TaskLive struct {
	Task orchestrator.Task
	// Agent is the agent running or that ran the task (nil before one
	// takes it); it is live because a pending task gets one later.
	Agent    *agents.Agent
	Timeline []orchestrator.Event
	Now      time.Time
}

// TaskDomains lists the domains a task may be created in.
func TaskDomains() []string { return agents.Types() }

// TaskPriorities lists the task priorities.
func TaskPriorities() []string { return orchestrator.Priorities() }

// TaskStatuses lists the task statuses.
func TaskStatuses() []string { return orchestrator.Statuses() }

func taskUsage(t orchestrator.Task) string {
	return fmt.Sprintf("Attempt %d of %d; %d LLM tokens, $%.4f", t.Attempts, t.MaxAttempts, t.TokensUsed, t.Cost)
}

func taskRowID(t orchestrator.Task) string { return "task-" + t.ID.String() }

func canCancel(t orchestrator.Task) bool { return !orchestrator.Terminal(t.Status) }

func canRetry(t orchestrator.Task) bool { return t.Status == "failed" || t.Status == "cancelled" }

// taskReport is the Markdown report in a task's output, if it has one.
func taskReport(t orchestrator.Task) string {
	v, ok := decodeData(t.OutputData)
	if !ok {
		return ""
	}
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	s, _ := m["report"].(string)
	return s
}

// taskResult is the main tool's result in a task's output.
func taskResult(t orchestrator.Task) []byte {
	v, ok := decodeData(t.OutputData)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok || m["result"] == nil {
		return nil
	}
	b, _ := jsonMarshal(m["result"])
	return b
}

// dateInputType is a date picker for a date or nothing, and a text field
// for a full time from a URL, which a date picker would drop.
func dateInputType(v string) string {
	if _, err := time.Parse(time.DateOnly, v); v == "" || err == nil {
		return "date"
	}
	return "text"
}
