package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Session is a signed-in dashboard user: a browser holding the session
// token, on behalf of an admin API key.
type Session struct {
	ID        uuid.UUID
	KeyID     uuid.UUID
	KeyName   string
	KeyPrefix string
	// CSRFToken must accompany every state-changing request of the session.
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
	// KeyExpiresAt is when the key behind the session expires, which ends
	// the session too.
	KeyExpiresAt *time.Time
}

// ValidCSRF reports whether token is the session's CSRF token, in constant
// time.
func (s Session) ValidCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) == 1
}

// SessionConfig bounds how long sessions live.
type SessionConfig struct {
	// Idle ends a session not used for this long.
	Idle time.Duration
	// MaxAge ends a session this long after sign-in, used or not.
	MaxAge time.Duration
}

// touchEvery limits last_seen_at writes to one a minute per session: the
// idle expiry is counted in hours, a write per request would be waste.
const touchEvery = time.Minute

// Sessions signs operators in to the dashboard with an admin API key and
// finds their sessions again from the token their browser presents. Only
// the token's SHA-256 is stored.
type Sessions struct {
	keys    *Service
	queries *db.Queries
	cfg     SessionConfig
	logger  *slog.Logger
}

// NewSessions returns the session service.
func NewSessions(keys *Service, queries *db.Queries, cfg SessionConfig, logger *slog.Logger) *Sessions {
	return &Sessions{keys: keys, queries: queries, cfg: cfg, logger: logger}
}

// Config returns the session lifetimes.
func (s *Sessions) Config() SessionConfig { return s.cfg }

// errNotAdmin is the answer for a valid key without the admin scope: the
// person holds a real key, so saying why it is refused helps and leaks
// nothing.
func errNotAdmin() error {
	return apperr.E(apperr.Forbidden, "this API key does not have the admin scope: the dashboard needs an admin key (create one with `bizmcp keys create --scopes admin`)")
}

// SignIn checks a presented API key (the same chain as every request,
// without the per-key rate limit: sign-in is limited per client IP) and
// creates a new session for it. It returns the session and the token to
// set in the cookie; every sign-in gets a new token.
func (s *Sessions) SignIn(ctx context.Context, presented string) (Session, string, error) {
	p, err := s.keys.Authenticate(ctx, presented)
	if err != nil {
		return Session{}, "", err
	}
	if !HasScope(p.Scopes, ScopeAdmin) {
		return Session{}, "", errNotAdmin()
	}
	token, err := randomToken()
	if err != nil {
		return Session{}, "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Session{}, "", err
	}
	expires := time.Now().Add(s.cfg.MaxAge)
	if p.ExpiresAt != nil && p.ExpiresAt.Before(expires) {
		expires = *p.ExpiresAt
	}
	hash := sha256.Sum256([]byte(token))
	row, err := s.queries.DashboardSessionCreate(ctx, db.DashboardSessionCreateParams{
		ID: id, TokenHash: hash[:], ApiKeyID: p.KeyID, CsrfToken: csrf, ExpiresAt: expires,
	})
	if err != nil {
		return Session{}, "", db.MapError(err, "dashboard session")
	}
	return Session{
		ID: row.ID, KeyID: p.KeyID, KeyName: p.Name, KeyPrefix: p.Prefix, CSRFToken: csrf,
		CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, KeyExpiresAt: p.ExpiresAt,
	}, token, nil
}

// errNoSession is the answer for every unusable token: unknown, expired,
// idle too long, signed out, or its key revoked or expired.
func errNoSession() error {
	return apperr.E(apperr.Unauthorized, "your session has ended: sign in again")
}

// Lookup returns the session a token belongs to, if it can still be used,
// and records the use (at most once a minute).
func (s *Sessions) Lookup(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 128 {
		return Session{}, errNoSession()
	}
	hash := sha256.Sum256([]byte(token))
	row, err := s.queries.DashboardSessionGet(ctx, db.DashboardSessionGetParams{TokenHash: hash[:], IdleSeconds: s.cfg.Idle.Seconds()})
	if err != nil {
		if err = db.MapError(err, "dashboard session"); apperr.Is(err, apperr.NotFound) {
			return Session{}, errNoSession()
		}
		return Session{}, err
	}
	if time.Since(row.LastSeenAt) > touchEvery {
		if err := s.queries.DashboardSessionTouch(ctx, row.ID); err != nil {
			s.logger.WarnContext(ctx, "could not record dashboard session use", "err", err)
		}
	}
	return Session{
		ID: row.ID, KeyID: row.ApiKeyID, KeyName: row.KeyName, KeyPrefix: row.KeyPrefix, CSRFToken: row.CsrfToken,
		CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, KeyExpiresAt: row.KeyExpiresAt,
	}, nil
}

// SignOut deletes a session; its token is unusable from then on.
func (s *Sessions) SignOut(ctx context.Context, id uuid.UUID) error {
	return db.MapError(s.queries.DashboardSessionDelete(ctx, id), "dashboard session")
}

// DeleteExpired removes sessions that can no longer be used.
func (s *Sessions) DeleteExpired(ctx context.Context) (int64, error) {
	n, err := s.queries.DashboardSessionDeleteExpired(ctx, s.cfg.Idle.Seconds())
	return n, db.MapError(err, "dashboard sessions")
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
