package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const goodSecret = "3f8a1c9e7b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d"

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf("DATABASE_URL", "postgres://u@localhost/db", "SECRET_KEY", goodSecret), ModeServe)
	require.NoError(t, err)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, "", c.RedisURL)
	require.Equal(t, "bizmcp:", c.RedisPrefix)
	require.Equal(t, slog.LevelInfo, c.LogLevel)
	require.Equal(t, "text", c.LogFormat)
	require.Equal(t, 600, c.RateLimitPerMinute)
	require.Equal(t, int64(1<<20), c.MaxBodyBytes)
	require.Equal(t, 30*time.Second, c.ShutdownTimeout)
	require.Equal(t, DefaultEvolutionBaseURL, c.LLM.EvolutionBaseURL)
	require.Equal(t, 2048, c.LLM.MaxTokens)
}

func TestSecretKey(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                                     "SECRET_KEY is missing",
		"short":                                "shorter than the 32 required",
		"changeme":                             "well-known placeholder",
		"your-secret-key-change-in-production": "well-known placeholder",
		"CHANGEME":                             "well-known placeholder",
		strings.Repeat("x", 40):                "too repetitive",
		strings.Repeat("ab", 20):               "too repetitive",
	}
	for secret, want := range cases {
		_, err := Load(envOf("DATABASE_URL", "postgres://u@h/db", "SECRET_KEY", secret), ModeServe)
		require.Error(t, err, secret)
		require.Contains(t, err.Error(), want)
		require.Contains(t, err.Error(), "openssl rand -hex 32")
		require.Len(t, strings.Split(err.Error(), "\n"), 1, "one line for one problem")
	}
	// Maintenance commands do not need the secret.
	_, err := Load(envOf("DATABASE_URL", "postgres://u@h/db"), ModeDatabase)
	require.NoError(t, err)
}

func TestEveryProblemReported(t *testing.T) {
	t.Parallel()
	_, err := Load(envOf(
		"DATABASE_URL", "mysql://x", "REDIS_URL", "http://r", "LOG_LEVEL", "chatty", "LOG_FORMAT", "xml",
		"RATE_LIMIT_PER_MINUTE", "0", "MAX_BODY_BYTES", "lots", "SHUTDOWN_TIMEOUT", "-1s", "LLM_TEMPERATURE", "9",
		"DEFAULT_LLM_PROVIDER", "skynet", "PUBLIC_URL", "ftp://x", "TRUST_PROXY_HEADERS", "maybe", "OPENAI_BASE_URL", "not a url",
	), ModeServe)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{"DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "LOG_FORMAT", "RATE_LIMIT_PER_MINUTE", "MAX_BODY_BYTES",
		"SHUTDOWN_TIMEOUT", "LLM_TEMPERATURE", "DEFAULT_LLM_PROVIDER", "PUBLIC_URL", "TRUST_PROXY_HEADERS", "OPENAI_BASE_URL", "SECRET_KEY"} {
		found := 0
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				found++
			}
		}
		require.Equal(t, 1, found, "exactly one line starting with %s in:\n%s", want, err)
	}
	require.Len(t, lines, 13)
}

func TestProviderNeedsItsKey(t *testing.T) {
	t.Parallel()
	_, err := Load(envOf("DATABASE_URL", "postgres://u@h/db", "DEFAULT_LLM_PROVIDER", "evolution"), ModeDatabase)
	require.ErrorContains(t, err, "neither EVOLUTION_API_KEY nor EVOLUTION_KEY_ID")
	_, err = Load(envOf("DATABASE_URL", "postgres://u@h/db", "EVOLUTION_KEY_ID", "id"), ModeDatabase)
	require.ErrorContains(t, err, "go together")
	c, err := Load(envOf("DATABASE_URL", "postgres://u@h/db", "DEFAULT_LLM_PROVIDER", "openai", "OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/"), ModeDatabase)
	require.NoError(t, err, "a local endpoint needs no key")
	require.Equal(t, "http://127.0.0.1:11434/v1", c.LLM.OpenAIBaseURL)
}

func TestDotEnv(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte("# comment\n\nexport SECRET_KEY=\"from-file-0123456789abcdefghijklmnop\"\nHTTP_ADDR=':9999'\nLOG_LEVEL=debug\n"), 0o600))
	getenv, err := WithDotEnv(envOf("LOG_LEVEL", "warn"), path)
	require.NoError(t, err)
	require.Equal(t, "from-file-0123456789abcdefghijklmnop", getenv("SECRET_KEY"))
	require.Equal(t, ":9999", getenv("HTTP_ADDR"))
	require.Equal(t, "warn", getenv("LOG_LEVEL"), "the process environment wins over the file")

	_, err = WithDotEnv(envOf(), filepath.Join(t.TempDir(), "missing.env"))
	require.NoError(t, err, "no .env is fine")

	bad := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(bad, []byte("OK=1\nthis line is wrong\n"), 0o600))
	_, err = WithDotEnv(envOf(), bad)
	require.ErrorContains(t, err, "line 2")
}
