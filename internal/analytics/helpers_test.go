package analytics

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// requireCode asserts err is an *apperr.Error with the code and a message
// containing each of parts.
func requireCode(t *testing.T, err error, code apperr.Code, parts ...string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, apperr.CodeOf(err), "error %q", err)
	for _, p := range parts {
		require.Contains(t, apperr.MessageOf(err), p)
	}
}

// f is a pointer to x, for expected nullable figures.
func f(x float64) *float64 { return &x }

// requireNear asserts a nullable figure is set and within delta of want.
func requireNear(t *testing.T, want float64, got *float64, delta float64, msg string) {
	t.Helper()
	require.NotNil(t, got, msg)
	require.InDelta(t, want, *got, delta, msg)
}

// raw marshals v for ReportSection.Data.
func raw(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
