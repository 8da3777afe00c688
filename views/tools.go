package views

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/bizmcp/bizmcp/internal/tools"
)

// ToolsPage is the tool catalogue with the recent runs.
type ToolsPage struct {
	Frame
	Tools      []tools.Info
	Executions []tools.Execution
	NextURL    string
	OnFirst    bool
	Now        time.Time
}

// ToolRunPage is one tool's run form, and the run's result once submitted.
type ToolRunPage struct {
	Frame
	Tool   tools.Info
	Fields []SchemaField
	Values map[string]string
	Errors FieldErrors
	// FormError is the tool's refusal of the arguments as a whole.
	FormError string
	Result    *tools.Execution
	Now       time.Time
}

// SchemaField is one input of a form generated from a JSON Schema
// property.
type SchemaField struct {
	Name, Label, Description string
	// Kind is text, textarea, number, integer, boolean, select or json.
	Kind     string
	Options  []string
	Required bool
	// Numeric marks a select whose choices are numbers.
	Numeric  bool
	Min, Max string
	Default  string
}

type schemaProp struct {
	Type        any               `json:"type"`
	Description string            `json:"description"`
	Enum        []json.RawMessage `json:"enum"`
	Default     json.RawMessage   `json:"default"`
	Minimum     *float64          `json:"minimum"`
	Maximum     *float64          `json:"maximum"`
	MaxLength   *int              `json:"maxLength"`
}

// SchemaFields turns a tool's input schema into form fields: enums become
// selects, numbers number inputs, booleans checkboxes, long strings text
// areas, and arrays and objects JSON editors.
func SchemaFields(schema json.RawMessage) []SchemaField {
	var s struct {
		Properties map[string]schemaProp `json:"properties"`
		Required   []string              `json:"required"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	// Required fields first, then by name: a stable, useful order.
	slices.SortFunc(names, func(a, b string) int {
		ra, rb := slices.Contains(s.Required, a), slices.Contains(s.Required, b)
		switch {
		case ra && !rb:
			return -1
		case rb && !ra:
			return 1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	out := make([]SchemaField, 0, len(names))
	for _, n := range names {
		p := s.Properties[n]
		f := SchemaField{Name: n, Label: n, Description: p.Description, Required: slices.Contains(s.Required, n)}
		typ, _ := p.Type.(string)
		switch {
		case len(p.Enum) > 0:
			f.Kind = "select"
			for _, e := range p.Enum {
				var v any
				if json.Unmarshal(e, &v) == nil {
					_, f.Numeric = v.(float64)
					f.Options = append(f.Options, scalarText(v))
				}
			}
		case typ == "integer" || typ == "number":
			f.Kind = typ
		case typ == "boolean":
			f.Kind = "boolean"
		case typ == "string":
			f.Kind = "text"
			if p.MaxLength == nil || *p.MaxLength > 500 {
				f.Kind = "textarea"
			}
		default:
			f.Kind = "json"
		}
		if p.Minimum != nil {
			f.Min = strconv.FormatFloat(*p.Minimum, 'f', -1, 64)
		}
		if p.Maximum != nil && *p.Maximum < 1e15 {
			f.Max = strconv.FormatFloat(*p.Maximum, 'f', -1, 64)
		}
		if len(p.Default) > 0 {
			var v any
			if json.Unmarshal(p.Default, &v) == nil {
				f.Default = scalarText(v)
				if f.Kind == "boolean" {
					f.Default = string(p.Default)
				}
			}
		}
		out = append(out, f)
	}
	return out
}

func fieldValue(values map[string]string, f SchemaField) string {
	if v, ok := values[f.Name]; ok {
		return v
	}
	return ""
}

func defaultSuffix(f SchemaField) string {
	if f.Default == "" {
		return ""
	}
	return " (" + f.Default + ")"
}

func stepFor(f SchemaField) string {
	if f.Kind == "integer" {
		return "1"
	}
	return "any"
}

func rowsFor(f SchemaField) string {
	if f.Kind == "json" {
		return "6"
	}
	return "4"
}
