// Package page holds keyset pagination: lists are ordered by (created_at,
// id) descending and a cursor names the last row of the previous page, so a
// page costs the same however deep it is (no OFFSET).
package page

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// DefaultLimit and MaxLimit bound the rows of one page.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Cursor is the position after which the next page starts.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Encode returns the opaque string handed to clients.
func (c Cursor) Encode() string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// Decode parses a cursor from a client; the empty string is the first page
// (nil cursor).
func Decode(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	invalid := apperr.E(apperr.Invalid, "cursor %q is not valid: pass the next_cursor value of the previous page unchanged", apperr.Truncate(s, 64))
	if len(s) > maxCursorLen {
		return nil, invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return nil, invalid
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return nil, invalid
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, invalid
	}
	// A forged cursor can name any instant; one outside the years 1-9999
	// would reach PostgreSQL as a timestamp it refuses (or one pgx cannot
	// encode), and no row was created then.
	if us < minCursorMicros || us > maxCursorMicros {
		return nil, invalid
	}
	return &Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: u}, nil
}

// Bounds of a cursor: an encoded one is about 70 characters.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

const maxCursorLen = 128

// Limit validates a requested page size; 0 means DefaultLimit.
func Limit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, apperr.E(apperr.Invalid, "limit %d is out of range: use 1 to %d", n, MaxLimit)
	}
	return n, nil
}

// Parse validates a request's cursor and page size in one step.
func Parse(cursor string, limit int) (*Cursor, int, error) {
	c, err := Decode(cursor)
	if err != nil {
		return nil, 0, err
	}
	limit, err = Limit(limit)
	return c, limit, err
}

// Build turns the rows of a query that asked for limit+1 into a page: the
// first limit items, and the cursor after the last of them when more rows
// remain ("" at the end).
func Build[R, T any](rows []R, limit int, key func(R) Cursor, convert func(R) T) ([]T, string) {
	items := make([]T, 0, min(len(rows), limit))
	for i, r := range rows {
		if i == limit {
			return items, key(rows[limit-1]).Encode()
		}
		items = append(items, convert(r))
	}
	return items, ""
}
