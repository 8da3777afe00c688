package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerTypes teaches a new connection to encode and decode uuid.UUID as
// the 16 bytes it is. Without it pgx honours uuid.UUID's driver.Valuer:
// every uuid parameter (and every element of a uuid[]) became a string,
// failed to encode as binary (an error built with fmt.Errorf), was parsed
// back from text and encoded again: some fifteen allocations per uuid, on
// every query. Reads took the same detour through its sql.Scanner.
func registerTypes(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUIDEncodePlan}, m.TryWrapEncodePlanFuncs...)
	uuidType := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(uuidType)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: uuidType}})
	return nil
}

func tryWrapUUIDEncodePlan(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	if u, ok := value.(uuid.UUID); ok {
		return &uuidEncodePlan{}, [16]byte(u), true
	}
	return nil, nil, false
}

// uuidEncodePlan encodes a uuid.UUID as its [16]byte, which pgx's uuid codec
// takes as is.
type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode([16]byte(value.(uuid.UUID)), buf)
}

// uuidCodec is pgx's uuid codec that also reads a uuid into a uuid.UUID as
// the 16 bytes it is. Without it a read went through uuid.UUID's
// sql.Scanner (pgx asks a sql.Scanner before any wrapper), as a
// 36-character string parsed back.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanBinaryUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type scanBinaryUUID struct{}

func (scanBinaryUUID) Scan(src []byte, target any) error {
	if src == nil {
		return nil // as uuid.UUID's sql.Scanner does with NULL: left as it was
	}
	if len(src) != 16 {
		return fmt.Errorf("a binary uuid is 16 bytes, not %d", len(src))
	}
	copy(target.(*uuid.UUID)[:], src)
	return nil
}
