// Package llm sends chat completions to OpenAI-compatible providers: OpenAI
// itself, Cloud.ru Evolution Foundation Models, and any local server that
// speaks the same wire format (Ollama, vLLM) reached by base URL.
//
// A Router is built once from config.LLM and is safe for concurrent use. It
// owns the per-attempt timeout, the retry policy, the mapping of provider
// failures to apperr codes and the token and cost accounting, so callers
// (agents, tools, handlers) only see a Request, a Response and an apperr
// error. Without a configured provider every call fails with an error for
// which IsNoProvider is true: callers that can work without an LLM check it
// and carry on instead of inventing a result.
package llm

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/config"
)

// Provider names, as DEFAULT_LLM_PROVIDER and Request.Provider spell them.
const (
	ProviderOpenAI    = "openai"
	ProviderEvolution = "evolution"
)

// Defaults of a Router built without options.
const (
	// DefaultOpenAIBaseURL is used when OPENAI_BASE_URL is unset.
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	// DefaultOpenAIModel is cheap and supports tool calls, a sensible model
	// for an agent when the operator names none.
	DefaultOpenAIModel = "gpt-4o-mini"
	// DefaultEvolutionModel is a model Cloud.ru Evolution serves with tool
	// calling.
	DefaultEvolutionModel = "zai-org/GLM-4.7"
	// DefaultTimeout bounds one attempt. It is long because a completion of
	// a few thousand tokens legitimately takes tens of seconds.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxAttempts counts the first try: 3 means up to two retries.
	DefaultMaxAttempts = 3
	// DefaultBackoffBase is the wait before the first retry, doubled for
	// each further retry, with jitter.
	DefaultBackoffBase = 500 * time.Millisecond
	// DefaultBackoffMax caps the exponential backoff.
	DefaultBackoffMax = 8 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After the Router waits for;
	// a provider asking for more is reported as rate limited at once, so a
	// caller is never blocked for minutes inside one call.
	DefaultMaxRetryAfter = 30 * time.Second
)

// ErrNoProvider is the cause of the error Complete returns when no provider
// is configured. Test for it with IsNoProvider.
var ErrNoProvider = errors.New("llm: no provider configured")

// noProviderMessage tells the operator exactly what to set.
const noProviderMessage = "no LLM provider configured: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server) or EVOLUTION_API_KEY"

// IsNoProvider reports whether err says that no LLM provider is configured,
// so callers that can do without an LLM degrade instead of failing.
func IsNoProvider(err error) bool { return errors.Is(err, ErrNoProvider) }

// Auth says how a provider authenticates, for the health page: never the
// credential itself.
type Auth string

// The ways a provider authenticates.
const (
	AuthAPIKey   Auth = "api_key"   // a static bearer key
	AuthNone     Auth = "none"      // a local server reached without a key
	AuthIAMToken Auth = "iam_token" // a short-lived token from a TokenSource
)

// ProviderInfo describes a configured provider without its credentials.
type ProviderInfo struct {
	Name string
	// BaseURL has any user:password part redacted.
	BaseURL string
	// DefaultModel is used when a Request names none; it is empty for a
	// local server, whose models only the operator knows.
	DefaultModel string
	Auth         Auth
}

// Role is the author of a Message.
type Role string

// The roles a Message may have.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
	// ToolCalls are the calls an assistant turn made; a tool-calling loop
	// sends them back with the results so the model sees its own calls.
	ToolCalls []ToolCall
	// ToolCallID is the call a RoleTool message answers.
	ToolCallID string
}

// Tool is a function the model may call, described by a JSON Schema.
type Tool struct {
	// Name must match ^[A-Za-z0-9_-]{1,64}$, the rule OpenAI enforces.
	Name        string
	Description string
	// Parameters is a JSON Schema object; empty means no parameters.
	Parameters json.RawMessage
}

// ToolCall is a call the model asked for.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is the JSON the model produced. Models may produce JSON
	// that does not match the schema: validate before use. When the model's
	// text is not JSON at all it is kept as a JSON string, so Arguments is
	// always valid JSON and the caller's validation reports the mistake.
	Arguments json.RawMessage
}

// Request is one chat completion.
type Request struct {
	// Provider names the provider; "" is the default one.
	Provider string
	// Model names the model; "" is LLM_MODEL for the default provider or
	// the provider's default model.
	Model    string
	Messages []Message
	// MaxTokens bounds the completion; 0 is LLM_MAX_TOKENS.
	MaxTokens int
	// Temperature overrides LLM_TEMPERATURE when set (0 to 2).
	Temperature *float64
	Tools       []Tool
	// ToolChoice is "" (the provider decides), "auto", "none", "required",
	// or the name of one of Tools to force that call.
	ToolChoice string
}

// Response is a completion with its accounting.
type Response struct {
	Content   string
	ToolCalls []ToolCall
	// FinishReason is the provider's: "stop", "length", "tool_calls", ...
	FinishReason string
	// Model is the model that answered, as the provider reports it (often a
	// dated snapshot of the requested one).
	Model            string
	Provider         string
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
	// Cost is in USD, from the price table; 0 when CostKnown is false.
	Cost float64
	// CostKnown is false when the model has no price, so a reported cost of
	// 0 is never mistaken for a free call.
	CostKnown bool
	// Attempts counts the HTTP attempts, retries included.
	Attempts int
	// Duration is the whole call, retries and waits included.
	Duration time.Duration
}

// Option configures a Router.
type Option func(*settings)

type settings struct {
	timeout         time.Duration
	maxAttempts     int
	backoffBase     time.Duration
	backoffMax      time.Duration
	maxRetryAfter   time.Duration
	prices          map[string]Price
	httpClient      *http.Client
	evolutionTokens TokenSource
}

// WithTimeout bounds each attempt (default DefaultTimeout). A timed-out
// attempt is not retried: a provider that could not answer in the whole
// window rarely does better at once, and retrying would multiply the
// caller's wait.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithMaxAttempts sets how many attempts a call makes on retryable failures
// (429, 408, 5xx, connection errors), the first included. Values below 1
// mean 1.
func WithMaxAttempts(n int) Option {
	return func(s *settings) { s.maxAttempts = max(n, 1) }
}

// WithBackoff sets the wait before the first retry and the cap of the
// exponential backoff; tests use a few milliseconds.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(s *settings) {
		if base > 0 {
			s.backoffBase = base
		}
		if maxDelay > 0 {
			s.backoffMax = maxDelay
		}
	}
}

// WithMaxRetryAfter sets the longest Retry-After the Router waits for
// (default DefaultMaxRetryAfter).
func WithMaxRetryAfter(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.maxRetryAfter = d
		}
	}
}

// WithPrices adds or replaces model prices on top of DefaultPrices, for
// operators (LLM_PRICES through ParsePrices) and for models whose price the
// defaults do not know.
func WithPrices(prices map[string]Price) Option {
	return func(s *settings) {
		for model, p := range prices {
			s.prices[model] = p
		}
	}
}

// WithHTTPClient sets the HTTP client every provider uses, for a proxy or a
// custom transport.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings) {
		if c != nil {
			s.httpClient = c
		}
	}
}

// WithEvolutionTokenSource authenticates Evolution with short-lived tokens
// (see IAMTokenSource) instead of EVOLUTION_API_KEY. It configures the
// Evolution provider even without a key, and wins over a key when both are
// given because it was asked for explicitly.
func WithEvolutionTokenSource(ts TokenSource) Option {
	return func(s *settings) { s.evolutionTokens = ts }
}

// provider is one configured endpoint.
type provider struct {
	info ProviderInfo
	// apiKey is kept only to redact it from provider error messages.
	apiKey string
	tokens TokenSource
	// maxCompletionTokens selects the max_completion_tokens field: OpenAI
	// deprecated max_tokens and its reasoning models reject it, while
	// compatible servers have long understood only max_tokens.
	maxCompletionTokens bool
	svc                 openai.ChatCompletionService
	models              openai.ModelService // for the health probe
	probe               probeState
}

// Router sends completions to the configured providers. It is immutable
// after New and safe for concurrent use.
type Router struct {
	settings
	providers   []*provider // configuration order: openai, evolution
	defaultName string
	maxTokens   int
	temperature float64
}

// New builds a Router from the LLM configuration. It never fails: with no
// provider configured the Router exists and every Complete reports
// ErrNoProvider, so a server without an LLM still starts. A DefaultProvider
// that names an unconfigured provider (config.Load rejects that) falls back
// to the first configured one.
func New(cfg config.LLM, opts ...Option) *Router {
	r := &Router{
		settings: settings{
			timeout:       DefaultTimeout,
			maxAttempts:   DefaultMaxAttempts,
			backoffBase:   DefaultBackoffBase,
			backoffMax:    DefaultBackoffMax,
			maxRetryAfter: DefaultMaxRetryAfter,
			prices:        DefaultPrices(),
			httpClient:    &http.Client{},
		},
		maxTokens:   cfg.MaxTokens,
		temperature: cfg.Temperature,
	}
	for _, o := range opts {
		o(&r.settings)
	}

	if cfg.OpenAIAPIKey != "" || cfg.OpenAIBaseURL != "" {
		p := &provider{
			info:   ProviderInfo{Name: ProviderOpenAI, BaseURL: DefaultOpenAIBaseURL, DefaultModel: DefaultOpenAIModel, Auth: AuthAPIKey},
			apiKey: cfg.OpenAIAPIKey,
		}
		if cfg.OpenAIBaseURL != "" {
			p.info.BaseURL = cfg.OpenAIBaseURL
		} else {
			p.maxCompletionTokens = true
		}
		if cfg.OpenAIAPIKey == "" {
			// A key-less base URL is a local server: its models are
			// whatever the operator pulled, so no default is guessed.
			p.info.Auth = AuthNone
			p.info.DefaultModel = ""
		}
		r.providers = append(r.providers, p)
	}
	if cfg.EvolutionAPIKey != "" || r.evolutionTokens != nil {
		base := cfg.EvolutionBaseURL
		if base == "" {
			base = config.DefaultEvolutionBaseURL
		}
		p := &provider{
			info:   ProviderInfo{Name: ProviderEvolution, BaseURL: base, DefaultModel: DefaultEvolutionModel, Auth: AuthAPIKey},
			apiKey: cfg.EvolutionAPIKey,
		}
		if r.evolutionTokens != nil {
			p.apiKey, p.tokens, p.info.Auth = "", r.evolutionTokens, AuthIAMToken
		}
		r.providers = append(r.providers, p)
	}

	for _, p := range r.providers {
		// openai.NewClient is avoided on purpose: it reads OPENAI_* from the
		// process environment, which would bypass config and could send an
		// OpenAI organization header or key to another provider.
		o := []option.RequestOption{
			option.WithHTTPClient(r.httpClient),
			option.WithBaseURL(p.info.BaseURL),
			option.WithMaxRetries(0), // the Router retries; see complete.go
		}
		if p.apiKey != "" {
			o = append(o, option.WithAPIKey(p.apiKey))
		}
		p.svc = openai.NewChatCompletionService(o...)
		p.models = openai.NewModelService(o...)
		p.info.BaseURL = redactURL(p.info.BaseURL)
	}

	if len(r.providers) > 0 {
		r.defaultName = r.providers[0].info.Name
		if r.lookup(cfg.DefaultProvider) != nil {
			r.defaultName = cfg.DefaultProvider
		}
		if cfg.Model != "" {
			// LLM_MODEL is one name, meaningful for one provider: the
			// default. Another provider keeps its own default model.
			r.lookup(r.defaultName).info.DefaultModel = cfg.Model
		}
	}
	return r
}

// Available lists the configured providers in configuration order.
func (r *Router) Available() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(r.providers))
	for _, p := range r.providers {
		out = append(out, p.info)
	}
	return out
}

// Default returns the provider used when a Request names none; ok is false
// when no provider is configured.
func (r *Router) Default() (name string, ok bool) {
	return r.defaultName, r.defaultName != ""
}

func (r *Router) lookup(name string) *provider {
	for _, p := range r.providers {
		if p.info.Name == name {
			return p
		}
	}
	return nil
}

// resolve picks the provider of a request, with an error that tells the
// caller which names would work.
func (r *Router) resolve(name string) (*provider, error) {
	if len(r.providers) == 0 {
		return nil, apperr.Wrap(ErrNoProvider, apperr.Unavailable, noProviderMessage)
	}
	if name == "" {
		name = r.defaultName
	}
	if p := r.lookup(name); p != nil {
		return p, nil
	}
	configured := r.names()
	switch name {
	case ProviderOpenAI:
		return nil, apperr.E(apperr.Invalid, "LLM provider %q is not configured (set OPENAI_API_KEY or OPENAI_BASE_URL); configured providers: %s", name, configured)
	case ProviderEvolution:
		return nil, apperr.E(apperr.Invalid, "LLM provider %q is not configured (set EVOLUTION_API_KEY); configured providers: %s", name, configured)
	}
	return nil, apperr.E(apperr.Invalid, "unknown LLM provider %q: configured providers: %s", name, configured)
}

func (r *Router) names() string {
	names := make([]string, 0, len(r.providers))
	for _, p := range r.providers {
		names = append(names, p.info.Name)
	}
	return strings.Join(names, ", ")
}

// redactURL hides a user:password part of a base URL, which the health
// page would otherwise show.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
