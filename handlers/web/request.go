package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// DecodeJSON reads a request body into v, refusing what a client would want
// to hear about: a wrong Content-Type, an empty or malformed body, wrong
// types, unknown fields, and trailing data. Each message names the problem
// and, where it can, the field.
func DecodeJSON(c echo.Context, v any) error {
	req := c.Request()
	if mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return apperr.E(apperr.Invalid, "the body must hold exactly one JSON object; found more data after it")
	}
	return nil
}

func jsonError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		return err
	case errors.Is(err, io.EOF):
		return apperr.E(apperr.Invalid, "the request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.E(apperr.Invalid, "the JSON body ends too early: check for a missing closing brace or quote")
	case errors.As(err, &syntaxErr):
		return apperr.E(apperr.Invalid, "malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return apperr.E(apperr.Invalid, "the body must be a JSON object, not %s", typeErr.Value)
		}
		return apperr.E(apperr.Invalid, "field %q must be %s, not %s", typeErr.Field, jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields; its
		// message is stable and documented by the standard library's tests.
		return apperr.E(apperr.Invalid, "unknown field %s in the body; check the field names in the API reference", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return apperr.E(apperr.Invalid, "invalid JSON body: %s", err.Error())
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}

// PathUUID parses the :name path parameter as a UUID.
func PathUUID(c echo.Context, name string) (uuid.UUID, error) {
	raw := c.Param(name)
	id, err := uuid.Parse(raw)
	if err != nil {
		if len(raw) > 64 {
			raw = raw[:64] + "…"
		}
		return uuid.Nil, apperr.E(apperr.Invalid, "%s %q is not a valid id: ids are UUIDs such as 0192f3e4-5b6c-7d8e-9f00-112233445566", name, raw)
	}
	return id, nil
}

// QueryInt reads an optional integer query parameter (0 when absent).
func QueryInt(c echo.Context, name string) (int, error) {
	raw := strings.TrimSpace(c.QueryParam(name))
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, apperr.E(apperr.Invalid, "query parameter %s=%q must be a whole number", name, apperr.Truncate(raw, 32))
	}
	return n, nil
}

// QueryUUID reads an optional UUID query parameter (nil when absent).
func QueryUUID(c echo.Context, name string) (*uuid.UUID, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, apperr.E(apperr.Invalid, "query parameter %s=%q is not a UUID", name, apperr.Truncate(raw, 64))
	}
	return &id, nil
}
