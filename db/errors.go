package db

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// MapError turns a pgx error into bizmcp's error vocabulary: no rows is
// NotFound, a unique violation Conflict, a lost or refused connection
// Unavailable (503: PostgreSQL is restarting; retrying later works).
// Anything else stays an internal error. what names the thing queried
// ("API key"), for the client-facing message.
func MapError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Wrap(err, apperr.NotFound, "%s not found", what)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return apperr.Wrap(err, apperr.Conflict, "%s already exists", what)
		case pgErr.Code == "23503":
			return apperr.Wrap(err, apperr.NotFound, "%s refers to something that does not exist", what)
		case pgErr.Code == "23514", pgErr.Code == "22P02", pgErr.Code == "22001":
			return apperr.Wrap(err, apperr.Invalid, "%s has a value the database refuses", what)
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57" || pgErr.Code[:2] == "53"):
			// 08: connection exception, 57: operator intervention
			// (shutdown, crash recovery), 53: insufficient resources.
			return unavailable(err)
		}
		return err
	}
	if IsUnavailable(err) {
		return unavailable(err)
	}
	return err
}

func unavailable(err error) error {
	return apperr.Wrap(err, apperr.Unavailable, "the database is unavailable; retry in a few seconds")
}

// IsUnavailable reports whether err means the database could not be reached
// (refused, reset or timed-out connection) rather than a query problem.
func IsUnavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return false
	}
	// A connection closed under a query (the server stopped) surfaces as an
	// EOF with no PgError; one closed before the query was sent is marked
	// safe to retry.
	return pgconn.SafeToRetry(err) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
