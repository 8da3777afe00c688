package auth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

// instance is one server's key service: its own cache and hub, the shared
// database, and a limiter over the given Redis (nil: none, Local only).
func instance(t *testing.T, q *db.Queries, rdb *redis.Client, prefix string, hub *events.Hub) *auth.Service {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var primary ratelimit.Limiter
	if rdb != nil {
		primary = ratelimit.NewRedis(rdb, prefix)
	}
	limiter := ratelimit.NewFallback(primary, nil, logger, nil)
	svc := auth.NewService(q, limiter, auth.NewUsageRecorder(q, time.Hour, logger), hub, 100, logger)
	svc.Start(t.Context())
	t.Cleanup(svc.Stop)
	return svc
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	opts.DialTimeout, opts.MaxRetries, opts.DialerRetries = 200*time.Millisecond, 0, 1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Two instances share PostgreSQL and Redis but not their hubs, so no event
// reaches B: the closed budget alone refuses the key B still has cached, in
// B's very next request.
func TestRevokedKeyRefusedByOtherInstanceAtOnce(t *testing.T) {
	t.Parallel()
	q := db.New(testkit.Pool(t))
	rdb, prefix := redisClient(t, testkit.RedisURL(t)), testkit.Prefix(t)
	a := instance(t, q, rdb, prefix, events.NewHub())
	b := instance(t, q, rdb, prefix, events.NewHub())
	ctx := context.Background()

	k, err := a.Create(ctx, auth.CreateParams{Name: "shared", Scopes: []string{"read"}})
	require.NoError(t, err)
	for _, svc := range []*auth.Service{a, b, b} { // b's second call is served from its cache
		_, res, err := svc.Verify(ctx, k.Secret)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	_, err = a.Revoke(ctx, k.ID)
	require.NoError(t, err)
	for _, svc := range []*auth.Service{b, a} {
		_, _, err = svc.Verify(ctx, k.Secret)
		require.True(t, apperr.Is(err, apperr.Unauthorized), "got %v", err)
	}
	// Another key is untouched.
	other, err := a.Create(ctx, auth.CreateParams{Name: "other", Scopes: []string{"read"}})
	require.NoError(t, err)
	_, _, err = b.Verify(ctx, other.Secret)
	require.NoError(t, err)
}

// Without Redis (a single instance, or the CLI revoking), the key.revoked
// event drops the key from every cache that hears it.
func TestRevokedEventDropsCachedKey(t *testing.T) {
	t.Parallel()
	q := db.New(testkit.Pool(t))
	hub := events.NewHub()
	a := instance(t, q, nil, "", hub)
	b := instance(t, q, nil, "", hub)
	ctx := context.Background()

	k, err := a.Create(ctx, auth.CreateParams{Name: "evented", Scopes: []string{"read"}})
	require.NoError(t, err)
	_, _, err = b.Verify(ctx, k.Secret)
	require.NoError(t, err)
	sub := hub.Subscribe(1, func(e events.Event) bool { return e.Type == events.KeyRevoked })
	defer sub.Close()
	_, err = a.Revoke(ctx, k.ID)
	require.NoError(t, err)
	<-sub.C // the event is out; b's listener has it or is about to
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, _, err := b.Verify(ctx, k.Secret)
		assert.True(c, apperr.Is(err, apperr.Unauthorized), "got %v", err)
	}, 5*time.Second, 10*time.Millisecond)
}

// While Redis is down the rate limit is answered in process (degraded) and
// cannot see a closed budget, so a cached key is checked in the database on
// every request: a key revoked elsewhere is still refused at once.
func TestCachedKeyCheckedInDatabaseWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	q := db.New(testkit.Pool(t))
	down := redisClient(t, "redis://127.0.0.1:1/0") // nothing listens there
	a := instance(t, q, nil, "", events.NewHub())
	b := instance(t, q, down, testkit.Prefix(t), events.NewHub())
	ctx := context.Background()

	k, err := a.Create(ctx, auth.CreateParams{Name: "degraded", Scopes: []string{"read"}})
	require.NoError(t, err)
	_, res, err := b.Verify(ctx, k.Secret)
	require.NoError(t, err)
	require.True(t, res.Degraded)
	_, err = a.Revoke(ctx, k.ID)
	require.NoError(t, err)
	_, _, err = b.Verify(ctx, k.Secret)
	require.True(t, apperr.Is(err, apperr.Unauthorized), "got %v", err)
}

// A cached key stops working when it expires, without a database read.
func TestCachedKeyExpires(t *testing.T) {
	t.Parallel()
	q := db.New(testkit.Pool(t))
	svc := instance(t, q, nil, "", events.NewHub())
	ctx := context.Background()
	expires := time.Now().Add(time.Hour)
	k, err := svc.Create(ctx, auth.CreateParams{Name: "short", Scopes: []string{"read"}, ExpiresAt: &expires})
	require.NoError(t, err)
	svc.SetClock(func() time.Time { return expires.Add(-time.Second) })
	_, _, err = svc.Verify(ctx, k.Secret) // cached now, 2 s within the cache's lifetime below
	require.NoError(t, err)
	svc.SetClock(func() time.Time { return expires.Add(time.Second) })
	_, _, err = svc.Verify(ctx, k.Secret)
	require.True(t, apperr.Is(err, apperr.Unauthorized), "got %v", err)
}
