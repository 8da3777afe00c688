package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
)

// runKeys manages API keys directly in the database: the way to get a first
// admin key, or a new one when every admin key is lost.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"keys needs a subcommand: create, list or revoke"}
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, stderr)
	var (
		name      = fs.String("name", "", "a label to recognise the key by (required)")
		scopes    = fs.String("scopes", "read", "comma-separated scopes: read, write, admin")
		rateLimit = fs.Int("rate-limit", 0, "requests per minute (default: RATE_LIMIT_PER_MINUTE)")
		expiresIn = fs.Duration("expires-in", 0, "lifetime such as 720h (default: never expires)")
		ifNone    = fs.Bool("if-no-keys", false, "create the key only when no active key exists (for first-run scripts)")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, logger, pool, err := openDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.NewMigrator(pool, logger).Up(ctx); err != nil {
		return err
	}
	queries := db.New(pool)
	// Keys made or revoked here reach open dashboards through the same Redis
	// channel the servers use; Stop sends what is queued before the command
	// returns. Without Redis the servers see the change on their next read.
	var redisClient *redis.Client
	if cfg.RedisURL != "" {
		if redisClient, err = newRedisClient(cfg.RedisURL); err != nil {
			return err
		}
		defer redisClient.Close()
	}
	bus := events.NewBus(events.NewHub(), redisClient, cfg.RedisPrefix, logger)
	bus.Start(ctx)
	defer bus.Stop()
	// The CLI never authenticates requests: the usage recorder is there only
	// to satisfy the service's constructor; the limiter is where a revoked
	// key's budget is closed, which refuses it on every server at once.
	var shared ratelimit.Limiter
	if redisClient != nil {
		shared = ratelimit.NewRedis(redisClient, cfg.RedisPrefix)
	}
	limiter := ratelimit.NewFallback(shared, nil, logger, nil)
	svc := auth.NewService(queries, limiter, auth.NewUsageRecorder(queries, time.Minute, logger), bus, cfg.RateLimitPerMinute, logger)

	switch sub {
	case "create":
		if fs.NArg() > 0 {
			return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
		}
		if *ifNone {
			n, err := svc.CountActive(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				fmt.Fprintf(stderr, "%d active API key(s) exist; not creating another (use `bizmcp keys create` without --if-no-keys to force)\n", n)
				return nil
			}
		}
		if *expiresIn < 0 {
			return usageError{"--expires-in must be positive"}
		}
		if *rateLimit < 0 {
			return usageError{"--rate-limit must be positive"}
		}
		params := auth.CreateParams{Name: *name, Scopes: strings.Split(*scopes, ","), RateLimit: *rateLimit}
		if *expiresIn > 0 {
			t := time.Now().Add(*expiresIn)
			params.ExpiresAt = &t
		}
		key, err := svc.Create(ctx, params)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created API key %s (%s), scopes %s, %d requests/minute%s.\n",
			key.ID, key.Name, joinScopes(key.Scopes), key.RateLimit, expiryText(key.ExpiresAt))
		fmt.Fprintln(stdout, "Store it now: it is shown only this once.")
		fmt.Fprintln(stdout, key.Secret)
		return nil
	case "list":
		page, err := svc.List(ctx, auth.ListFilter{}, "", 200)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tRATE/MIN\tSTATE\tLAST USED\tEXPIRES")
		for _, k := range page.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%d\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, joinScopes(k.Scopes), k.RateLimit, state(k), timeOrDash(k.LastUsedAt), timeOrDash(k.ExpiresAt))
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageError{"usage: bizmcp keys revoke ID"}
		}
		id, err := uuid.Parse(fs.Arg(0))
		if err != nil {
			return usageError{fmt.Sprintf("%q is not a key id (a UUID; see `bizmcp keys list`)", fs.Arg(0))}
		}
		key, err := svc.Revoke(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked API key %s (%s) at %s.\n", key.ID, key.Name, key.RevokedAt.UTC().Format(time.RFC3339))
		return nil
	}
	return usageError{fmt.Sprintf("unknown keys subcommand %q: use create, list or revoke", sub)}
}

func joinScopes(s []auth.Scope) string {
	names := make([]string, len(s))
	for i, sc := range s {
		names[i] = string(sc)
	}
	return strings.Join(names, ",")
}

func state(k auth.Key) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()):
		return "expired"
	}
	return "active"
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func expiryText(t *time.Time) string {
	if t == nil {
		return ", never expires"
	}
	return ", expires " + t.UTC().Format(time.RFC3339)
}
