// Package apperr is bizmcp's one error vocabulary. Domain code returns these
// errors; each boundary (REST, HTML, JSON-RPC, CLI) maps the code once to its
// own representation, so no handler classifies errors by string matching.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error by what the caller can do about it.
type Code string

// The codes, each mapped by the HTTP boundary to one status.
const (
	Invalid      Code = "invalid"      // 400: the input is wrong; the message says how
	Unauthorized Code = "unauthorized" // 401: no valid credentials
	Forbidden    Code = "forbidden"    // 403: valid credentials, missing permission
	NotFound     Code = "not_found"    // 404
	Conflict     Code = "conflict"     // 409: the state does not allow it (duplicate, finished task, ...)
	TooLarge     Code = "too_large"    // 413: the input exceeds a documented bound
	RateLimited  Code = "rate_limited" // 429
	Unavailable  Code = "unavailable"  // 503: a dependency is down; retrying later may work
	Canceled     Code = "canceled"     // 499: the caller gave up (cancelled or disconnected)
	Internal     Code = "internal"     // 500: a bug or an unexpected failure
)

// Error is an error with a code and a message meant for the person who sent
// the request. Cause, when set, is logged but never shown to the client.
type Error struct {
	Code    Code
	Message string
	Cause   error
	// Field names the input the error is about, when it is about one, so
	// that a form can show the message next to that field.
	Field string
}

// For returns e tagged with the input field it is about.
func (e *Error) For(field string) *Error {
	e.Field = field
	return e
}

// FieldOf returns the field an error is about ("" when none).
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// E builds an error with a code and a formatted, client-facing message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an error with a code and a client-facing message that keeps
// cause for logs and errors.Is.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the client-facing message of err. Errors that are not
// *Error are internal and their text is never shown: it may hold SQL,
// addresses or other details a client must not see.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error: the failure was logged; retry, and report it if it persists"
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Truncate shortens a client-supplied value quoted in a message to n bytes,
// so a hostile or huge input cannot make the error itself huge.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
