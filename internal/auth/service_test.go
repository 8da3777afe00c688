package auth_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

type bundle struct {
	svc     *auth.Service
	usage   *auth.UsageRecorder
	queries *db.Queries
}

func setup(t *testing.T) bundle {
	t.Helper()
	pool := testkit.Pool(t)
	q := db.New(pool)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	usage := auth.NewUsageRecorder(q, time.Hour, logger)
	return bundle{svc: auth.NewService(q, ratelimit.NewLocal(nil), usage, events.NewHub(), 100, logger), usage: usage, queries: q}
}

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, err := b.svc.Create(ctx, auth.CreateParams{Name: " reporting ", Scopes: []string{"read"}})
	require.NoError(t, err)
	require.Equal(t, "reporting", k.Name)
	require.Equal(t, 100, k.RateLimit, "server default")

	p, err := b.svc.Authenticate(ctx, k.Secret)
	require.NoError(t, err)
	require.Equal(t, k.ID, p.KeyID)
	require.Equal(t, []auth.Scope{auth.ScopeRead}, p.Scopes)

	// The database holds the hash only.
	row, err := b.queries.APIKeyGet(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, auth.HashKey(k.Secret), row.KeyHash)
	require.NotContains(t, string(row.KeyHash), k.Secret)

	_, err = b.svc.Revoke(ctx, k.ID)
	require.NoError(t, err)
	_, err = b.svc.Authenticate(ctx, k.Secret)
	require.True(t, apperr.Is(err, apperr.Unauthorized))
}

func TestVerifyOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, err := b.svc.Create(ctx, auth.CreateParams{Name: "two", Scopes: []string{"read"}, RateLimit: 2})
	require.NoError(t, err)
	for range 2 {
		_, res, err := b.svc.Verify(ctx, k.Secret)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	p, res, err := b.svc.Verify(ctx, k.Secret)
	require.True(t, apperr.Is(err, apperr.RateLimited), "rate limit before scope")
	require.False(t, res.Allowed)
	require.Positive(t, res.RetryAfter)
	require.Equal(t, k.ID, p.KeyID)

	// An unknown key is 401, never 429, whatever the limiter says.
	_, _, err = b.svc.Verify(ctx, "bmcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	require.True(t, apperr.Is(err, apperr.Unauthorized))
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past := time.Now().Add(-time.Minute)
	cases := []struct {
		name   string
		params auth.CreateParams
		want   string
	}{
		{"no name", auth.CreateParams{Scopes: []string{"read"}}, "name is required"},
		{"bad scope", auth.CreateParams{Name: "x", Scopes: []string{"god"}}, "allowed scopes"},
		{"negative rate", auth.CreateParams{Name: "x", Scopes: []string{"read"}, RateLimit: -1}, "out of range"},
		{"huge rate", auth.CreateParams{Name: "x", Scopes: []string{"read"}, RateLimit: 10_000_000}, "out of range"},
		{"past expiry", auth.CreateParams{Name: "x", Scopes: []string{"read"}, ExpiresAt: &past}, "in the past"},
		{"invalid UTF-8", auth.CreateParams{Name: "\xff\xfe", Scopes: []string{"read"}}, "UTF-8"},
	}
	for _, tc := range cases {
		_, err := b.svc.Create(context.Background(), tc.params)
		require.True(t, apperr.Is(err, apperr.Invalid), tc.name)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestUsageRecorderBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k1, err := b.svc.Create(ctx, auth.CreateParams{Name: "a", Scopes: []string{"read"}})
	require.NoError(t, err)
	k2, err := b.svc.Create(ctx, auth.CreateParams{Name: "b", Scopes: []string{"read"}})
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := b.svc.Authenticate(ctx, k1.Secret); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := b.svc.Get(ctx, k1.ID)
	require.NoError(t, err)
	require.Nil(t, got.LastUsedAt, "nothing is written per request")

	later := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	b.usage.Record(k2.ID, later)
	b.usage.Record(k2.ID, later.Add(-time.Minute)) // older: ignored
	require.NoError(t, b.usage.Flush(ctx))
	got, err = b.svc.Get(ctx, k1.ID)
	require.NoError(t, err)
	require.NotNil(t, got.LastUsedAt)
	got2, err := b.svc.Get(ctx, k2.ID)
	require.NoError(t, err)
	require.True(t, got2.LastUsedAt.Equal(later), "%v != %v", got2.LastUsedAt, later)

	// A time earlier than the stored one never moves it back.
	b.usage.Record(k2.ID, time.Now())
	require.NoError(t, b.usage.Flush(ctx))
	got2, err = b.svc.Get(ctx, k2.ID)
	require.NoError(t, err)
	require.True(t, got2.LastUsedAt.Equal(later))
}
