package mcpserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/mcpstate"
)

// inputRequired is what a tool handler returns to ask the caller for input
// instead of failing (SEP-2322). A 2026-07-28 client gets it as an
// input-required result and calls again with the answers; for a 2025-11-25
// client the SDK asks through elicitation and calls the handler again itself.
type inputRequired struct {
	requests mcp.InputRequestMap
	state    string
}

// askState is the request state of a question: the arguments it was asked
// about, so that the answer cannot be replayed onto another call.
type askState struct {
	Args string `json:"args"`
}

// domainInput is the id of create_task's question for a domain.
const domainInput = "domain"

// askDomain settles create_task's domain when the caller gave none: from the
// answer to an earlier question (whose signed state must verify and belong to
// these same arguments and key), or by asking now. Clients that cannot be
// asked (no elicitation capability) get the error naming the choices.
func (s *Server) askDomain(req *mcp.CallToolRequest, args map[string]any) (string, *inputRequired, error) {
	p, ok := principalOf(req.Extra)
	if !ok {
		return "", nil, apperr.E(apperr.Unauthorized, "unauthenticated")
	}
	binding := "create_task/" + domainInput + "/" + p.KeyID.String()
	choices := agents.Types()
	need := apperr.E(apperr.Invalid, "domain is required: one of %s", strings.Join(choices, ", "))
	digest := argsDigest(args)

	if state := req.Params.RequestState; state != "" {
		var st askState
		if err := s.sealer.Open(binding, state, &st); err != nil {
			return "", nil, err
		}
		if st.Args != digest {
			return "", nil, apperr.E(apperr.Invalid, "requestState refused: it was issued for other arguments; call again without requestState to start over")
		}
		if answer, ok := req.Params.InputResponses[domainInput].(*mcp.ElicitResult); ok && answer != nil {
			if answer.Action != "accept" {
				return "", nil, apperr.E(apperr.Invalid, "no task created: the question for its domain was %sed", strings.TrimSuffix(answer.Action, "e"))
			}
			domain, _ := answer.Content[domainInput].(string)
			if !slices.Contains(choices, domain) {
				return "", nil, apperr.E(apperr.Invalid, "domain %q is not one of %s", apperr.Truncate(domain, 64), strings.Join(choices, ", "))
			}
			return domain, nil, nil
		}
		// No answer to the question: ask it again below.
	} else if req.Params.InputResponses != nil {
		return "", nil, apperr.E(apperr.Invalid, "inputResponses without the requestState they answer; call again without inputResponses")
	}

	if caps := req.ClientCapabilities(); caps == nil || caps.Elicitation == nil {
		return "", nil, need
	}
	state, err := s.sealer.Seal(binding, askState{Args: digest}, mcpstate.DefaultTTL)
	if err != nil {
		return "", nil, err
	}
	title := apperr.Truncate(str(args["title"]), 80)
	enum := make([]any, len(choices))
	for i, c := range choices {
		enum[i] = c
	}
	return "", &inputRequired{
		requests: mcp.InputRequestMap{domainInput: &mcp.ElicitParams{
			Message: "Which business domain should the task \"" + title + "\" go to? Its agents and tools follow from it.",
			RequestedSchema: map[string]any{
				"type":     "object",
				"required": []any{domainInput},
				"properties": map[string]any{domainInput: map[string]any{
					"type": "string", "title": "Domain", "enum": enum,
					"description": "finance, sales, marketing, analytics, operations or general",
				}},
			},
		}},
		state: state,
	}, nil
}

// argsDigest identifies a call's arguments (json.Marshal sorts map keys).
func argsDigest(args map[string]any) string {
	b, _ := json.Marshal(args)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
