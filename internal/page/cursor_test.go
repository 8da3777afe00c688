package page

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cursor{CreatedAt: time.Date(2026, 11, 23, 10, 0, 0, 123456000, time.UTC), ID: uuid.New()}
	got, err := Decode(c.Encode())
	require.NoError(t, err)
	require.Equal(t, c, *got)

	none, err := Decode("")
	require.NoError(t, err)
	require.Nil(t, none)

	for _, bad := range []string{"!!", "bm90IGEgY3Vyc29y", "MTIzLm5vdC1hLXV1aWQ", "eC4wMTIzNDU2Ny04OWFiLTdkZWYtODEyMy00NTY3ODlhYmNkZWY"} {
		_, err := Decode(bad)
		require.True(t, apperr.Is(err, apperr.Invalid), bad)
	}
}

func TestLimit(t *testing.T) {
	t.Parallel()
	n, err := Limit(0)
	require.NoError(t, err)
	require.Equal(t, DefaultLimit, n)
	n, err = Limit(7)
	require.NoError(t, err)
	require.Equal(t, 7, n)
	for _, bad := range []int{-1, MaxLimit + 1} {
		_, err := Limit(bad)
		require.True(t, apperr.Is(err, apperr.Invalid))
	}
}

// A forged cursor naming an instant PostgreSQL cannot hold is refused as
// any other invalid cursor.
func TestCursorOutOfRange(t *testing.T) {
	t.Parallel()
	for _, us := range []string{"9223372036854775807", "-9223372036854775808", "253402300800000000", "-62135596800000001"} {
		s := base64.RawURLEncoding.EncodeToString([]byte(us + ".0192f3e4-5b6c-7d8e-9f00-112233445566"))
		_, err := Decode(s)
		require.True(t, apperr.Is(err, apperr.Invalid), us)
	}
	_, err := Decode(strings.Repeat("A", 10_000))
	require.True(t, apperr.Is(err, apperr.Invalid))
}

// FuzzCursor decodes arbitrary cursors: no panic, only Invalid errors, and a
// decoded cursor encodes back to one that decodes to the same position,
// within the years PostgreSQL and pgx handle.
func FuzzCursor(f *testing.F) {
	f.Add("")
	f.Add(Cursor{CreatedAt: time.Date(2026, 11, 23, 10, 0, 0, 123456000, time.UTC), ID: uuid.New()}.Encode())
	f.Add("OTIyMzM3MjAzNjg1NDc3NTgwNy4wMTkyZjNlNC01YjZjLTdkOGUtOWYwMC0xMTIyMzM0NDU1NjY")
	f.Add("MTIzLm5vdC1hLXV1aWQ")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Decode(s)
		if err != nil {
			require.True(t, apperr.Is(err, apperr.Invalid), "%q: %v", s, err)
			return
		}
		if c == nil {
			require.Empty(t, s)
			return
		}
		require.True(t, c.CreatedAt.Year() >= 1 && c.CreatedAt.Year() <= 9999, "%q: %v", s, c.CreatedAt)
		again, err := Decode(c.Encode())
		require.NoError(t, err)
		require.Equal(t, *c, *again)
	})
}
