package views

import (
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
)

// MessagesPage lists inter-agent messages.
type MessagesPage struct {
	Frame
	Messages []orchestrator.Message
	Filter   MessageFilter
	// Agents labels messages with agent names; AgentChoices fills the
	// agent filter.
	Agents       map[uuid.UUID]string
	AgentChoices []agents.Agent
	NextURL      string
	OnFirst      bool
	Now          time.Time
}

// MessageFilter is the messages list's filter, kept in the URL so a
// filtered view can be bookmarked and shared: a message type, and an
// agent id (messages it sent or received).
type MessageFilter struct {
	Type, Agent string
}

// URLMessagesList is the messages list with a filter and a page cursor.
func URLMessagesList(f MessageFilter, cursor string) string {
	q := url.Values{}
	for k, v := range map[string]string{"type": f.Type, "agent": f.Agent, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return withQuery(URLMessages, q)
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
