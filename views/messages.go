package views

import (
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

// MessagesPage lists inter-agent messages.
type MessagesPage struct {
	Frame
	Messages []orchestrator.Message
	Type     string
	Agents   map[uuid.UUID]string
	NextURL  string
	OnFirst  bool
	Now      time.Time
}

// MessageTypes lists the message types.
func MessageTypes() []string { return orchestrator.MessageTypes() }

func agentName(names map[uuid.UUID]string, id *uuid.UUID) string {
	if id == nil {
		return "operator"
	}
	if n, ok := names[*id]; ok {
		return n
	}
	return id.String()[:8]
}

// AgentNames maps agent ids to names, for labels.
func AgentNames(list []agents.Agent) map[uuid.UUID]string {
	m := make(map[uuid.UUID]string, len(list))
	for _, a := range list {
		m[a.ID] = a.Name
	}
	return m
}

func messageRowID(m orchestrator.Message) string { return "message-" + m.ID.String() }
