package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/page"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
)

// Bounds on what a key can be created with.
const (
	MaxNameLen   = 100
	MaxRateLimit = 100_000 // requests per minute
)

// Limiter is the rate limiter the verification chain consults.
type Limiter interface {
	Allow(ctx context.Context, key string, perMinute int) (ratelimit.Result, error)
}

// Key is an API key as listed: everything but the secret.
type Key struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []Scope    `json:"scopes"`
	RateLimit  int        `json:"rate_limit"`
	Active     bool       `json:"active"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreatedKey is a new key with its secret, which exists only in this value:
// the database keeps the hash.
type CreatedKey struct {
	Key
	Secret string `json:"key"`
}

// Principal is the caller a valid key identifies.
type Principal struct {
	KeyID     uuid.UUID
	Name      string
	Prefix    string
	Scopes    []Scope
	RateLimit int
	ExpiresAt *time.Time
}

// Require returns a Forbidden error unless the principal has scope.
func (p Principal) Require(scope Scope) error {
	if HasScope(p.Scopes, scope) {
		return nil
	}
	return apperr.E(apperr.Forbidden, "this API key lacks the %q scope needed here; create a key with it on the API keys page or with `bizmcp keys create`", scope)
}

// CreateParams are the inputs of Create.
type CreateParams struct {
	Name      string
	Scopes    []string
	RateLimit int        // requests per minute; 0 means the server default
	ExpiresAt *time.Time // nil: never expires
}

// Publisher receives the key.created and key.revoked events, which keep
// open key lists live on every instance, and hands the key.revoked events
// of every instance to the key cache (events.Bus; events.Hub in one
// process).
type Publisher interface {
	Publish(e events.Event)
	Subscribe(buffer int, filter func(events.Event) bool) *events.Subscription
}

// budgetCloser is implemented by a limiter shared between instances
// (ratelimit.Fallback over Redis): closing a revoked key's budget there is
// what refuses the key on instances that still hold it in a cache.
type budgetCloser interface {
	Close(ctx context.Context, key string) error
}

// Service creates, lists, revokes and verifies API keys.
type Service struct {
	queries          *db.Queries
	limiter          Limiter
	usage            *UsageRecorder
	publisher        Publisher
	defaultRateLimit int
	logger           *slog.Logger
	now              func() time.Time

	// cache holds verified keys (cache.go); stop and done run its
	// revocation listener.
	cache *keyCache
	stop  context.CancelFunc
	done  chan struct{}
}

// NewService returns the key service. defaultRateLimit applies to keys
// created without one.
func NewService(queries *db.Queries, limiter Limiter, usage *UsageRecorder, publisher Publisher, defaultRateLimit int, logger *slog.Logger) *Service {
	return &Service{queries: queries, limiter: limiter, usage: usage, publisher: publisher, defaultRateLimit: defaultRateLimit, logger: logger, now: time.Now,
		cache: newKeyCache()}
}

// publish sends a key event; the data is the key as listed, never its
// secret.
func (s *Service) publish(typ string, k Key) {
	e, err := events.New(typ, k)
	if err != nil {
		s.logger.Warn("could not build a key event", "type", typ, "err", err)
		return
	}
	s.publisher.Publish(e)
}

// Create validates params, stores a new key and returns it with its secret.
func (s *Service) Create(ctx context.Context, params CreateParams) (CreatedKey, error) {
	name := strings.TrimSpace(params.Name)
	switch {
	case name == "":
		return CreatedKey{}, apperr.E(apperr.Invalid, "name is required: a label such as \"ci-pipeline\" to recognise the key by").For("name")
	case !utf8.ValidString(name):
		return CreatedKey{}, apperr.E(apperr.Invalid, "name must be valid UTF-8 text").For("name")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return CreatedKey{}, apperr.E(apperr.Invalid, "name is %d characters long: use at most %d", utf8.RuneCountInString(name), MaxNameLen).For("name")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return CreatedKey{}, apperr.E(apperr.Invalid, "name must not contain control characters such as newlines").For("name")
	}
	scopes, err := ParseScopes(params.Scopes)
	if err != nil {
		var e *apperr.Error
		if errors.As(err, &e) {
			e.For("scopes")
		}
		return CreatedKey{}, err
	}
	rateLimit := params.RateLimit
	if rateLimit == 0 {
		rateLimit = s.defaultRateLimit
	}
	if rateLimit < 1 || rateLimit > MaxRateLimit {
		return CreatedKey{}, apperr.E(apperr.Invalid, "rate_limit %d is out of range: use 1 to %d requests per minute, or omit it for the default (%d)", params.RateLimit, MaxRateLimit, s.defaultRateLimit).For("rate_limit")
	}
	if params.ExpiresAt != nil && !params.ExpiresAt.After(s.now()) {
		return CreatedKey{}, apperr.E(apperr.Invalid, "expires_at %s is in the past: give a future time (RFC 3339) or omit it for a key that does not expire", params.ExpiresAt.UTC().Format(time.RFC3339)).For("expires_at")
	}

	plain, prefix, hash, err := newKey()
	if err != nil {
		return CreatedKey{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return CreatedKey{}, err
	}
	scopeNames := make([]string, len(scopes))
	for i, sc := range scopes {
		scopeNames[i] = string(sc)
	}
	row, err := s.queries.APIKeyCreate(ctx, db.APIKeyCreateParams{
		ID: id, Name: name, Prefix: prefix, KeyHash: hash, Scopes: scopeNames,
		RateLimit: int32(rateLimit), ExpiresAt: params.ExpiresAt,
	})
	if err != nil {
		return CreatedKey{}, db.MapError(err, "API key")
	}
	key := keyFromRow(row)
	s.publish(events.KeyCreated, key)
	return CreatedKey{Key: key, Secret: plain}, nil
}

// Get returns one key by id.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Key, error) {
	row, err := s.queries.APIKeyGet(ctx, id)
	if err != nil {
		return Key{}, db.MapError(err, "API key "+id.String())
	}
	return keyFromRow(row), nil
}

// ListPage is one page of keys, newest first.
type ListPage struct {
	Items      []Key  `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Key states, as listed and filtered.
const (
	StateActive  = "active"
	StateExpired = "expired"
	StateRevoked = "revoked"
)

// States lists the key states a list can be filtered by.
func States() []string { return []string{StateActive, StateExpired, StateRevoked} }

// State is the key's state now: revoked wins over expired.
func (k Key) State() string {
	switch {
	case k.RevokedAt != nil:
		return StateRevoked
	case k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()):
		return StateExpired
	case !k.Active:
		return StateRevoked
	}
	return StateActive
}

// ListFilter selects the keys a list shows.
type ListFilter struct {
	// State is "" (every key) or one of States().
	State string
}

// List returns a page of keys after cursor (empty: the first page).
func (s *Service) List(ctx context.Context, f ListFilter, cursor string, limit int) (ListPage, error) {
	if f.State != "" && !slices.Contains(States(), f.State) {
		return ListPage{}, apperr.E(apperr.Invalid, "state %q is not one of %s", apperr.Truncate(f.State, 32), strings.Join(States(), ", "))
	}
	c, limit, err := page.Parse(cursor, limit)
	if err != nil {
		return ListPage{}, err
	}
	params := db.APIKeyListParams{MaxRows: int32(limit + 1), Status: f.State}
	if c != nil {
		params.CursorCreatedAt, params.CursorID = &c.CreatedAt, &c.ID
	}
	rows, err := s.queries.APIKeyList(ctx, params)
	if err != nil {
		return ListPage{}, db.MapError(err, "API keys")
	}
	var out ListPage
	out.Items, out.NextCursor = page.Build(rows, limit, func(r db.APIKey) page.Cursor { return page.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }, keyFromRow)
	return out, nil
}

// Revoke makes a key unusable from the next request on, on every instance
// (see cache.go for how). Revoking a revoked key is not an error and keeps
// the first revocation time.
func (s *Service) Revoke(ctx context.Context, id uuid.UUID) (Key, error) {
	row, err := s.queries.APIKeyRevoke(ctx, id)
	if err != nil {
		return Key{}, db.MapError(err, "API key "+id.String())
	}
	s.cache.forgetKey(id)
	if c, ok := s.limiter.(budgetCloser); ok {
		if err := c.Close(ctx, limiterKey(id)); err != nil {
			// The revocation stands; other instances learn of it from the
			// event, or, failing that, within the cache's bound.
			s.logger.WarnContext(ctx, "revoked key: could not close its budget in Redis; other instances refuse it once they hear the event, or within the key cache's lifetime", "key_id", id, "ttl", keyCacheTTL, "err", err)
		}
	}
	key := keyFromRow(row)
	s.publish(events.KeyRevoked, key)
	return key, nil
}

// limiterKey is the rate-limit key of an API key.
func limiterKey(id uuid.UUID) string { return "key:" + id.String() }

// CountActive returns how many keys can be used now.
func (s *Service) CountActive(ctx context.Context) (int64, error) {
	n, err := s.queries.APIKeyCountActive(ctx)
	return n, db.MapError(err, "API keys")
}

// errBadKey is the one answer for every unusable key: the caller learns
// nothing about whether the key exists, expired or was revoked.
func errBadKey() error {
	return apperr.E(apperr.Unauthorized, "invalid API key: it is unknown, expired or revoked; send a valid key as `Authorization: Bearer bmcp_…` or `X-API-Key: bmcp_…`")
}

// Authenticate checks a presented key in the order the specification sets:
// it exists, is active and not revoked, is not expired. It reads the key
// from the database (sign-in uses it; requests go through Verify and the
// cache). It records the use for last_used_at (written in batches).
func (s *Service) Authenticate(ctx context.Context, presented string) (Principal, error) {
	if presented == "" {
		return Principal{}, apperr.E(apperr.Unauthorized, "an API key is required: send `Authorization: Bearer bmcp_…` or `X-API-Key: bmcp_…`")
	}
	if !wellFormed(presented) {
		return Principal{}, errBadKey()
	}
	hash := sha256.Sum256([]byte(presented))
	return s.authenticate(ctx, hash)
}

// authenticate looks the key up in the database, and caches it when it is
// usable.
func (s *Service) authenticate(ctx context.Context, h [32]byte) (Principal, error) {
	hash := h[:]
	row, err := s.queries.APIKeyGetByHash(ctx, hash)
	if err != nil {
		if err = db.MapError(err, "API key"); apperr.Is(err, apperr.NotFound) {
			return Principal{}, errBadKey()
		}
		return Principal{}, err
	}
	// The lookup was by hash; comparing again in constant time costs nothing
	// and keeps the check independent of how the index compares bytes.
	if subtle.ConstantTimeCompare(row.KeyHash, hash) != 1 {
		return Principal{}, errBadKey()
	}
	now := s.now()
	switch {
	case !row.IsActive || row.RevokedAt != nil:
		s.logger.DebugContext(ctx, "API key refused: revoked", "key_id", row.ID)
		return Principal{}, errBadKey()
	case row.ExpiresAt != nil && !now.Before(*row.ExpiresAt):
		s.logger.DebugContext(ctx, "API key refused: expired", "key_id", row.ID)
		return Principal{}, errBadKey()
	}
	s.usage.Record(row.ID, now)
	key := keyFromRow(row)
	p := Principal{KeyID: key.ID, Name: key.Name, Prefix: key.Prefix, Scopes: key.Scopes, RateLimit: key.RateLimit, ExpiresAt: key.ExpiresAt}
	s.cache.put(h, p, now)
	return p, nil
}

// Verify runs the whole chain for a request: the key (from the cache, or
// the database), then the key's rate limit. The returned Result is valid
// whenever the key was valid, also with a RateLimited error, so callers can
// always send the RateLimit-* headers. The scope check is the caller's next
// step (Principal.Require).
func (s *Service) Verify(ctx context.Context, presented string) (Principal, ratelimit.Result, error) {
	if presented == "" || !wellFormed(presented) {
		_, err := s.Authenticate(ctx, presented)
		return Principal{}, ratelimit.Result{}, err
	}
	hash := sha256.Sum256([]byte(presented))
	now := s.now()
	p, cached := s.cache.get(hash, now)
	if cached {
		if p.ExpiresAt != nil && !now.Before(*p.ExpiresAt) {
			s.cache.forget(hash)
			return Principal{}, ratelimit.Result{}, errBadKey()
		}
		s.usage.Record(p.KeyID, now)
	} else {
		var err error
		if p, err = s.authenticate(ctx, hash); err != nil {
			return Principal{}, ratelimit.Result{}, err
		}
	}
	res, err := s.limiter.Allow(ctx, limiterKey(p.KeyID), p.RateLimit)
	if err != nil {
		return Principal{}, ratelimit.Result{}, err
	}
	if res.Closed || (cached && res.Degraded) {
		// Revoked on some instance (closed), or Redis could not tell
		// (degraded): the cached entry proves nothing, the database decides.
		s.cache.forget(hash)
		if p, err = s.authenticate(ctx, hash); err != nil {
			return Principal{}, ratelimit.Result{}, err
		}
	}
	if !res.Allowed {
		return p, res, apperr.E(apperr.RateLimited, "rate limit of %d requests per minute exceeded for this API key; retry in %s", p.RateLimit, res.RetryAfter.Round(time.Second).String())
	}
	return p, res, nil
}

func keyFromRow(r db.APIKey) Key {
	scopes := make([]Scope, len(r.Scopes))
	for i, sc := range r.Scopes {
		scopes[i] = Scope(sc)
	}
	return Key{
		ID: r.ID, Name: r.Name, Prefix: r.Prefix, Scopes: scopes, RateLimit: int(r.RateLimit),
		Active:     r.IsActive && r.RevokedAt == nil && (r.ExpiresAt == nil || r.ExpiresAt.After(time.Now())),
		LastUsedAt: r.LastUsedAt, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt,
	}
}
