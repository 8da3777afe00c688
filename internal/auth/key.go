// Package auth holds API keys: their format, storage as SHA-256, scopes and
// the verification chain every surface (REST, MCP, dashboard login) shares.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// KeyPrefix starts every bizmcp API key, so a leaked key is recognisable by
// secret scanners and by people.
const KeyPrefix = "bmcp_"

// keyRandomBytes is the entropy of a key: 256 bits, beyond brute force, which
// is also why an unsalted SHA-256 is the right way to store it (a salted hash
// such as bcrypt could not be looked up by value).
const keyRandomBytes = 32

// keyLen is the length of a well-formed key: the prefix and the 43
// characters of the unpadded base64url encoding of the 32 random bytes.
const keyLen = len(KeyPrefix) + (keyRandomBytes*8+5)/6

// shownPrefixLen is how much of a key is stored in clear to tell keys apart
// in lists: the "bmcp_" marker and 7 characters (42 bits, not enough to help
// an attacker).
const shownPrefixLen = 12

// Scope is a permission carried by a key.
type Scope string

// The scopes. admin implies every other scope.
const (
	ScopeRead  Scope = "read"  // list and get
	ScopeWrite Scope = "write" // create tasks, execute tools, send messages
	ScopeAdmin Scope = "admin" // agents, keys, everything
)

// AllScopes lists the scopes in a stable order, for messages and forms.
func AllScopes() []Scope { return []Scope{ScopeRead, ScopeWrite, ScopeAdmin} }

// ParseScopes validates scope names, removing duplicates. An unknown or
// missing scope is an Invalid error listing the allowed names.
func ParseScopes(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return nil, apperr.E(apperr.Invalid, "scopes must name at least one of read, write, admin")
	}
	var out []Scope
	for _, n := range names {
		s := Scope(strings.ToLower(strings.TrimSpace(n)))
		if !slices.Contains(AllScopes(), s) {
			return nil, apperr.E(apperr.Invalid, "unknown scope %q: allowed scopes are read, write, admin", apperr.Truncate(n, 40))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Scope) int { return slices.Index(AllScopes(), a) - slices.Index(AllScopes(), b) })
	return out, nil
}

// HasScope reports whether scopes grant want; admin grants everything.
func HasScope(scopes []Scope, want Scope) bool {
	return slices.Contains(scopes, want) || slices.Contains(scopes, ScopeAdmin)
}

// newKey returns a fresh key, the part of it shown in lists, and its hash.
func newKey() (plain, prefix string, hash []byte, err error) {
	b := make([]byte, keyRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", nil, err
	}
	plain = KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(plain))
	return plain, plain[:shownPrefixLen], h[:], nil
}

// HashKey returns the SHA-256 under which a key is stored.
func HashKey(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}

// wellFormed reports whether s can be a bizmcp key at all, so garbage
// (empty, huge, non-ASCII, "Bearer x") is refused without a database trip.
func wellFormed(s string) bool {
	if len(s) != keyLen || !strings.HasPrefix(s, KeyPrefix) {
		return false
	}
	for i := len(KeyPrefix); i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
