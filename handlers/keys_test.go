package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

type keyJSON struct {
	ID         string   `json:"id"`
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Prefix     string   `json:"prefix"`
	Scopes     []string `json:"scopes"`
	RateLimit  int      `json:"rate_limit"`
	Active     bool     `json:"active"`
	LastUsedAt *string  `json:"last_used_at"`
	ExpiresAt  *string  `json:"expires_at"`
	RevokedAt  *string  `json:"revoked_at"`
	CreatedAt  string   `json:"created_at"`
}

type problemJSON struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

func createKey(t *testing.T, srv *testkit.Server, body string) keyJSON {
	t.Helper()
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/keys", srv.AdminKey, strings.NewReader(body))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var k keyJSON
	require.NoError(t, json.Unmarshal(b, &k))
	return k
}

func problem(t *testing.T, resp *http.Response, body []byte) problemJSON {
	t.Helper()
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), string(body))
	var p problemJSON
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	require.Equal(t, resp.StatusCode, p.Status)
	require.NotEmpty(t, p.Detail)
	return p
}

// The user journey of the issue: an admin creates a read-only key, the key
// works, is refused admin routes, is revoked, and is then unknown.
func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)

	k := createKey(t, srv, `{"name":"reporting","scopes":["read"],"rate_limit":30}`)
	require.True(t, strings.HasPrefix(k.Key, "bmcp_"), k.Key)
	require.GreaterOrEqual(t, len(k.Key), 5+43)
	require.Equal(t, k.Key[:len(k.Prefix)], k.Prefix)
	require.Equal(t, []string{"read"}, k.Scopes)
	require.Equal(t, 30, k.RateLimit)
	require.True(t, k.Active)

	resp, b := srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"scopes":["read"]`)
	require.Equal(t, "30", resp.Header.Get("RateLimit-Limit"))

	// X-API-Key works the same.
	resp, b = srv.Do(t, http.MethodGet, "/api/v1/me", "", nil, "X-API-Key", k.Key)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))

	resp, b = srv.Do(t, http.MethodGet, "/api/v1/admin/keys", k.Key, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, `"admin" scope`)

	// The list never holds a secret.
	resp, b = srv.Do(t, http.MethodGet, "/api/v1/admin/keys", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.NotContains(t, string(b), k.Key)
	require.NotContains(t, string(b), `"key":`)
	var list struct{ Items []keyJSON }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Items, 2)
	require.Equal(t, k.ID, list.Items[0].ID, "newest first")

	resp, b = srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+k.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var revoked keyJSON
	require.NoError(t, json.Unmarshal(b, &revoked))
	require.NotNil(t, revoked.RevokedAt)
	require.False(t, revoked.Active)

	resp, b = srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(b))
	require.Equal(t, `Bearer realm="bizmcp"`, resp.Header.Get("WWW-Authenticate"))
	require.Contains(t, problem(t, resp, b).Detail, "unknown, expired or revoked")

	// Revoking twice keeps the first time.
	resp, b = srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+k.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var again keyJSON
	require.NoError(t, json.Unmarshal(b, &again))
	require.Equal(t, *revoked.RevokedAt, *again.RevokedAt)
}

// A key stops working when it expires, also where it is cached (the cache
// keeps its expires_at): it works, then is refused without any change in
// the database.
func TestExpiredKeyIsUnauthorized(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	expires := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	k := createKey(t, srv, `{"name":"short-lived","scopes":["read"],"expires_at":"`+expires.Format(time.RFC3339)+`"}`)
	require.NotNil(t, k.ExpiresAt)
	resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, b := srv.Do(c, http.MethodGet, "/api/v1/me", k.Key, nil)
		if assert.Equal(c, http.StatusUnauthorized, resp.StatusCode) {
			// Same words as for an unknown key: no hint which.
			assert.Contains(c, string(b), "unknown, expired or revoked")
		}
	}, 30*time.Second, 100*time.Millisecond)
	require.False(t, time.Now().Before(expires), "refused only once expired")
}

func TestCreateKeyRejectsBadInput(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	long := strings.Repeat("n", 101)
	cases := []struct {
		name, body, contentType string
		status                  int
		detail                  string
	}{
		{"malformed JSON", `{"name": "x", "scopes": [read]}`, "", 400, "malformed JSON"},
		{"truncated JSON", `{"name": "x"`, "", 400, "ends too early"},
		{"empty body", ``, "", 400, "empty"},
		{"array instead of object", `[1,2]`, "", 400, "must be a JSON object"},
		{"name of wrong type", `{"name": 5, "scopes": ["read"]}`, "", 400, `field "name" must be a string`},
		{"scopes as a string", `{"name": "x", "scopes": "read"}`, "", 400, `field "scopes" must be an array`},
		{"rate_limit as a string", `{"name": "x", "scopes": ["read"], "rate_limit": "10"}`, "", 400, `field "rate_limit" must be a whole number`},
		{"rate_limit fractional", `{"name": "x", "scopes": ["read"], "rate_limit": 1.5}`, "", 400, `rate_limit`},
		{"rate_limit negative", `{"name": "x", "scopes": ["read"], "rate_limit": -5}`, "", 400, "1 to 100000"},
		{"rate_limit zero", `{"name": "x", "scopes": ["read"], "rate_limit": 0}`, "", 400, "1 to 100000"},
		{"rate_limit absurd", `{"name": "x", "scopes": ["read"], "rate_limit": 1000000000}`, "", 400, "1 to 100000"},
		{"rate_limit overflow", `{"name": "x", "scopes": ["read"], "rate_limit": 1e30}`, "", 400, "rate_limit"},
		{"unknown scope", `{"name": "x", "scopes": ["read", "root"]}`, "", 400, "allowed scopes are read, write, admin"},
		{"no scopes", `{"name": "x", "scopes": []}`, "", 400, "at least one of read, write, admin"},
		{"missing name", `{"scopes": ["read"]}`, "", 400, "name is required"},
		{"blank name", `{"name": "   ", "scopes": ["read"]}`, "", 400, "name is required"},
		{"name too long", `{"name": "` + long + `", "scopes": ["read"]}`, "", 400, "at most 100"},
		{"name with newline", `{"name": "a\nb", "scopes": ["read"]}`, "", 400, "control characters"},
		{"expires_at in the past", `{"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}`, "", 400, "in the past"},
		{"expires_at garbage", `{"name": "x", "scopes": ["read"], "expires_at": "next tuesday"}`, "", 400, "RFC 3339"},
		{"unknown field", `{"name": "x", "scopes": ["read"], "admin": true}`, "", 400, `unknown field "admin"`},
		{"trailing data", `{"name": "x", "scopes": ["read"]} {"again": 1}`, "", 400, "exactly one JSON object"},
		{"form content type", `name=x`, "application/x-www-form-urlencoded", 415, "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			headers := []string{}
			if tc.contentType != "" {
				headers = append(headers, "Content-Type", tc.contentType)
			}
			resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/keys", srv.AdminKey, strings.NewReader(tc.body), headers...)
			require.Equal(t, tc.status, resp.StatusCode, string(b))
			require.Contains(t, problem(t, resp, b).Detail, tc.detail)
		})
	}
	// Nothing was created by any of them.
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct{ Items []keyJSON }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Items, 1)
}

func TestHostileNamesAreStoredAsData(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	names := []string{
		`x'); DROP TABLE mcp.api_keys; --`,
		`<script>alert("k")</script>`,
		`Robert"; DELETE FROM mcp.api_keys WHERE '1'='1`,
		`ключ 🔑 ${jndi:ldap://x}`,
	}
	for _, name := range names {
		body, err := json.Marshal(map[string]any{"name": name, "scopes": []string{"read"}})
		require.NoError(t, err)
		k := createKey(t, srv, string(body))
		require.Equal(t, name, k.Name)
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys/"+k.ID, srv.AdminKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var got keyJSON
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, name, got.Name)
	}
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct{ Items []keyJSON }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Items, len(names)+1, "the table is intact and nothing was deleted")
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	huge := "bmcp_" + strings.Repeat("A", 32<<10)
	cases := []struct{ name, header, value string }{
		{"no header", "", ""},
		{"empty bearer", "Authorization", "Bearer "},
		{"bearer without space", "Authorization", "Bearer"},
		{"bearer bearer", "Authorization", "Bearer Bearer " + srv.AdminKey},
		{"basic scheme", "Authorization", "Basic dXNlcjpwYXNz"},
		{"huge token", "Authorization", "Bearer " + huge},
		{"non-ASCII token", "Authorization", "Bearer bmcp_ключключключключключключключключключключ"},
		{"unknown well-formed key", "Authorization", "Bearer bmcp_" + strings.Repeat("x", 43)},
		{"key with one character changed", "Authorization", "Bearer " + srv.AdminKey[:len(srv.AdminKey)-1] + flip(srv.AdminKey[len(srv.AdminKey)-1])},
		{"empty X-API-Key", "X-API-Key", ""},
		{"SQL in X-API-Key", "X-API-Key", "' OR '1'='1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var headers []string
			if tc.header != "" {
				headers = []string{tc.header, tc.value}
			}
			resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys", "", nil, headers...)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(b))
			require.Equal(t, `Bearer realm="bizmcp"`, resp.Header.Get("WWW-Authenticate"))
			problem(t, resp, b)
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestKeyIDs(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		resp, b := srv.Do(t, method, "/api/v1/admin/keys/not-a-uuid", srv.AdminKey, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
		require.Contains(t, problem(t, resp, b).Detail, "not a valid id")

		resp, b = srv.Do(t, method, "/api/v1/admin/keys/01234567-89ab-7def-8123-456789abcdef", srv.AdminKey, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, string(b))
		require.Contains(t, problem(t, resp, b).Detail, "not found")

		resp, b = srv.Do(t, method, "/api/v1/admin/keys/1%27%20OR%201=1", srv.AdminKey, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	}
}

func TestKeyListPages(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	for i := range 4 {
		createKey(t, srv, fmt.Sprintf(`{"name":"k%d","scopes":["read"]}`, i))
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys?limit=2&cursor="+cursor, srv.AdminKey, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		var page struct {
			Items      []keyJSON `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(b, &page))
		require.LessOrEqual(t, len(page.Items), 2)
		for _, k := range page.Items {
			require.False(t, seen[k.ID], "key %s on two pages", k.ID)
			seen[k.ID] = true
		}
		pages++
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Len(t, seen, 5)
	require.Equal(t, 3, pages)

	for _, q := range []string{"?cursor=garbage!", "?limit=1000", "?limit=-1", "?limit=ten"} {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/keys"+q, srv.AdminKey, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		problem(t, resp, b)
	}
}

func TestBodyOverLimit(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t, testkit.WithEnv("MAX_BODY_BYTES", "4096"))
	big := `{"name":"` + strings.Repeat("a", 8000) + `","scopes":["read"]}`

	resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/keys", srv.AdminKey, strings.NewReader(big))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, "4 KiB")

	// Without a Content-Length (chunked), the limit applies while reading.
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/admin/keys", struct{ *strings.Reader }{strings.NewReader(big)})
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, r2.StatusCode)
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	k := createKey(t, srv, `{"name":"slow","scopes":["read"],"rate_limit":5}`)
	for i := range 5 {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d: %s", i+1, b)
		require.Equal(t, "5", resp.Header.Get("RateLimit-Limit"))
	}
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, "5 requests per minute")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, "0", resp.Header.Get("RateLimit-Remaining"))
	require.NotEmpty(t, resp.Header.Get("RateLimit-Reset"))

	// A storm does not hurt the server or other keys.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("storm request: status %d, want 429", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/me", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/health", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// Two instances on one PostgreSQL and Redis draw from one budget per key.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	k := createKey(t, a, `{"name":"shared","scopes":["read"],"rate_limit":6}`)
	allowed := 0
	for i := range 12 {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		resp, _ := srv.Do(t, http.MethodGet, "/api/v1/me", k.Key, nil)
		switch resp.StatusCode {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	require.Equal(t, 6, allowed)
}
