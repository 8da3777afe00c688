package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool names the suite calls. They are part of the suite's contract, so they
// are spelled exactly as its scenarios spell them.
const (
	toolSimpleText          = "test_simple_text"
	toolImageContent        = "test_image_content"
	toolAudioContent        = "test_audio_content"
	toolEmbeddedResource    = "test_embedded_resource"
	toolMultipleContent     = "test_multiple_content_types"
	toolWithLogging         = "test_tool_with_logging"
	toolWithProgress        = "test_tool_with_progress"
	toolErrorHandling       = "test_error_handling"
	toolSampling            = "test_sampling"
	toolElicitation         = "test_elicitation"
	toolElicitationDefaults = "test_elicitation_sep1034_defaults"
	toolElicitationEnums    = "test_elicitation_sep1330_enums"
	toolJSONSchema202012    = "json_schema_2020_12_tool"
	toolReconnection        = "test_reconnection"
)

// Texts the suite or its reference fixtures compare against.
const (
	simpleText       = "This is a simple text response for testing."
	embeddedText     = "This is an embedded resource"
	errorToolMessage = "This tool intentionally returns an error for testing"
)

// stepDelay spaces out the notifications of the logging and progress tools:
// the scenarios exist to show that a client receives several notifications
// while one call is still running, which needs them to be apart in time.
const stepDelay = 50 * time.Millisecond

// reconnectDelay is the SSE retry interval test_reconnection asks for.
const reconnectDelay = 10 * time.Millisecond

// noArgs is the input of the tools that take no arguments; as a struct its
// inferred schema is an object that admits no properties.
type noArgs struct{}

// samplingArgs is the input of test_sampling.
type samplingArgs struct {
	Prompt string `json:"prompt" jsonschema:"the prompt to send to the client's LLM"`
}

// elicitationArgs is the input of test_elicitation.
type elicitationArgs struct {
	Message string `json:"message" jsonschema:"the message to show the user"`
}

// addTools registers the fixture tools on srv.
func addTools(srv *mcp.Server) {
	mcp.AddTool(srv, &mcp.Tool{Name: toolSimpleText, Description: "Returns one text content block."}, simpleTextTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolImageContent, Description: "Returns one image content block (a 1x1 PNG)."}, imageTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolAudioContent, Description: "Returns one audio content block (a short WAV)."}, audioTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolEmbeddedResource, Description: "Returns one embedded text resource."}, embeddedResourceTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolMultipleContent, Description: "Returns text, image and embedded resource content in one result."}, multipleContentTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolWithLogging, Description: "Sends three info log notifications while it runs."}, loggingTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolWithProgress, Description: "Sends progress notifications (0, 50, 100 of 100) for the caller's progress token and returns the token."}, progressTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolErrorHandling, Description: "Always fails, reported as a tool result with isError set."}, errorTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolSampling, Description: "Asks the client's LLM (sampling/createMessage) to answer a prompt and returns the answer."}, samplingTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolElicitation, Description: "Asks the user (elicitation/create) for a username and an email address."}, elicitationTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolElicitationDefaults, Description: "Elicits a form whose primitive fields carry default values (SEP-1034)."}, elicitationDefaultsTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolElicitationEnums, Description: "Elicits a form with every enum shape: untitled, titled, legacy enumNames, multi-select (SEP-1330)."}, elicitationEnumsTool)

	// The two below serve scenarios the 2025-11-25 list runs but does not
	// score (json-schema-2020-12 and server-sse-polling, both pending in
	// the suite); they cost little and keep the whole run green.
	mcp.AddTool(srv, &mcp.Tool{
		Name:        toolJSONSchema202012,
		Description: "Declares an input schema using JSON Schema 2020-12 keywords ($schema, $defs, $anchor, allOf/anyOf, if/then/else) that must reach the client unchanged (SEP-1613, SEP-2106).",
		InputSchema: json.RawMessage(jsonSchema202012),
	}, jsonSchemaTool)
	mcp.AddTool(srv, &mcp.Tool{Name: toolReconnection, Description: "Closes its SSE stream mid-call and answers after the client reconnects (SEP-1699)."}, reconnectionTool)
}

// jsonSchema202012 is the input schema of json_schema_2020_12_tool, as the
// suite's reference fixtures declare it.
const jsonSchema202012 = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"$defs": {
		"address": {
			"$anchor": "addressDef",
			"type": "object",
			"properties": {"street": {"type": "string"}, "city": {"type": "string"}}
		}
	},
	"properties": {
		"name": {"type": "string"},
		"address": {"$ref": "#/$defs/address"},
		"contactMethod": {"type": "string", "enum": ["phone", "email"]},
		"phone": {"type": "string"},
		"email": {"type": "string"}
	},
	"allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
	"if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
	"then": {"required": ["phone"]},
	"else": {"required": ["email"]},
	"additionalProperties": false
}`

// textResult wraps one text block as a tool result.
func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

func simpleTextTool(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
	return textResult(simpleText), nil, nil
}

func imageTool(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
	png, err := pngImage()
	if err != nil {
		return nil, nil, err
	}
	return &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.ImageContent{Data: png, MIMEType: "image/png"},
	}}, nil, nil
}

func audioTool(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
	wav, err := wavAudio()
	if err != nil {
		return nil, nil, err
	}
	return &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.AudioContent{Data: wav, MIMEType: "audio/wav"},
	}}, nil, nil
}

func embeddedResourceTool(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
			URI:      "test://embedded-resource",
			MIMEType: "text/plain",
			Text:     embeddedText,
		}},
	}}, nil, nil
}

func multipleContentTool(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
	png, err := pngImage()
	if err != nil {
		return nil, nil, err
	}
	return &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.TextContent{Text: "This is text content"},
		&mcp.ImageContent{Data: png, MIMEType: "image/png"},
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
			URI:      "test://mixed-content-resource",
			MIMEType: "text/plain",
			Text:     embeddedText,
		}},
	}}, nil, nil
}

// loggingTool sends its three messages through the session's logger, so
// they honour the level the client chose with logging/setLevel.
func loggingTool(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	messages := []string{"Tool execution started", "Tool processing data", "Tool execution completed"}
	for i, msg := range messages {
		if i > 0 {
			if err := sleep(ctx, stepDelay); err != nil {
				return nil, nil, err
			}
		}
		// The SDK marks logging deprecated from protocol 2026-07-28 on
		// (SEP-2577); the 2025-11-25 scenarios still require it.
		if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Logger: ServerName, Data: msg}); err != nil {
			return nil, nil, fmt.Errorf("send log message: %w", err)
		}
	}
	return textResult("Tool with logging executed successfully"), nil, nil
}

// progressTool reports progress against the token the caller sent. Without
// a token there is nobody to report to, so it only does the work.
func progressTool(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	token := req.Params.GetProgressToken()
	const total = 100.0
	for i, done := range []float64{0, 50, 100} {
		if i > 0 {
			if err := sleep(ctx, stepDelay); err != nil {
				return nil, nil, err
			}
		}
		if token == nil {
			continue
		}
		err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token,
			Progress:      done,
			Total:         total,
			Message:       fmt.Sprintf("Completed %.0f of %.0f", done, total),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("send progress: %w", err)
		}
	}
	// The reference fixtures answer with the token, so a client can check
	// that the notifications it saw belong to this call.
	return textResult(fmt.Sprint(token)), nil, nil
}

// errorTool fails the way a business tool does: the SDK turns a handler
// error into a result with isError set and the message as text, which is
// what the tools-call-error scenario expects (not a JSON-RPC error).
func errorTool(context.Context, *mcp.CallToolRequest, noArgs) (*mcp.CallToolResult, any, error) {
	return nil, nil, errors.New(errorToolMessage)
}

func samplingTool(ctx context.Context, req *mcp.CallToolRequest, in samplingArgs) (*mcp.CallToolResult, any, error) {
	// Sampling is deprecated from protocol 2026-07-28 on (SEP-2577); the
	// 2025-11-25 scenarios still require it.
	res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
		Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Prompt}}},
		MaxTokens: 100,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sampling request to the client failed: %w", err)
	}
	answer := "(non-text response)"
	if tc, ok := res.Content.(*mcp.TextContent); ok {
		answer = tc.Text
	}
	return textResult("LLM response: " + answer), nil, nil
}

func elicitationTool(ctx context.Context, req *mcp.CallToolRequest, in elicitationArgs) (*mcp.CallToolResult, any, error) {
	return elicit(ctx, req, in.Message, map[string]any{
		"type": "object",
		"properties": map[string]any{
			"username": map[string]any{"type": "string", "description": "User's response"},
			"email":    map[string]any{"type": "string", "description": "User's email address"},
		},
		"required": []string{"username", "email"},
	})
}

func elicitationDefaultsTool(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	return elicit(ctx, req, "Test defaults for primitives", map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name":  map[string]any{"type": "string", "description": "User name", "default": "John Doe"},
			"age":   map[string]any{"type": "integer", "description": "User age", "default": 30},
			"score": map[string]any{"type": "number", "description": "User score", "default": 95.5},
			"status": map[string]any{
				"type":        "string",
				"description": "User status",
				"enum":        []string{"active", "inactive", "pending"},
				"default":     "active",
			},
			"verified": map[string]any{"type": "boolean", "description": "Verification status", "default": true},
		},
	})
}

func elicitationEnumsTool(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	titled := []map[string]any{
		{"const": "value1", "title": "First Option"},
		{"const": "value2", "title": "Second Option"},
		{"const": "value3", "title": "Third Option"},
	}
	return elicit(ctx, req, "Test enum schemas", map[string]any{
		"type": "object",
		"properties": map[string]any{
			"untitledSingle": map[string]any{"type": "string", "enum": []string{"option1", "option2", "option3"}},
			"titledSingle":   map[string]any{"type": "string", "oneOf": titled},
			"legacyEnum": map[string]any{
				"type":      "string",
				"enum":      []string{"opt1", "opt2", "opt3"},
				"enumNames": []string{"Option One", "Option Two", "Option Three"},
			},
			"untitledMulti": map[string]any{
				"type": "array", "minItems": 1, "maxItems": 3,
				"items": map[string]any{"type": "string", "enum": []string{"option1", "option2", "option3"}},
			},
			// Titled multi-select items carry anyOf and no type, as the
			// 2025-11-25 schema defines them (and the SDK's client checks).
			"titledMulti": map[string]any{
				"type": "array", "minItems": 1, "maxItems": 3,
				"items": map[string]any{"anyOf": titled},
			},
		},
	})
}

// elicit asks the client for a form and reports what the user did with it.
// The SDK refuses when the client did not declare the elicitation
// capability, and validates accepted content against the schema.
func elicit(ctx context.Context, req *mcp.CallToolRequest, message string, schema map[string]any) (*mcp.CallToolResult, any, error) {
	res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: message, RequestedSchema: schema})
	if err != nil {
		return nil, nil, fmt.Errorf("elicitation request to the client failed: %w", err)
	}
	content, err := json.Marshal(res.Content)
	if err != nil {
		return nil, nil, fmt.Errorf("encode elicitation content: %w", err)
	}
	return textResult(fmt.Sprintf("User response: action=%s, content=%s", res.Action, content)), nil, nil
}

func jsonSchemaTool(_ context.Context, _ *mcp.CallToolRequest, in map[string]any) (*mcp.CallToolResult, any, error) {
	args, err := json.Marshal(in)
	if err != nil {
		return nil, nil, fmt.Errorf("encode arguments: %w", err)
	}
	return textResult(fmt.Sprintf("JSON Schema 2020-12 tool called with: %s", args)), nil, nil
}

// reconnectionTool closes the POST's SSE stream, telling the client to come
// back shortly; the SDK's event store replays the result on the resumed
// stream.
func reconnectionTool(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
	if req.Extra != nil && req.Extra.CloseSSEStream != nil {
		req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: reconnectDelay})
	}
	if err := sleep(ctx, 2*reconnectDelay+stepDelay); err != nil {
		return nil, nil, err
	}
	return textResult("Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."), nil, nil
}

// sleep waits for d or until ctx is done, so a cancelled call stops early.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
