package conformance

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Prompt names the suite asks for.
const (
	promptSimple           = "test_simple_prompt"
	promptWithArguments    = "test_prompt_with_arguments"
	promptEmbeddedResource = "test_prompt_with_embedded_resource"
	promptWithImage        = "test_prompt_with_image"
)

// addPrompts registers the fixture prompts.
func addPrompts(srv *mcp.Server) {
	srv.AddPrompt(&mcp.Prompt{
		Name:        promptSimple,
		Title:       "Simple Test Prompt",
		Description: "A simple prompt without arguments",
	}, simplePrompt)
	srv.AddPrompt(&mcp.Prompt{
		Name:        promptWithArguments,
		Title:       "Prompt With Arguments",
		Description: "A prompt with required arguments",
		Arguments: []*mcp.PromptArgument{
			{Name: "arg1", Description: "First test argument", Required: true},
			{Name: "arg2", Description: "Second test argument", Required: true},
		},
	}, argumentsPrompt)
	srv.AddPrompt(&mcp.Prompt{
		Name:        promptEmbeddedResource,
		Title:       "Prompt With Embedded Resource",
		Description: "A prompt that includes an embedded resource",
		Arguments: []*mcp.PromptArgument{
			{Name: "resourceUri", Description: "URI of the resource to embed", Required: true},
		},
	}, embeddedResourcePrompt)
	srv.AddPrompt(&mcp.Prompt{
		Name:        promptWithImage,
		Title:       "Prompt With Image",
		Description: "A prompt that includes image content",
	}, imagePrompt)
}

func simplePrompt(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	return &mcp.GetPromptResult{
		Description: "A simple test prompt",
		Messages: []*mcp.PromptMessage{
			{Role: "user", Content: &mcp.TextContent{Text: "This is a simple prompt for testing."}},
		},
	}, nil
}

func argumentsPrompt(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := req.Params.Arguments
	if err := requireArguments(args, "arg1", "arg2"); err != nil {
		return nil, err
	}
	return &mcp.GetPromptResult{
		Description: "A prompt with arguments",
		Messages: []*mcp.PromptMessage{{
			Role:    "user",
			Content: &mcp.TextContent{Text: fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", args["arg1"], args["arg2"])},
		}},
	}, nil
}

func embeddedResourcePrompt(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	if err := requireArguments(req.Params.Arguments, "resourceUri"); err != nil {
		return nil, err
	}
	uri := req.Params.Arguments["resourceUri"]
	return &mcp.GetPromptResult{
		Description: "A prompt with an embedded resource",
		Messages: []*mcp.PromptMessage{
			{Role: "user", Content: &mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
				URI:      uri,
				MIMEType: "text/plain",
				Text:     "Embedded resource content for testing.",
			}}},
			{Role: "user", Content: &mcp.TextContent{Text: "Please process the embedded resource above."}},
		},
	}, nil
}

func imagePrompt(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	png, err := pngImage()
	if err != nil {
		return nil, err
	}
	return &mcp.GetPromptResult{
		Description: "A prompt with an image",
		Messages: []*mcp.PromptMessage{
			{Role: "user", Content: &mcp.ImageContent{Data: png, MIMEType: "image/png"}},
			{Role: "user", Content: &mcp.TextContent{Text: "Please analyze the image above."}},
		},
	}, nil
}

// requireArguments reports a missing required prompt argument as the
// JSON-RPC invalid-params error the spec names; the SDK does not check the
// arguments a prompt declares.
func requireArguments(args map[string]string, names ...string) error {
	for _, name := range names {
		if _, ok := args[name]; !ok {
			return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("missing required argument %q", name)}
		}
	}
	return nil
}
