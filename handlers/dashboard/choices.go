package dashboard

import (
	"slices"
	"strings"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// oneOf refuses value unless it is one of allowed: a 400 naming the field,
// the value as typed (bounded, made valid UTF-8) and the choices.
func oneOf(field, value string, allowed []string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return apperr.E(apperr.Invalid, "%s %q is not one of %s", field, apperr.Truncate(strings.ToValidUTF8(value, "?"), 32), strings.Join(allowed, ", "))
}

// choice is a filter's value from the URL and what it may be.
type choice struct {
	field, value string
	allowed      []string
}

// checkChoices refuses the first filter that is set to a value it does not
// allow (an empty filter is not set): a list shows the refusal rather than
// nothing.
func checkChoices(choices ...choice) error {
	for _, c := range choices {
		if c.value == "" {
			continue
		}
		if err := oneOf(c.field, c.value, c.allowed); err != nil {
			return err
		}
	}
	return nil
}
