package llm_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/config"
	"github.com/bizmcp/bizmcp/internal/llm"
)

const (
	iamKeyID  = "key-id-1"
	iamSecret = "iam-secret-do-not-print"
)

// fakeIAM is a Cloud.ru IAM token endpoint issuing tok-1, tok-2, ...
type fakeIAM struct {
	srv      *httptest.Server
	issued   atomic.Int64
	lifetime int // expires_in, seconds
	status   int // when not 0, every request fails with it
}

func newFakeIAM(t *testing.T, lifetime, status int) *fakeIAM {
	t.Helper()
	f := &fakeIAM{lifetime: lifetime, status: status}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ KeyID, Secret string }
		raw, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/auth/token" || json.Unmarshal(raw, &body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if f.status != 0 {
			http.Error(w, `{"error":"nope"}`, f.status)
			return
		}
		if body.KeyID != iamKeyID || body.Secret != iamSecret {
			http.Error(w, `{"error":"invalid credentials"}`, http.StatusUnauthorized)
			return
		}
		n := f.issued.Add(1)
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":"tok-%d","id_token":"x","expires_in":%d,"token_type":"Bearer"}`, n, f.lifetime))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIAM) url() string { return f.srv.URL + "/api/v1/auth/token" }

// clock is a settable time for reaching expiry without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestIAMTokenSourceCachesAndRefreshes(t *testing.T) {
	t.Parallel()
	iam := newFakeIAM(t, 3600, 0)
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := llm.NewIAMTokenSource(llm.IAMConfig{URL: iam.url(), KeyID: iamKeyID, Secret: iamSecret, Now: c.Now})

	tok, err := ts.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	c.advance(54 * time.Minute) // within the hour, more than 5 min before expiry
	tok, err = ts.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok, "cached")
	require.EqualValues(t, 1, iam.issued.Load())

	c.advance(2 * time.Minute) // 4 min before expiry: refresh now
	tok, err = ts.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok)
	require.EqualValues(t, 2, iam.issued.Load())

	require.NotContains(t, fmt.Sprint(ts), iamSecret)
}

func TestIAMTokenSourceShortLivedTokens(t *testing.T) {
	t.Parallel()
	iam := newFakeIAM(t, 60, 0) // shorter than twice the margin: refresh at half-life
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := llm.NewIAMTokenSource(llm.IAMConfig{URL: iam.url(), KeyID: iamKeyID, Secret: iamSecret, Now: c.Now})
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{{0, "tok-1"}, {29 * time.Second, "tok-1"}, {2 * time.Second, "tok-2"}} {
		c.advance(step.advance)
		tok, err := ts.Token(t.Context())
		require.NoError(t, err)
		require.Equal(t, step.want, tok)
	}
}

func TestIAMTokenSourceConcurrentCallersShareOneRefresh(t *testing.T) {
	t.Parallel()
	iam := newFakeIAM(t, 3600, 0)
	ts := llm.NewIAMTokenSource(llm.IAMConfig{URL: iam.url(), KeyID: iamKeyID, Secret: iamSecret})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			tok, err := ts.Token(t.Context())
			assert.NoError(t, err)
			assert.Equal(t, "tok-1", tok)
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, iam.issued.Load())
}

func TestIAMTokenSourceErrors(t *testing.T) {
	t.Parallel()
	wrong := llm.NewIAMTokenSource(llm.IAMConfig{URL: newFakeIAM(t, 3600, 0).url(), KeyID: iamKeyID, Secret: "wrong"})
	_, err := wrong.Token(t.Context())
	require.Equal(t, apperr.Unavailable, apperr.CodeOf(err))
	require.Equal(t, "Cloud.ru IAM rejected the service-account key (HTTP 401): check the key id and secret", apperr.MessageOf(err))

	down := llm.NewIAMTokenSource(llm.IAMConfig{URL: newFakeIAM(t, 3600, http.StatusBadGateway).url(), KeyID: iamKeyID, Secret: iamSecret})
	_, err = down.Token(t.Context())
	require.Equal(t, apperr.Unavailable, apperr.CodeOf(err))
	require.Equal(t, "Cloud.ru IAM failed with HTTP 502", apperr.MessageOf(err))
	require.NotContains(t, err.Error(), iamSecret)
}

func TestEvolutionWithIAMTokens(t *testing.T) {
	t.Parallel()
	iam := newFakeIAM(t, 3600, 0)
	f := newFake(t, reply(200, completion("zai-org/GLM-4.7", "ok", 1, 1)))
	ts := llm.NewIAMTokenSource(llm.IAMConfig{URL: iam.url(), KeyID: iamKeyID, Secret: iamSecret})
	r := llm.New(config.LLM{EvolutionBaseURL: f.baseURL()}, fastOptions(llm.WithEvolutionTokenSource(ts))...)
	require.Equal(t, []llm.ProviderInfo{{Name: "evolution", BaseURL: f.baseURL(), DefaultModel: "zai-org/GLM-4.7", Auth: llm.AuthIAMToken}}, r.Available())

	for range 2 {
		_, err := r.Complete(t.Context(), hello())
		require.NoError(t, err)
	}
	require.Equal(t, "Bearer tok-1", f.request(t, 0).Header.Get("Authorization"))
	require.Equal(t, "Bearer tok-1", f.request(t, 1).Header.Get("Authorization"))
	require.EqualValues(t, 1, iam.issued.Load(), "one token for both calls")

	// IAM refusing the key surfaces as its own error, without a provider call.
	bad := llm.NewIAMTokenSource(llm.IAMConfig{URL: iam.url(), KeyID: iamKeyID, Secret: "wrong"})
	_, err := llm.New(config.LLM{EvolutionBaseURL: f.baseURL()}, fastOptions(llm.WithEvolutionTokenSource(bad))...).Complete(t.Context(), hello())
	require.Equal(t, apperr.Unavailable, apperr.CodeOf(err))
	require.Contains(t, apperr.MessageOf(err), "Cloud.ru IAM rejected the service-account key")
	require.Equal(t, 2, f.attempts())
}
