package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

func TestMapError(t *testing.T) {
	t.Parallel()
	require.NoError(t, db.MapError(nil, "x"))
	cases := []struct {
		err  error
		code apperr.Code
	}{
		{pgx.ErrNoRows, apperr.NotFound},
		{fmt.Errorf("wrapped: %w", pgx.ErrNoRows), apperr.NotFound},
		{&pgconn.PgError{Code: "23505"}, apperr.Conflict},
		{&pgconn.PgError{Code: "57P01"}, apperr.Unavailable},
		{&pgconn.PgError{Code: "08006"}, apperr.Unavailable},
		{io.ErrUnexpectedEOF, apperr.Unavailable},
		{context.DeadlineExceeded, apperr.Unavailable},
		{&pgconn.PgError{Code: "42601"}, apperr.Internal},
		{errors.New("something else"), apperr.Internal},
	}
	for _, tc := range cases {
		require.Equal(t, tc.code, apperr.CodeOf(db.MapError(tc.err, "thing")), "%v", tc.err)
	}
	require.Equal(t, "thing not found", apperr.MessageOf(db.MapError(pgx.ErrNoRows, "thing")))
}

// Against the real server: the mapping sees the errors pgx really returns.
func TestMapErrorReal(t *testing.T) {
	t.Parallel()
	pool := testkit.Pool(t)
	q := db.New(pool)
	ctx := context.Background()
	_, err := q.APIKeyGet(ctx, uuid.New())
	require.True(t, apperr.Is(db.MapError(err, "API key"), apperr.NotFound))

	params := db.APIKeyCreateParams{ID: uuid.New(), Name: "a", Prefix: "bmcp_x", KeyHash: make([]byte, 32), Scopes: []string{"read"}, RateLimit: 1}
	_, err = q.APIKeyCreate(ctx, params)
	require.NoError(t, err)
	params.ID = uuid.New()
	_, err = q.APIKeyCreate(ctx, params)
	require.True(t, apperr.Is(db.MapError(err, "API key"), apperr.Conflict), "same hash twice: %v", err)

	params.ID, params.KeyHash, params.Scopes = uuid.New(), make([]byte, 31), []string{"read"}
	_, err = q.APIKeyCreate(ctx, params)
	require.True(t, apperr.Is(db.MapError(err, "API key"), apperr.Invalid), "check constraint: %v", err)
}
