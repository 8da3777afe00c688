// Package mcpstate seals the request state an MCP server hands a client in an
// input-required result (protocol revision 2026-07-28, SEP-2322) and opens it
// when the client sends it back with its answers.
//
// A 2026 server keeps nothing between the rounds of a multi round-trip
// request: whatever it must remember travels with the client, which is why
// the state must be integrity protected. A state is an HMAC-SHA256 over its
// payload, its expiry and a binding the caller chooses (bizmcp binds it to
// the API key and the tool): a state changed by one byte, expired, or
// presented by another key or to another tool is refused. The key is derived
// from the server's SECRET_KEY, so every instance sharing the secret can open
// what another sealed, and a 2026 client needs no affinity.
package mcpstate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// DefaultTTL is how long a client has to answer an input request.
const DefaultTTL = 15 * time.Minute

// maxStateBytes bounds a state presented by a client before any work on it.
const maxStateBytes = 16 << 10

// Sealer seals and opens request state.
type Sealer struct {
	key []byte
	now func() time.Time
}

// NewSealer derives the sealing key from secret (SECRET_KEY).
func NewSealer(secret []byte) *Sealer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bizmcp/mcp-request-state/v1"))
	return &Sealer{key: m.Sum(nil), now: time.Now}
}

type envelope struct {
	Expires int64           `json:"e"`
	Payload json.RawMessage `json:"p"`
}

// Seal returns payload as an opaque state, valid for ttl and only for the
// same binding.
func (s *Sealer) Seal(binding string, payload any, ttl time.Duration) (string, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(envelope{Expires: s.now().Add(ttl).Unix(), Payload: p})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body) + "." + enc.EncodeToString(s.mac(binding, body)), nil
}

// Open verifies state and decodes its payload into v. Every failure is an
// apperr.Invalid whose message tells the client to start the request again.
func (s *Sealer) Open(binding, state string, v any) error {
	invalid := func(why string) error {
		return apperr.E(apperr.Invalid, "requestState refused: %s; call again without requestState to start over", why)
	}
	if len(state) > maxStateBytes {
		return invalid("it is too long")
	}
	b64, sig, ok := strings.Cut(state, ".")
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64)
	mac, err2 := enc.DecodeString(sig)
	if !ok || errors.Join(err1, err2) != nil {
		return invalid("it is not a state this server issued")
	}
	if !hmac.Equal(mac, s.mac(binding, body)) {
		return invalid("its integrity check failed (changed, or issued for another key or tool)")
	}
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return invalid("it is not a state this server issued")
	}
	if s.now().Unix() > e.Expires {
		return invalid("it has expired")
	}
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return invalid("its payload does not fit this request")
	}
	return nil
}

func (s *Sealer) mac(binding string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(binding))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)
}
