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

// uuid columns read into uuid.UUID (alone, nullable, in arrays, and NULL
// into a plain uuid.UUID, which its sql.Scanner left as it was) come back as
// the same values,
// without the detour through a 36-character string.
func TestUUIDScans(t *testing.T) { // not parallel: AllocsPerRun
	ctx := context.Background()
	pool, err := db.Connect(ctx, testkit.DatabaseURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	a, b := uuid.New(), uuid.Must(uuid.NewV7())
	var (
		one, fromNull uuid.UUID
		many          []uuid.UUID
		none, some    *uuid.UUID
	)
	fromNull = a
	err = pool.QueryRow(ctx, `SELECT $1::text::uuid, ARRAY[$1::text, $2::text]::uuid[], NULL::uuid, $2::text::uuid, NULL::uuid`,
		a.String(), b.String()).Scan(&one, &many, &none, &some, &fromNull)
	require.NoError(t, err)
	require.Equal(t, a, one)
	require.Equal(t, []uuid.UUID{a, b}, many)
	require.Nil(t, none)
	require.Equal(t, b, *some)
	require.Equal(t, a, fromNull, "NULL leaves a plain uuid.UUID as it was")

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	m := conn.Conn().TypeMap()
	src := a[:]
	var u uuid.UUID
	var raw [16]byte
	scan := func(target any) float64 {
		return testing.AllocsPerRun(100, func() {
			if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, src, target); err != nil {
				t.Fatal(err)
			}
		})
	}
	require.LessOrEqual(t, scan(&u), scan(&raw)+1, "a uuid.UUID is read about as cheaply as its 16 bytes")
	require.Equal(t, a, u)
}
