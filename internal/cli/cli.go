// Package cli is the bizmcp command line: serve, migrate, keys, seed-tasks
// and version.
// Run is the whole program behind a thin main, so tests start the real
// server exactly as an operator does, on port 0 with a test database.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/buildinfo"
	"github.com/bizmcp/bizmcp/internal/config"
	"github.com/bizmcp/bizmcp/internal/logging"
)

const usage = `bizmcp: self-hosted MCP business AI server

Usage:
  bizmcp serve                     run the server (migrates the database first)
  bizmcp migrate [up|down|status]  manage the database schema (default: up)
  bizmcp keys create --name NAME --scopes read,write,admin [--rate-limit N] [--expires-in 720h]
  bizmcp keys list                 list API keys (never their secrets)
  bizmcp keys revoke ID            revoke an API key
  bizmcp seed-tasks [-n 100000] [-days 90] [-finished-only]
                                   add realistic task history (benchmarks, demos)
  bizmcp version                   print the version

Configuration comes from the environment and an optional .env file in the
working directory; see the README for every variable.
`

// usageError is a mistake on the command line: exit code 2, like flag.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// ExitCode is the process exit code for an error returned by Run.
func ExitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// Run executes the command in args (args[0] is the program name) and
// returns when it is done, or, for serve, when ctx is cancelled and the
// server has shut down cleanly.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "bizmcp", buildinfo.Version())
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	env, err := config.WithDotEnv(getenv, ".env")
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, env, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, env, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, env, stdout, stderr)
	case "seed-tasks":
		return runSeedTasks(ctx, rest, env, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// loadConfig reads the configuration and builds the logger it names.
func loadConfig(getenv func(string) string, mode config.Mode, stderr io.Writer) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(getenv, mode)
	if err != nil {
		return cfg, nil, fmt.Errorf("configuration is invalid:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, logging.New(stderr, cfg.LogFormat, cfg.LogLevel), nil
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{"help requested"}
		}
		return usageError{err.Error()}
	}
	return nil
}

// openDatabase reads the configuration of a maintenance command and connects
// to the database; the caller closes the pool.
func openDatabase(ctx context.Context, getenv func(string) string, stderr io.Writer) (config.Config, *slog.Logger, *pgxpool.Pool, error) {
	cfg, logger, err := loadConfig(getenv, config.ModeDatabase, stderr)
	if err != nil {
		return cfg, nil, nil, err
	}
	pool, err := db.Connect(ctx, cfg.DatabaseURL)
	return cfg, logger, pool, err
}
