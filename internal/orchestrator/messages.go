package orchestrator

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/page"
	"github.com/bizmcp/bizmcp/internal/validate"
)

// MessageTypes lists the inter-agent message types.
func MessageTypes() []string { return []string{"request", "response", "notification"} }

// Message is an inter-agent message. It is stored before it is delivered:
// the row is the source of truth, the live event only a prompt to look.
type Message struct {
	ID            uuid.UUID       `json:"id"`
	SenderID      *uuid.UUID      `json:"sender_id"`
	RecipientID   uuid.UUID       `json:"recipient_id"`
	Type          string          `json:"type"`
	CorrelationID *uuid.UUID      `json:"correlation_id"`
	TaskID        *uuid.UUID      `json:"task_id"`
	Payload       json.RawMessage `json:"payload"`
	CreatedAt     time.Time       `json:"created_at"`
	DeliveredAt   *time.Time      `json:"delivered_at"`
}

func messageFromRow(r db.Message) Message {
	return Message{
		ID: r.ID, SenderID: r.SenderID, RecipientID: r.RecipientID, Type: r.Type, CorrelationID: r.CorrelationID,
		TaskID: r.TaskID, Payload: r.Payload, CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt,
	}
}

// SendParams are the inputs of Send.
type SendParams struct {
	SenderID      *uuid.UUID // nil: an operator or program, not an agent
	RecipientID   uuid.UUID
	Type          string
	CorrelationID *uuid.UUID
	Payload       json.RawMessage
}

// requestPayload is what a request asks of its recipient: a task to do.
type requestPayload struct {
	Task *struct {
		Title       string          `json:"title"`
		Description string          `json:"description"`
		Domain      string          `json:"domain"`
		Priority    string          `json:"priority"`
		InputData   json.RawMessage `json:"input_data"`
	} `json:"task"`
}

// Send stores a message to an agent. A request carries a task
// ({"task": {"title", "input_data", ...}}) which becomes a task assigned to
// the recipient: the message is delivered when the recipient starts it. A
// notification or response is delivered at once to live listeners.
func (s *Service) Send(ctx context.Context, p SendParams) (Message, error) {
	if !slices.Contains(MessageTypes(), p.Type) {
		return Message{}, apperr.E(apperr.Invalid, "message type %q is not one of request, response, notification", apperr.Truncate(p.Type, 32))
	}
	payload := p.Payload
	if len(payload) == 0 || string(payload) == "null" {
		payload = json.RawMessage("{}")
	}
	if err := validate.JSON("payload", payload, MaxInputBytes); err != nil {
		return Message{}, err
	}
	if !validate.IsObject(payload) {
		return Message{}, apperr.E(apperr.Invalid, "payload must be a JSON object")
	}
	recipient, err := s.queries.AgentGet(ctx, p.RecipientID)
	if err != nil {
		return Message{}, db.MapError(err, "agent "+p.RecipientID.String())
	}
	if p.Type != "request" {
		id, err := uuid.NewV7()
		if err != nil {
			return Message{}, err
		}
		now := time.Now()
		row, err := s.queries.MessageCreate(ctx, db.MessageCreateParams{
			ID: id, SenderID: p.SenderID, RecipientID: recipient.ID, Type: p.Type, CorrelationID: p.CorrelationID, Payload: payload, DeliveredAt: &now,
		})
		if err != nil {
			return Message{}, db.MapError(err, "message")
		}
		m := messageFromRow(row)
		s.publishMessage(m)
		return m, nil
	}
	var req requestPayload
	if err := json.Unmarshal(payload, &req); err != nil || req.Task == nil {
		return Message{}, apperr.E(apperr.Invalid, `a request's payload must hold the task to do: {"task": {"title", "input_data", "priority"?}}`)
	}
	domain := req.Task.Domain
	if domain == "" {
		domain = recipient.Type
	}
	created, err := s.Create(ctx, CreateParams{
		Title: req.Task.Title, Description: req.Task.Description, Domain: domain, Priority: req.Task.Priority,
		InputData: req.Task.InputData, AssignTo: &recipient.ID, RequestFrom: p.SenderID, RequestPayload: payload,
	})
	if err != nil {
		return Message{}, err
	}
	rows, err := s.queries.MessageListByTask(ctx, &created.Task.ID)
	if err != nil || len(rows) == 0 {
		return Message{}, db.MapError(err, "message")
	}
	return messageFromRow(rows[0]), nil
}

// MessagePage is a page of an agent's messages, newest first.
type MessagePage struct {
	Items      []Message `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Messages lists an agent's messages, sent and received.
func (s *Service) Messages(ctx context.Context, agentID uuid.UUID, cursor string, limit int) (MessagePage, error) {
	if _, err := s.queries.AgentGet(ctx, agentID); err != nil {
		return MessagePage{}, db.MapError(err, "agent "+agentID.String())
	}
	c, limit, err := page.Parse(cursor, limit)
	if err != nil {
		return MessagePage{}, err
	}
	params := db.MessageListParams{AgentID: agentID, MaxRows: int32(limit + 1)}
	if c != nil {
		params.CursorCreatedAt, params.CursorID = &c.CreatedAt, &c.ID
	}
	rows, err := s.queries.MessageList(ctx, params)
	if err != nil {
		return MessagePage{}, db.MapError(err, "messages")
	}
	var out MessagePage
	out.Items, out.NextCursor = page.Build(rows, limit, func(r db.Message) page.Cursor { return page.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }, messageFromRow)
	return out, nil
}

// respondTx stores the response of a delegated part that has ended (child)
// to the agent that asked for it (its request's sender), in q's
// transaction, the one that ends child: the response exists before the parent, woken by that
// transaction, looks for it. It returns the message to announce once the
// transaction commits (nil when the part has no requesting agent).
func (s *Service) respondTx(ctx context.Context, q *db.Queries, child db.Task, agent db.Agent, payload map[string]any) (*db.Message, error) {
	if child.ParentTaskID == nil {
		return nil, nil
	}
	to, err := q.TaskRequestSender(ctx, child.ID)
	if err != nil {
		if err = db.MapError(err, "message"); apperr.Is(err, apperr.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	if to == nil {
		return nil, nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	row, err := q.MessageCreate(ctx, db.MessageCreateParams{
		ID: id, SenderID: &agent.ID, RecipientID: *to, Type: "response", CorrelationID: &child.ID,
		TaskID: child.ParentTaskID, Payload: mustJSON(payload),
	})
	if err != nil {
		return nil, db.MapError(err, "message")
	}
	return &row, nil
}

// publishResponse announces a stored response (nil: none).
func (s *Service) publishResponse(m *db.Message) {
	if m != nil {
		s.publishMessage(messageFromRow(*m))
	}
}

func (s *Service) publishMessage(m Message) {
	e, err := events.New(events.MessageSent, m)
	if err != nil {
		return
	}
	e.AgentID = m.RecipientID.String()
	if m.TaskID != nil {
		e.TaskID = m.TaskID.String()
	}
	s.events.Publish(e)
}
