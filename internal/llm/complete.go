package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/validate"
)

// invalidResponseMessage is the one message for any answer that is not a
// usable chat completion, whatever the provider sent.
const invalidResponseMessage = "LLM provider returned an invalid response"

// toolName is the function-name rule OpenAI enforces; checking it here
// turns a provider 400 into a clear message before any network call.
var toolName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Complete sends one chat completion to the request's provider, retrying
// 429, 408, 5xx and connection failures with exponential backoff and
// jitter (or the provider's Retry-After), and returns the answer with its
// token usage and cost.
//
// Errors are apperr errors: Invalid for a bad request (or one the provider
// refused as such), RateLimited when the provider still throttles after the
// retries, Unavailable when it is down, slow, misconfigured or answers
// nonsense, and Unavailable wrapping ErrNoProvider when none is configured.
// When ctx ends first, the context's error is returned as is.
func (r *Router) Complete(ctx context.Context, req Request) (Response, error) {
	start := time.Now()
	p, err := r.resolve(req.Provider)
	if err != nil {
		return Response{}, err
	}
	model := req.Model
	if model == "" {
		model = p.info.DefaultModel
	}
	if model == "" {
		return Response{}, apperr.E(apperr.Invalid, "no model named: LLM provider %s (%s) has no default model; set LLM_MODEL or name the model in the request", p.info.Name, p.info.BaseURL)
	}
	params, err := r.params(p, model, req)
	if err != nil {
		return Response{}, err
	}

	comp, attempts, err := r.send(ctx, p, params)
	if err != nil {
		return Response{}, err
	}

	choice := comp.Choices[0]
	resp := Response{
		Content:          validate.Clean(choice.Message.Content), // a NUL would make the answer unstorable
		FinishReason:     choice.FinishReason,
		Model:            comp.Model,
		Provider:         p.info.Name,
		PromptTokens:     comp.Usage.PromptTokens,
		CompletionTokens: comp.Usage.CompletionTokens,
		TotalTokens:      comp.Usage.TotalTokens,
		Attempts:         attempts,
	}
	if resp.Model == "" {
		resp.Model = model
	}
	if resp.TotalTokens == 0 {
		resp.TotalTokens = resp.PromptTokens + resp.CompletionTokens
	}
	for _, tc := range choice.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue // custom (free-text) tools are never offered by Complete
		}
		resp.ToolCalls = append(resp.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: arguments(tc.Function.Arguments)})
	}
	if price, ok := lookupPrice(r.prices, model, resp.Model); ok {
		resp.Cost, resp.CostKnown = price.Cost(resp.PromptTokens, resp.CompletionTokens), true
	}
	resp.Duration = time.Since(start)
	return resp, nil
}

// arguments keeps the model's tool arguments as valid JSON (see ToolCall).
func arguments(s string) json.RawMessage {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return json.RawMessage(`{}`)
	case json.Valid([]byte(s)):
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// params validates the request and converts it to the SDK's parameters.
func (r *Router) params(p *provider, model string, req Request) (openai.ChatCompletionNewParams, error) {
	out := openai.ChatCompletionNewParams{Model: model}
	if len(req.Messages) == 0 {
		return out, apperr.E(apperr.Invalid, "a completion needs at least one message")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			out.Messages = append(out.Messages, openai.SystemMessage(m.Content))
		case RoleUser:
			out.Messages = append(out.Messages, openai.UserMessage(m.Content))
		case RoleAssistant:
			var a openai.ChatCompletionAssistantMessageParam
			if m.Content != "" || len(m.ToolCalls) == 0 {
				a.Content.OfString = openai.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				args := string(tc.Arguments)
				if args == "" {
					args = "{}"
				}
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID:       tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: args},
					},
				})
			}
			out.Messages = append(out.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case RoleTool:
			if m.ToolCallID == "" {
				return out, apperr.E(apperr.Invalid, "message %d has role tool but no tool call id", i)
			}
			out.Messages = append(out.Messages, openai.ToolMessage(m.Content, m.ToolCallID))
		default:
			return out, apperr.E(apperr.Invalid, "message %d has role %q: allowed roles are system, user, assistant, tool", i, m.Role)
		}
	}

	maxTokens := req.MaxTokens
	if maxTokens < 0 {
		return out, apperr.E(apperr.Invalid, "max tokens %d must not be negative", maxTokens)
	}
	if maxTokens == 0 {
		maxTokens = r.maxTokens
	}
	if maxTokens > 0 {
		if p.maxCompletionTokens {
			out.MaxCompletionTokens = openai.Int(int64(maxTokens))
		} else {
			out.MaxTokens = openai.Int(int64(maxTokens))
		}
	}
	temperature := r.temperature
	if req.Temperature != nil {
		temperature = *req.Temperature
		if temperature < 0 || temperature > 2 {
			return out, apperr.E(apperr.Invalid, "temperature %g must be from 0 to 2", temperature)
		}
	}
	out.Temperature = openai.Float(temperature)

	names := map[string]bool{}
	for _, t := range req.Tools {
		if !toolName.MatchString(t.Name) {
			return out, apperr.E(apperr.Invalid, "tool name %q must be 1 to 64 letters, digits, underscores or dashes", t.Name)
		}
		if names[t.Name] {
			return out, apperr.E(apperr.Invalid, "tool %q is listed twice", t.Name)
		}
		names[t.Name] = true
		// Some compatible servers reject a function without parameters,
		// so an empty schema is sent as an object without properties.
		schema := shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
		if len(t.Parameters) > 0 {
			schema = nil
			if err := json.Unmarshal(t.Parameters, &schema); err != nil || schema == nil {
				return out, apperr.E(apperr.Invalid, "tool %q parameters must be a JSON Schema object", t.Name)
			}
		}
		def := shared.FunctionDefinitionParam{Name: t.Name, Parameters: schema}
		if t.Description != "" {
			def.Description = openai.String(t.Description)
		}
		out.Tools = append(out.Tools, openai.ChatCompletionFunctionTool(def))
	}
	switch c := req.ToolChoice; {
	case c == "":
	case len(req.Tools) == 0:
		return out, apperr.E(apperr.Invalid, "tool choice %q given without tools", c)
	case c == "auto" || c == "none" || c == "required":
		out.ToolChoice.OfAuto = openai.String(c)
	case names[c]:
		out.ToolChoice.OfFunctionToolChoice = &openai.ChatCompletionNamedToolChoiceParam{
			Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: c},
		}
	default:
		return out, apperr.E(apperr.Invalid, "tool choice %q is not auto, none, required or the name of a given tool", c)
	}
	return out, nil
}

// send makes up to maxAttempts attempts. The SDK's own retries are off
// (option.WithMaxRetries(0)): its first backoff is a fixed 0.5 s and a
// Retry-After above its cap silently ends the retries, while here the
// backoff is configurable (fast tests), timeouts are not retried, and the
// final error says how many attempts were made.
func (r *Router) send(ctx context.Context, p *provider, params openai.ChatCompletionNewParams) (*openai.ChatCompletion, int, error) {
	for attempt := 1; ; attempt++ {
		comp, res, err := r.attempt(ctx, p, params)
		if ctx.Err() != nil {
			return nil, attempt, ctx.Err()
		}
		if err == nil {
			if comp == nil || len(comp.Choices) == 0 {
				return nil, attempt, apperr.E(apperr.Unavailable, "%s: %s sent no choices", invalidResponseMessage, p.info.Name)
			}
			return comp, attempt, nil
		}
		f := r.classify(p, res, err, attempt)
		if !f.retry || attempt >= r.maxAttempts {
			return nil, attempt, f.err
		}
		wait := r.backoff(attempt)
		if f.retryAfter > 0 {
			if f.retryAfter > r.maxRetryAfter {
				return nil, attempt, apperr.Wrap(err, apperr.RateLimited, "LLM provider %s is rate limiting requests and asks to wait %s; retry later", p.info.Name, f.retryAfter.Round(time.Second))
			}
			wait = f.retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attempt, ctx.Err()
		case <-t.C:
		}
	}
}

// tokenError marks a failure to obtain a bearer token, which is not the
// provider's answer and is not retried here (the TokenSource owns that).
type tokenError struct{ err error }

func (e tokenError) Error() string { return "getting a token: " + e.err.Error() }
func (e tokenError) Unwrap() error { return e.err }

// attempt makes one HTTP call bounded by the per-attempt timeout. res is
// the HTTP response (body already consumed) when one arrived, so failures
// are classified by status even when the body is not a JSON error.
func (r *Router) attempt(ctx context.Context, p *provider, params openai.ChatCompletionNewParams) (*openai.ChatCompletion, *http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var res *http.Response
	opts := []option.RequestOption{option.WithResponseInto(&res)}
	if p.tokens != nil {
		tok, err := p.tokens.Token(actx)
		if err != nil {
			return nil, nil, tokenError{err}
		}
		opts = append(opts, option.WithAPIKey(tok))
	}
	comp, err := p.svc.New(actx, params, opts...)
	return comp, res, err
}

// failure is a classified attempt error.
type failure struct {
	err        error
	retry      bool
	retryAfter time.Duration // from the provider; 0 when absent
}

// classify maps a failed attempt to an apperr error and whether to retry.
// The messages name the provider and the status, never a credential.
func (r *Router) classify(p *provider, res *http.Response, err error, attempt int) failure {
	name := p.info.Name
	var te tokenError
	if errors.As(err, &te) {
		if apperr.CodeOf(te.err) != apperr.Internal {
			return failure{err: te.err}
		}
		return failure{err: apperr.Wrap(err, apperr.Unavailable, "could not get an access token for LLM provider %s", name)}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return failure{err: apperr.Wrap(err, apperr.Unavailable, "LLM provider %s did not answer within %s", name, r.timeout)}
	}
	if res == nil {
		return failure{retry: true, err: apperr.Wrap(err, apperr.Unavailable, "could not reach LLM provider %s at %s after %s", name, p.info.BaseURL, plural(attempt, "attempt"))}
	}
	status := res.StatusCode
	if status < 400 {
		// The status was fine but the body did not decode.
		return failure{err: apperr.Wrap(err, apperr.Unavailable, "%s: %s answered HTTP %d with a body that is not a chat completion", invalidResponseMessage, name, status)}
	}

	detail := ""
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		detail = providerMessage(apiErr.Message, p.apiKey)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return failure{err: apperr.Wrap(err, apperr.Unavailable, "LLM provider %s rejected the API key (HTTP %d): check the key the operator configured", name, status)}
	case status == http.StatusTooManyRequests && apiErr != nil && apiErr.Code == "insufficient_quota":
		// OpenAI signals an exhausted account with 429; waiting will not
		// refill it.
		return failure{err: apperr.Wrap(err, apperr.Unavailable, "LLM provider %s reports the account's quota is exhausted", name)}
	case status == http.StatusTooManyRequests:
		return failure{retry: true, retryAfter: retryAfter(res.Header, time.Now()), err: apperr.Wrap(err, apperr.RateLimited, "LLM provider %s is rate limiting requests (HTTP 429) after %s; retry later", name, plural(attempt, "attempt"))}
	case status == http.StatusRequestTimeout || status >= 500:
		return failure{retry: true, retryAfter: retryAfter(res.Header, time.Now()), err: apperr.Wrap(err, apperr.Unavailable, "LLM provider %s failed with HTTP %d after %s", name, status, plural(attempt, "attempt"))}
	case status == http.StatusRequestEntityTooLarge:
		return failure{err: apperr.Wrap(err, apperr.TooLarge, "LLM provider %s refused the request as too large (HTTP 413)", name)}
	case status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusUnprocessableEntity:
		return failure{err: apperr.Wrap(err, apperr.Invalid, "LLM provider %s refused the request (HTTP %d)%s", name, status, detail)}
	}
	return failure{err: apperr.Wrap(err, apperr.Unavailable, "LLM provider %s refused the request (HTTP %d)%s", name, status, detail)}
}

// providerMessage keeps a provider's explanation (such as "model not
// found"), shortened, without the key some providers echo in part.
func providerMessage(msg, key string) string {
	msg = strings.TrimSpace(validate.Clean(msg))
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	if msg == "" {
		return ""
	}
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return ": " + msg
}

// backoff is the wait after the given failed attempt: base·2^(attempt-1)
// capped, with the upper half jittered so that clients throttled together
// do not retry together.
func (r *Router) backoff(attempt int) time.Duration {
	d := r.backoffMax
	if shift := attempt - 1; shift < 30 {
		d = min(r.backoffBase<<shift, r.backoffMax)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter reads Retry-After-Ms (OpenAI's precise variant) or
// Retry-After in seconds or as an HTTP date; 0 when absent or unusable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < 1e9 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
