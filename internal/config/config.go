// Package config reads bizmcp's configuration from the environment (and an
// optional .env file). Every problem is reported at once, one line each, so
// an operator fixes a bad configuration in one pass.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MinSecretKeyBytes is the shortest SECRET_KEY accepted.
const MinSecretKeyBytes = 32

// generateHint tells an operator how to make a good secret.
const generateHint = "generate one with `openssl rand -hex 32` and put SECRET_KEY=<value> in the environment or .env"

// DefaultEvolutionBaseURL is Cloud.ru Foundation Models' OpenAI-compatible endpoint.
const DefaultEvolutionBaseURL = "https://foundation-models.api.cloud.ru/v1"

// LLM holds the LLM provider settings.
type LLM struct {
	OpenAIAPIKey     string
	OpenAIBaseURL    string
	EvolutionAPIKey  string
	EvolutionBaseURL string
	// EvolutionKeyID and EvolutionKeySecret are a Cloud.ru service-account
	// key, exchanged at EvolutionIAMURL for short-lived bearer tokens: the
	// alternative to EVOLUTION_API_KEY.
	EvolutionKeyID     string
	EvolutionKeySecret string
	EvolutionIAMURL    string
	// Prices is LLM_PRICES, "model=input/output,..." in USD per million
	// tokens, parsed by the llm package.
	Prices string
	// Timeout bounds one attempt of one LLM call (LLM_TIMEOUT).
	Timeout         time.Duration
	DefaultProvider string // "openai", "evolution", or "" (the first configured)
	Model           string
	MaxTokens       int
	Temperature     float64
}

// Config is the whole runtime configuration.
type Config struct {
	DatabaseURL string
	// RedisURL is empty when the server runs as a single instance.
	RedisURL string
	// RedisPrefix namespaces every Redis key and channel, so several
	// deployments (or tests) can share one Redis.
	RedisPrefix string
	SecretKey   string
	HTTPAddr    string
	PublicURL   string
	LogLevel    slog.Level
	LogFormat   string // "text" or "json"

	// RateLimitPerMinute is the rate limit given to new API keys that do not
	// name one.
	RateLimitPerMinute int
	// RateLimitIPPerMinute limits unauthenticated requests per client IP.
	RateLimitIPPerMinute int
	// MaxBodyBytes bounds every request body (413 beyond).
	MaxBodyBytes int64
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration
	// TrustProxyHeaders takes the client IP from X-Forwarded-For; set it
	// only behind a reverse proxy that overwrites that header.
	TrustProxyHeaders bool
	// KeyUsageFlushInterval is how often last_used_at is written for the
	// keys used since the previous flush.
	KeyUsageFlushInterval time.Duration
	// SessionIdleTimeout ends a dashboard session unused for this long;
	// SessionMaxAge ends it this long after sign-in.
	SessionIdleTimeout time.Duration
	SessionMaxAge      time.Duration
	// LoginRateLimitPerMinute limits dashboard sign-in attempts per client
	// IP, so an API key cannot be guessed through the login form.
	LoginRateLimitPerMinute int

	// TaskWorkers is how many tasks this instance runs at once.
	TaskWorkers int
	// TaskRescueAfter is how long a task may look running before it is
	// taken for abandoned by a dead instance and run again.
	TaskRescueAfter time.Duration

	LLM LLM
}

// Mode says what a command needs: serving needs a secret, maintenance
// commands (migrate, keys) only the database.
type Mode int

const (
	// ModeServe validates everything, SECRET_KEY included.
	ModeServe Mode = iota
	// ModeDatabase validates what database maintenance commands need.
	ModeDatabase
)

// isPlaceholder reports values copied from sample files: a server started
// with one of them has a secret every reader of the sample knows.
func isPlaceholder(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "changeme", "change-me", "change_me", "secret", "secret-key", "secret_key",
		"your-secret-key", "your_secret_key", "your-secret-key-change-in-production",
		"your-secret-key-here", "change-this-in-production", "changeme-in-production",
		"supersecret", "super-secret-key", "mysecretkey", "development", "dev-secret",
		"test", "password", "default", "insecure":
		return true
	}
	return false
}

// Load reads the configuration through getenv (os.Getenv, or a .env-aware
// wrapper from WithDotEnv). The error joins one line per problem.
func Load(getenv func(string) string, mode Mode) (Config, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }

	c := Config{
		DatabaseURL: get("DATABASE_URL"),
		RedisURL:    get("REDIS_URL"),
		RedisPrefix: orDefault(get("REDIS_PREFIX"), "bizmcp:"),
		SecretKey:   getenv("SECRET_KEY"),
		HTTPAddr:    orDefault(get("HTTP_ADDR"), ":8080"),
		PublicURL:   strings.TrimRight(get("PUBLIC_URL"), "/"),
		LogFormat:   orDefault(strings.ToLower(get("LOG_FORMAT")), "text"),
		LLM: LLM{
			OpenAIAPIKey:       get("OPENAI_API_KEY"),
			OpenAIBaseURL:      strings.TrimRight(get("OPENAI_BASE_URL"), "/"),
			EvolutionAPIKey:    get("EVOLUTION_API_KEY"),
			EvolutionBaseURL:   strings.TrimRight(orDefault(get("EVOLUTION_BASE_URL"), DefaultEvolutionBaseURL), "/"),
			DefaultProvider:    strings.ToLower(get("DEFAULT_LLM_PROVIDER")),
			Model:              get("LLM_MODEL"),
			EvolutionKeyID:     get("EVOLUTION_KEY_ID"),
			EvolutionKeySecret: get("EVOLUTION_KEY_SECRET"),
			EvolutionIAMURL:    get("EVOLUTION_IAM_URL"),
			Prices:             get("LLM_PRICES"),
		},
	}

	if c.DatabaseURL == "" {
		bad("DATABASE_URL is required: a PostgreSQL URL such as postgres://user:pass@localhost:5432/bizmcp (`make run` starts a local one)")
	} else if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL must be a postgres:// or postgresql:// URL")
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("REDIS_URL must be a redis://, rediss:// or unix:// URL (or unset to run as a single instance)")
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("PUBLIC_URL must be an absolute http(s) URL such as https://bizmcp.example.com")
		}
	}

	switch lvl := strings.ToLower(get("LOG_LEVEL")); lvl {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("LOG_LEVEL %q is not one of debug, info, warn, error", lvl)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT %q is not one of text, json", c.LogFormat)
	}

	c.RateLimitPerMinute = intVar(get, "RATE_LIMIT_PER_MINUTE", 600, 1, 1_000_000, bad)
	c.RateLimitIPPerMinute = intVar(get, "RATE_LIMIT_IP_PER_MINUTE", 120, 1, 1_000_000, bad)
	c.MaxBodyBytes = int64(intVar(get, "MAX_BODY_BYTES", 1<<20, 1024, 64<<20, bad))
	c.ShutdownTimeout = durationVar(get, "SHUTDOWN_TIMEOUT", 30*time.Second, bad)
	c.TaskWorkers = intVar(get, "TASK_WORKERS", 10, 1, 1000, bad)
	c.TaskRescueAfter = durationVar(get, "TASK_RESCUE_AFTER", time.Minute, bad)
	c.KeyUsageFlushInterval = durationVar(get, "KEY_USAGE_FLUSH_INTERVAL", 10*time.Second, bad)
	c.SessionIdleTimeout = durationVar(get, "SESSION_IDLE_TIMEOUT", 12*time.Hour, bad)
	c.SessionMaxAge = durationVar(get, "SESSION_MAX_AGE", 7*24*time.Hour, bad)
	c.LoginRateLimitPerMinute = intVar(get, "LOGIN_RATE_LIMIT_PER_MINUTE", 10, 1, 10_000, bad)
	switch v := strings.ToLower(get("TRUST_PROXY_HEADERS")); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		c.TrustProxyHeaders = true
	default:
		bad("TRUST_PROXY_HEADERS %q must be true or false", v)
	}
	c.LLM.MaxTokens = intVar(get, "LLM_MAX_TOKENS", 2048, 1, 1_000_000, bad)
	c.LLM.Timeout = durationVar(get, "LLM_TIMEOUT", 60*time.Second, bad)
	c.LLM.Temperature = 0.2
	if v := get("LLM_TEMPERATURE"); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || t < 0 || t > 2 {
			bad("LLM_TEMPERATURE %q must be a number from 0 to 2", v)
		} else {
			c.LLM.Temperature = t
		}
	}
	switch c.LLM.DefaultProvider {
	case "":
	case "openai":
		if c.LLM.OpenAIAPIKey == "" && c.LLM.OpenAIBaseURL == "" {
			bad("DEFAULT_LLM_PROVIDER is openai but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set")
		}
	case "evolution":
		if c.LLM.EvolutionAPIKey == "" && c.LLM.EvolutionKeyID == "" {
			bad("DEFAULT_LLM_PROVIDER is evolution but neither EVOLUTION_API_KEY nor EVOLUTION_KEY_ID/EVOLUTION_KEY_SECRET is set")
		}
	default:
		bad("DEFAULT_LLM_PROVIDER %q is not one of openai, evolution", c.LLM.DefaultProvider)
	}
	if (c.LLM.EvolutionKeyID == "") != (c.LLM.EvolutionKeySecret == "") {
		bad("EVOLUTION_KEY_ID and EVOLUTION_KEY_SECRET go together: set both (a Cloud.ru service-account key) or neither")
	}
	for name, v := range map[string]string{"OPENAI_BASE_URL": c.LLM.OpenAIBaseURL, "EVOLUTION_BASE_URL": c.LLM.EvolutionBaseURL, "EVOLUTION_IAM_URL": c.LLM.EvolutionIAMURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s must be an absolute http(s) URL", name)
		}
	}

	if mode == ModeServe {
		if err := checkSecret(c.SecretKey); err != nil {
			problems = append(problems, err)
		}
	}
	return c, errors.Join(problems...)
}

// checkSecret refuses missing, short and well-known SECRET_KEY values.
func checkSecret(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("SECRET_KEY is missing: %s", generateHint)
	case isPlaceholder(s):
		return fmt.Errorf("SECRET_KEY is a well-known placeholder value: %s", generateHint)
	case len(s) < MinSecretKeyBytes:
		return fmt.Errorf("SECRET_KEY is %d bytes, shorter than the %d required: %s", len(s), MinSecretKeyBytes, generateHint)
	case distinctBytes(s) < 8:
		return fmt.Errorf("SECRET_KEY is too repetitive to be secret: %s", generateHint)
	}
	return nil
}

func distinctBytes(s string) int {
	seen := map[byte]bool{}
	for i := 0; i < len(s); i++ {
		seen[s[i]] = true
	}
	return len(seen)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func intVar(get func(string) string, name string, def, lo, hi int, bad func(string, ...any)) int {
	v := get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		bad("%s %q must be a whole number from %d to %d", name, v, lo, hi)
		return def
	}
	return n
}

func durationVar(get func(string) string, name string, def time.Duration, bad func(string, ...any)) time.Duration {
	v := get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		bad("%s %q must be a positive duration such as 30s or 2m", name, v)
		return def
	}
	return d
}
