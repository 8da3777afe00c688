package orchestrator

import (
	"strings"
	"time"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// ParseCreatedRange reads a task list's created from/to filter as a person
// or a client gives it: each bound a date (2026-12-01) or an RFC 3339 time
// (2026-12-01T09:30:00Z), either one empty for no bound. The range is
// inclusive at both ends: a date as "to" includes that whole day (UTC), a
// time includes that instant. It returns the inclusive lower bound and the
// exclusive upper bound the query uses, or an Invalid error naming the bad
// value.
func ParseCreatedRange(from, to string) (fromAt, before *time.Time, err error) {
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if from != "" {
		t, _, err := parseListTime("created_from", from) // a date is the start of its day
		if err != nil {
			return nil, nil, err
		}
		fromAt = &t
	}
	if to != "" {
		t, dateOnly, err := parseListTime("created_to", to)
		if err != nil {
			return nil, nil, err
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1)
		} else {
			// PostgreSQL keeps microseconds: the next one excludes
			// nothing at or before t.
			t = t.Truncate(time.Microsecond).Add(time.Microsecond)
		}
		before = &t
	}
	if fromAt != nil && before != nil && !fromAt.Before(*before) {
		return nil, nil, apperr.E(apperr.Invalid, "created_from %s is after created_to %s: the range is empty", from, to)
	}
	return fromAt, before, nil
}

func parseListTime(name, v string) (time.Time, bool, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), false, nil
	}
	return time.Time{}, false, apperr.E(apperr.Invalid, "%s %q is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:30:00Z)", name, apperr.Truncate(v, 40))
}
