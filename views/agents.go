package views

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/health"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/stats"
)

// OverviewPage is the dashboard's home.
type OverviewPage struct {
	Frame
	Health health.Report
	Agents []agents.Agent
	Tasks  []orchestrator.Task
	Stats  *stats.Overview
	Now    time.Time
}

// AgentsPage is the agent list.
type AgentsPage struct {
	Frame
	Agents         []agents.Agent
	Type, Status   string
	NextURL        string
	OnFirst        bool
	Now            time.Time
	Form           AgentForm
	ShowCreateForm bool
}

// AgentForm is the create-agent form.
type AgentForm struct {
	Name, Type, Description string
	// MaxConcurrency is the field as typed ("" for the type's default).
	MaxConcurrency string
	Capabilities   []string
	Errors         FieldErrors
	FormError      string
}

// AgentDetailPage is one agent.
type AgentDetailPage struct {
	Frame
	Agent agents.Agent
	// ConcurrencyValue and Errors re-show a refused max_concurrency.
	ConcurrencyValue string
	Errors           FieldErrors
	CurrentTask      *orchestrator.Task
	Tasks            []orchestrator.Task
	TasksNext        string
	Messages         []orchestrator.Message
	Now              time.Time
}

// AgentTypes lists the agent types.
func AgentTypes() []string { return agents.Types() }

// AgentStatuses lists the agent statuses.
func AgentStatuses() []string { return agents.Statuses() }

// AgentCapabilities lists the capabilities valid for a type (its tools).
func AgentCapabilities(typ string) []string { return agents.DefaultCapabilities(typ) }

// URLAgentConcurrency changes how many tasks an agent runs at once.
func URLAgentConcurrency(id uuid.UUID) string { return "/agents/" + id.String() + "/concurrency" }

// concurrencyHint tells what max_concurrency a type allows.
func concurrencyHint(typ string) string {
	if !hasString(agents.Types(), typ) {
		typ = "finance"
	}
	return "How many tasks the agent runs at once: 1 to " + strconv.Itoa(agents.ConcurrencyLimit(typ)) +
		" for a " + typ + " agent; empty for the default (" + strconv.Itoa(agents.DefaultConcurrency(typ)) + ")."
}

func agentCardID(a agents.Agent) string { return "agent-" + a.ID.String() }

func hasString(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
