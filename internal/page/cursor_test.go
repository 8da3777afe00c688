package page

import (
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
