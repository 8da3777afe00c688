package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

// uuid.UUID parameters, alone, in arrays and through pointers, reach
// PostgreSQL as the same values, and are encoded without the detour through
// text that its driver.Valuer used to cost.
func TestUUIDParameters(t *testing.T) { // not parallel: AllocsPerRun
	ctx := context.Background()
	pool, err := db.Connect(ctx, testkit.DatabaseURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	a, b := uuid.New(), uuid.Must(uuid.NewV7())
	var (
		one     uuid.UUID
		many    []uuid.UUID
		none    *uuid.UUID
		some    *uuid.UUID
		text    string
		nilText string
	)
	err = pool.QueryRow(ctx, `SELECT $1::uuid, $2::uuid[], $3::uuid, $4::uuid, $1::uuid::text, $5::uuid::text`,
		a, []uuid.UUID{a, uuid.Nil, b}, (*uuid.UUID)(nil), &b, uuid.Nil).Scan(&one, &many, &none, &some, &text, &nilText)
	require.NoError(t, err)
	require.Equal(t, a, one)
	require.Equal(t, []uuid.UUID{a, uuid.Nil, b}, many)
	require.Nil(t, none)
	require.Equal(t, b, *some)
	require.Equal(t, a.String(), text)
	require.Equal(t, uuid.Nil.String(), nilText)

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	m := conn.Conn().TypeMap()
	encode := func(v any) float64 {
		return testing.AllocsPerRun(100, func() {
			if _, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, v, make([]byte, 0, 64)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The 16 bytes are boxed once on their way to the codec; the text
	// detour cost some twenty allocations.
	require.LessOrEqual(t, encode(a), encode([16]byte(a))+1, "a uuid.UUID costs about what its 16 bytes cost")
}
