package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// TokenSource hands out a bearer token for a provider. Complete asks for a
// token before every attempt, so an implementation caches and refreshes.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// DefaultIAMTokenURL is Cloud.ru IAM's token endpoint, which exchanges a
// service-account key id and secret for a short-lived access token.
const DefaultIAMTokenURL = "https://iam.api.cloud.ru/api/v1/auth/token"

// DefaultIAMRefreshBefore is how long before expiry a token is replaced, so
// a token never expires during a long completion.
const DefaultIAMRefreshBefore = 5 * time.Minute

// IAMConfig configures an IAMTokenSource.
type IAMConfig struct {
	// URL is the token endpoint; "" is DefaultIAMTokenURL.
	URL    string
	KeyID  string
	Secret string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// RefreshBefore defaults to DefaultIAMRefreshBefore; for tokens that
	// live less than twice as long, half their lifetime is used instead.
	RefreshBefore time.Duration
	// Now is the clock; tests replace it to reach expiry without waiting.
	Now func() time.Time
}

// IAMTokenSource exchanges a Cloud.ru service-account key for access tokens
// and refreshes them before they expire. One refresh runs at a time, so a
// burst of calls at expiry makes one IAM request, not one each.
type IAMTokenSource struct {
	cfg IAMConfig
	// sem serializes refreshes; a channel (not a mutex) so a caller whose
	// context ends stops waiting.
	sem       chan struct{}
	token     string
	refreshAt time.Time
}

// NewIAMTokenSource returns a TokenSource for the key in cfg. It makes no
// request until the first Token call.
func NewIAMTokenSource(cfg IAMConfig) *IAMTokenSource {
	if cfg.URL == "" {
		cfg.URL = DefaultIAMTokenURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = DefaultIAMRefreshBefore
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &IAMTokenSource{cfg: cfg, sem: make(chan struct{}, 1)}
}

// Token returns a cached token, or a fresh one when the cached one is near
// expiry. Failures are apperr Unavailable errors that never contain the
// secret.
func (s *IAMTokenSource) Token(ctx context.Context) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()

	now := s.cfg.Now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	token, lifetime, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := s.cfg.RefreshBefore
	if lifetime < 2*margin {
		margin = lifetime / 2
	}
	// A token without a lifetime is used once and never cached.
	s.token, s.refreshAt = token, now.Add(lifetime-margin)
	return token, nil
}

// fetch makes one IAM request.
func (s *IAMTokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	body, err := json.Marshal(map[string]string{"keyId": s.cfg.KeyID, "secret": s.cfg.Secret})
	if err != nil {
		return "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return "", 0, apperr.Wrap(err, apperr.Unavailable, "the Cloud.ru IAM URL is invalid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		return "", 0, apperr.Wrap(err, apperr.Unavailable, "could not reach Cloud.ru IAM to get an access token")
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return "", 0, apperr.Wrap(err, apperr.Unavailable, "could not read the Cloud.ru IAM answer")
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusBadRequest:
		return "", 0, apperr.E(apperr.Unavailable, "Cloud.ru IAM rejected the service-account key (HTTP %d): check the key id and secret", res.StatusCode)
	case res.StatusCode != http.StatusOK:
		return "", 0, apperr.E(apperr.Unavailable, "Cloud.ru IAM failed with HTTP %d", res.StatusCode)
	}
	var answer struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil || strings.TrimSpace(answer.AccessToken) == "" {
		return "", 0, apperr.E(apperr.Unavailable, "Cloud.ru IAM returned an invalid token response")
	}
	lifetime := time.Duration(0)
	if answer.ExpiresIn > 0 {
		lifetime = time.Duration(answer.ExpiresIn * float64(time.Second))
	}
	return answer.AccessToken, lifetime, nil
}

// String keeps the secret out of logs if the source is ever printed.
func (s *IAMTokenSource) String() string {
	return fmt.Sprintf("IAMTokenSource(%s, key %s)", s.cfg.URL, s.cfg.KeyID)
}
