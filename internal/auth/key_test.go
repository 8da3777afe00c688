package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

func TestNewKeyFormat(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		plain, prefix, hash, err := newKey()
		require.NoError(t, err)
		require.Len(t, plain, keyLen)
		require.True(t, wellFormed(plain), plain)
		require.True(t, strings.HasPrefix(plain, prefix))
		require.Len(t, prefix, shownPrefixLen)
		require.Equal(t, HashKey(plain), hash)
		require.Len(t, hash, 32)
		require.False(t, seen[plain])
		seen[plain] = true
	}
}

func TestWellFormed(t *testing.T) {
	t.Parallel()
	plain, _, _, err := newKey()
	require.NoError(t, err)
	for _, bad := range []string{"", "bmcp_", plain + "x", plain[:len(plain)-1], "xmcp_" + plain[5:], plain[:10] + "é" + plain[12:], plain[:10] + " " + plain[11:], "Bearer " + plain} {
		require.False(t, wellFormed(bad), "%q", bad)
	}
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	got, err := ParseScopes([]string{"admin", " READ ", "read", "write"})
	require.NoError(t, err)
	require.Equal(t, []Scope{ScopeRead, ScopeWrite, ScopeAdmin}, got)

	_, err = ParseScopes(nil)
	require.True(t, apperr.Is(err, apperr.Invalid))
	_, err = ParseScopes([]string{"read", "superuser"})
	require.True(t, apperr.Is(err, apperr.Invalid))
	require.Contains(t, err.Error(), `unknown scope "superuser": allowed scopes are read, write, admin`)
}

func TestHasScope(t *testing.T) {
	t.Parallel()
	require.True(t, HasScope([]Scope{ScopeRead}, ScopeRead))
	require.False(t, HasScope([]Scope{ScopeRead}, ScopeWrite))
	require.False(t, HasScope([]Scope{ScopeWrite}, ScopeRead), "write does not imply read: a key may only submit")
	require.True(t, HasScope([]Scope{ScopeAdmin}, ScopeRead))
	require.True(t, HasScope([]Scope{ScopeAdmin}, ScopeWrite))
	require.NoError(t, Principal{Scopes: []Scope{ScopeAdmin}}.Require(ScopeWrite))
	require.True(t, apperr.Is(Principal{Scopes: []Scope{ScopeRead}}.Require(ScopeAdmin), apperr.Forbidden))
}
