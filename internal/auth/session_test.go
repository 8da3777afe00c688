package auth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/events"
)

func newSessions(b bundle, cfg auth.SessionConfig) *auth.Sessions {
	return auth.NewSessions(b.svc, b.queries, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	sessions := newSessions(b, auth.SessionConfig{Idle: time.Hour, MaxAge: 24 * time.Hour})
	admin, err := b.svc.Create(ctx, auth.CreateParams{Name: "admin", Scopes: []string{"admin"}})
	require.NoError(t, err)
	reader, err := b.svc.Create(ctx, auth.CreateParams{Name: "reader", Scopes: []string{"read"}})
	require.NoError(t, err)

	_, _, err = sessions.SignIn(ctx, reader.Secret)
	require.True(t, apperr.Is(err, apperr.Forbidden), "%v", err)
	_, _, err = sessions.SignIn(ctx, "bmcp_nope")
	require.True(t, apperr.Is(err, apperr.Unauthorized), "%v", err)

	s1, tok1, err := sessions.SignIn(ctx, admin.Secret)
	require.NoError(t, err)
	s2, tok2, err := sessions.SignIn(ctx, admin.Secret)
	require.NoError(t, err)
	require.NotEqual(t, tok1, tok2)
	require.NotEqual(t, s1.ID, s2.ID)
	require.NotEqual(t, s1.CSRFToken, s2.CSRFToken)
	require.True(t, s1.ValidCSRF(s1.CSRFToken))
	require.False(t, s1.ValidCSRF(s2.CSRFToken))
	require.False(t, s1.ValidCSRF(""))
	require.WithinDuration(t, time.Now().Add(24*time.Hour), s1.ExpiresAt, time.Minute)

	got, err := sessions.Lookup(ctx, tok1)
	require.NoError(t, err)
	require.Equal(t, s1.ID, got.ID)
	require.Equal(t, "admin", got.KeyName)
	for _, bad := range []string{"", "x", tok1 + "x", string(make([]byte, 4096))} {
		_, err := sessions.Lookup(ctx, bad)
		require.True(t, apperr.Is(err, apperr.Unauthorized), "%q: %v", bad, err)
	}

	require.NoError(t, sessions.SignOut(ctx, s1.ID))
	_, err = sessions.Lookup(ctx, tok1)
	require.True(t, apperr.Is(err, apperr.Unauthorized))
	_, err = sessions.Lookup(ctx, tok2)
	require.NoError(t, err, "signing out one session leaves the others")

	// Revoking the key ends its sessions, and the sweep deletes them.
	_, err = b.svc.Revoke(ctx, admin.ID)
	require.NoError(t, err)
	_, err = sessions.Lookup(ctx, tok2)
	require.True(t, apperr.Is(err, apperr.Unauthorized))
	n, err := sessions.DeleteExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// A session never outlives its key's expiry, and an idle one ends.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	soon := time.Now().Add(2 * time.Hour)
	k, err := b.svc.Create(ctx, auth.CreateParams{Name: "short", Scopes: []string{"admin"}, ExpiresAt: &soon})
	require.NoError(t, err)
	s, _, err := newSessions(b, auth.SessionConfig{Idle: time.Hour, MaxAge: 24 * time.Hour}).SignIn(ctx, k.Secret)
	require.NoError(t, err)
	require.WithinDuration(t, soon, s.ExpiresAt, time.Second)

	idle := newSessions(b, auth.SessionConfig{Idle: time.Millisecond, MaxAge: time.Hour})
	_, tok, err := idle.SignIn(ctx, k.Secret)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := idle.Lookup(ctx, tok)
		return apperr.Is(err, apperr.Unauthorized)
	}, 5*time.Second, 10*time.Millisecond)
}

// Key events carry the key as listed, never its secret.
func TestKeyEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hub := events.NewHub()
	b.svc = auth.NewService(b.queries, nil, b.usage, hub, 100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sub := hub.Subscribe(8, nil)
	defer sub.Close()
	ctx := context.Background()
	k, err := b.svc.Create(ctx, auth.CreateParams{Name: "evented", Scopes: []string{"read"}})
	require.NoError(t, err)
	e := <-sub.C
	require.Equal(t, events.KeyCreated, e.Type)
	require.Contains(t, string(e.Data), k.ID.String())
	require.NotContains(t, string(e.Data), k.Secret)
	_, err = b.svc.Revoke(ctx, k.ID)
	require.NoError(t, err)
	e = <-sub.C
	require.Equal(t, events.KeyRevoked, e.Type)
	require.Contains(t, string(e.Data), `"revoked_at":"`)
}
