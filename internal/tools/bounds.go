package tools

import (
	"encoding/json"

	"github.com/google/jsonschema-go/jsonschema"
)

// The schema library compares every number with a numeric bound (minimum,
// maximum, exclusiveMinimum, exclusiveMaximum) as a math/big.Rat: some twenty
// allocations per number and bound, most of a tools/call's validation cost
// (every point of a series has a minimum and a maximum). The arguments are
// decoded into float64s and the bounds are float64s, so comparing the two
// floats is the same comparison, exactly.
//
// So a tool's input is validated in two parts: numberBounds checks the
// bounds that apply unconditionally (reached from the root through
// properties and items only), and the library validates the schema without
// them. Both are needed for the full schema to hold: a bound anywhere else
// (under anyOf, not, if, additionalProperties, prefixItems, ...) stays in the
// schema the library checks. When a bound does not hold, the full schema is
// validated instead, so that the error is the library's own, word for word.

// numberBounds are the numeric bounds of one schema position, and those of
// the positions under it.
type numberBounds struct {
	min, max, exclMin, exclMax *float64
	props                      map[string]*numberBounds
	items                      *numberBounds
}

// splitBounds removes from s, a copy the caller owns, the numeric bounds that
// apply unconditionally, and returns them (nil when there are none).
func splitBounds(s *jsonschema.Schema) *numberBounds {
	if s == nil {
		return nil
	}
	b := &numberBounds{min: s.Minimum, max: s.Maximum, exclMin: s.ExclusiveMinimum, exclMax: s.ExclusiveMaximum}
	s.Minimum, s.Maximum, s.ExclusiveMinimum, s.ExclusiveMaximum = nil, nil, nil, nil
	for name, p := range s.Properties {
		if pb := splitBounds(p); pb != nil {
			if b.props == nil {
				b.props = map[string]*numberBounds{}
			}
			b.props[name] = pb
		}
	}
	// items applies to every element only without prefixItems (2020-12) or
	// a tuple of items (draft 7).
	if s.PrefixItems == nil && s.ItemsArray == nil {
		b.items = splitBounds(s.Items)
	}
	if b.min == nil && b.max == nil && b.exclMin == nil && b.exclMax == nil && b.props == nil && b.items == nil {
		return nil
	}
	return b
}

// hold reports whether v, decoded by encoding/json into any, meets the
// bounds, as the schema library would judge them: a bound applies to numbers
// only, properties to objects, items to arrays.
func (b *numberBounds) hold(v any) bool {
	switch v := v.(type) {
	case float64:
		return (b.min == nil || v >= *b.min) && (b.max == nil || v <= *b.max) &&
			(b.exclMin == nil || v > *b.exclMin) && (b.exclMax == nil || v < *b.exclMax)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, json.Number:
		// Not what encoding/json decodes into any: the library judges it.
		return false
	case map[string]any:
		for name, pb := range b.props {
			if pv, ok := v[name]; ok && !pb.hold(pv) {
				return false
			}
		}
	case []any:
		if b.items != nil {
			for _, e := range v {
				if !b.items.hold(e) {
					return false
				}
			}
		}
	}
	return true
}

// inputSchema validates a tool's arguments (see numberBounds).
type inputSchema struct {
	full *jsonschema.Resolved
	// rest is full without the bounds in bounds; nil when it has none.
	rest   *jsonschema.Resolved
	bounds *numberBounds
}

// compileInput resolves s for validation; raw is s as JSON, decoded again
// for the copy without the bounds.
func compileInput(s *jsonschema.Schema, raw json.RawMessage) (*inputSchema, error) {
	full, err := s.Resolve(nil)
	if err != nil {
		return nil, err
	}
	in := &inputSchema{full: full}
	var rest jsonschema.Schema
	if err := json.Unmarshal(raw, &rest); err != nil {
		return nil, err
	}
	if in.bounds = splitBounds(&rest); in.bounds == nil {
		return in, nil
	}
	if in.rest, err = rest.Resolve(nil); err != nil {
		return nil, err
	}
	return in, nil
}

// Validate validates instance, decoded by encoding/json into any.
func (in *inputSchema) Validate(instance any) error {
	if in.rest == nil || !in.bounds.hold(instance) {
		return in.full.Validate(instance)
	}
	return in.rest.Validate(instance)
}
