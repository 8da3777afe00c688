package views

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/internal/stats"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// ToolsPage is the tool catalogue with the most recent runs.
type ToolsPage struct {
	Frame
	Tools []tools.Info
	// Usage is each tool's runs and latency over the last 24 hours, from
	// the cached aggregates (a tool that did not run is missing).
	Usage      map[string]stats.ToolLatency
	Executions []tools.Execution
	Now        time.Time
}

// ExecFilter is the execution history's filter, kept in the URL so a
// filtered view can be bookmarked and shared: a tool name, a source (mcp,
// rest, agent, dashboard) and failed (yes, no, or empty for any).
type ExecFilter struct {
	Tool, Source, Failed string
}

// Query is the filter as URL parameters (empty ones left out).
func (f ExecFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"tool": f.Tool, "source": f.Source, "failed": f.Failed} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// FailedChoices are the values of the history's failed filter.
func FailedChoices() []string { return []string{"yes", "no"} }

// ExecutionsPage is the execution history with its filter.
type ExecutionsPage struct {
	Frame
	Executions []tools.Execution
	Filter     ExecFilter
	ToolNames  []string
	NextURL    string
	OnFirst    bool
	Now        time.Time
}

// ExecutionPage is one execution in full.
type ExecutionPage struct {
	Frame
	Execution tools.Execution
	// KeyName names the API key that ran it, when it is known.
	KeyName string
	Now     time.Time
}

func usageRuns(u map[string]stats.ToolLatency, name string) string {
	if l, ok := u[name]; ok {
		return strconv.FormatInt(l.Runs, 10)
	}
	return "0"
}

func usageP50(u map[string]stats.ToolLatency, name string) string {
	if l, ok := u[name]; ok && l.Runs > 0 {
		return runTime(int(math.Round(l.P50)))
	}
	return "–"
}

// runTime shows a run's time in whole milliseconds, as it is stored; a run
// under a millisecond says so instead of "0 ms".
func runTime(ms int) string {
	if ms <= 0 {
		return "< 1 ms"
	}
	return strconv.Itoa(ms) + " ms"
}

// toggleStatus is the status a tool's enable/disable button sets.
func toggleStatus(t tools.Info) string {
	if t.Status == tools.StatusDisabled {
		return tools.StatusActive
	}
	return tools.StatusDisabled
}

func toggleLabel(t tools.Info) string {
	if t.Status == tools.StatusDisabled {
		return "Enable"
	}
	return "Disable"
}

func executionFailed(e tools.Execution) bool { return e.Status != "completed" }

func executionUsage(e tools.Execution) string {
	return fmt.Sprintf("%d LLM tokens, $%.4f", e.TokensUsed, e.Cost)
}

func finishedAt(e tools.Execution) *time.Time {
	t := e.CreatedAt.Add(time.Duration(e.DurationMS) * time.Millisecond)
	return &t
}

func uuidText(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
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
	// Kind is text, textarea, number, integer, boolean, select, list (an
	// array of numbers or strings, typed as a list), records (an array of
	// flat objects, as JSON or a CSV paste) or json.
	Kind     string
	Options  []string
	Required bool
	// Numeric marks a select whose choices are numbers, and a list of
	// numbers.
	Numeric  bool
	Min, Max string
	Default  string
	// Item is the type of a list's items: number, integer or string.
	Item string
	// MaxLength bounds a text; MinItems and MaxItems a list or records
	// (0: no bound).
	MaxLength, MinItems, MaxItems int
	// Columns are a records field's known columns, in the schema's order
	// of its required ones first; Kinds maps a column to the JSON types it
	// takes (number, integer, boolean, string), and OpenColumns says other
	// columns are allowed (taking OpenKinds).
	Columns     []string
	Kinds       map[string][]string
	OpenColumns bool
	OpenKinds   []string
}

type schemaProp struct {
	Type        any                   `json:"type"`
	Description string                `json:"description"`
	Enum        []json.RawMessage     `json:"enum"`
	Default     json.RawMessage       `json:"default"`
	Minimum     *float64              `json:"minimum"`
	Maximum     *float64              `json:"maximum"`
	MaxLength   *int                  `json:"maxLength"`
	MinItems    *int                  `json:"minItems"`
	MaxItems    *int                  `json:"maxItems"`
	Items       *schemaProp           `json:"items"`
	Properties  map[string]schemaProp `json:"properties"`
	Required    []string              `json:"required"`
	// AdditionalProperties is false, or the schema of other keys.
	AdditionalProperties json.RawMessage `json:"additionalProperties"`
	AnyOf                []schemaProp    `json:"anyOf"`
}

// types lists the JSON types a schema takes: its type (a name or a list),
// or those of its anyOf branches.
func (p schemaProp) types() []string {
	switch t := p.Type.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	var out []string
	for _, b := range p.AnyOf {
		out = append(out, b.types()...)
	}
	return out
}

// scalarTypes reports the types of p when every one is a scalar a CSV
// cell can hold.
func scalarTypes(p schemaProp) ([]string, bool) {
	ts := p.types()
	if len(ts) == 0 {
		return nil, false
	}
	for _, t := range ts {
		switch t {
		case "string", "number", "integer", "boolean", "null":
		default:
			return nil, false
		}
	}
	return ts, true
}

// recordColumns describes an array's items as a table when they are flat
// objects: named scalar properties and, perhaps, other scalar keys.
func recordColumns(items *schemaProp, f *SchemaField) bool {
	if items == nil || len(items.types()) != 1 || items.types()[0] != "object" {
		return false
	}
	f.Kinds = map[string][]string{}
	for name, p := range items.Properties {
		ts, ok := scalarTypes(p)
		if !ok {
			return false
		}
		f.Kinds[name] = ts
		f.Columns = append(f.Columns, name)
	}
	// The required columns in the schema's order (the order a person
	// thinks of them: period, revenue, costs), then the others by name.
	slices.SortFunc(f.Columns, func(a, b string) int {
		ia, ib := slices.Index(items.Required, a), slices.Index(items.Required, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	switch ap := items.AdditionalProperties; {
	case len(ap) == 0 || string(ap) == "true":
		f.OpenColumns, f.OpenKinds = true, []string{"string", "number", "boolean"}
	case string(ap) == "false":
	default:
		var p schemaProp
		if json.Unmarshal(ap, &p) != nil {
			return false
		}
		ts, ok := scalarTypes(p)
		if !ok {
			return false
		}
		f.OpenColumns, f.OpenKinds = true, ts
	}
	return len(f.Columns) > 0 || f.OpenColumns
}

// requiredFirst orders names with the required ones first, then by name.
func requiredFirst(required []string) func(a, b string) int {
	return func(a, b string) int {
		ra, rb := slices.Contains(required, a), slices.Contains(required, b)
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
	}
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
	slices.SortFunc(names, requiredFirst(s.Required))
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
		case typ == "array" && p.Items != nil && len(p.Items.Enum) == 0 && slices.Contains([]string{"number", "integer", "string"}, itemType(p.Items)):
			f.Kind, f.Item = "list", itemType(p.Items)
			f.Numeric = f.Item != "string"
			if p.Items.Minimum != nil {
				f.Min = strconv.FormatFloat(*p.Items.Minimum, 'f', -1, 64)
			}
			if p.Items.Maximum != nil && *p.Items.Maximum < 1e15 {
				f.Max = strconv.FormatFloat(*p.Items.Maximum, 'f', -1, 64)
			}
		case typ == "array" && recordColumns(p.Items, &f):
			f.Kind = "records"
		default:
			f.Kind = "json"
		}
		if f.Kind != "records" {
			f.Columns, f.Kinds = nil, nil
		}
		if p.MaxLength != nil {
			f.MaxLength = *p.MaxLength
		}
		if p.MinItems != nil {
			f.MinItems = *p.MinItems
		}
		if p.MaxItems != nil {
			f.MaxItems = *p.MaxItems
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

// itemType is the one type of a list's items ("" when not exactly one).
func itemType(items *schemaProp) string {
	if ts := items.types(); len(ts) == 1 {
		return ts[0]
	}
	return ""
}

// fieldHint is the help under a field: the schema's description, then how
// to type the field's kind and its limits.
func fieldHint(f SchemaField) string {
	h := f.Description
	add := func(s string) {
		if h != "" {
			h += " "
		}
		h += s
	}
	switch f.Kind {
	case "json":
		add("(JSON)")
	case "list":
		if f.Numeric {
			add("Numbers separated by commas, spaces or line breaks (or a JSON array).")
		} else {
			add("One item a line, or separated by commas (or a JSON array).")
		}
	case "records":
		cols := "with a header row"
		if len(f.Columns) > 0 {
			cols = "with a header row naming the columns (" + joinStrings(f.Columns) + ")"
		}
		add("A JSON array of objects, or a table pasted as CSV " + cols + ": one record a row.")
	}
	switch {
	case f.MinItems > 0 && f.MaxItems > 0:
		add(fmt.Sprintf("From %d to %d items.", f.MinItems, f.MaxItems))
	case f.MaxItems > 0:
		add(fmt.Sprintf("At most %d items.", f.MaxItems))
	case f.MinItems > 0:
		add(fmt.Sprintf("At least %d items.", f.MinItems))
	}
	return h
}

// fieldAttrs are a field's limits as HTML attributes, for the browser to
// check before the server does: maxlength, required, and for lists and
// records their item counts (app.js checks list items).
func fieldAttrs(f SchemaField) templ.Attributes {
	a := templ.Attributes{}
	if f.MaxLength > 0 {
		a["maxlength"] = strconv.Itoa(f.MaxLength)
	}
	if f.MaxItems > 0 {
		a["data-max-items"] = strconv.Itoa(f.MaxItems)
	}
	if f.MinItems > 0 {
		a["data-min-items"] = strconv.Itoa(f.MinItems)
	}
	if f.Kind == "list" {
		a["data-list"] = f.Item
	}
	if f.Required {
		a["required"] = true
	}
	return a
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
	switch f.Kind {
	case "json", "records":
		return "6"
	}
	return "4"
}

// describedBy ties a field to its error and help text for screen readers.
func describedBy(f SchemaField, errs FieldErrors) string {
	var ids []string
	if _, ok := errs[f.Name]; ok {
		ids = append(ids, f.Name+"-error")
	}
	if fieldHint(f) != "" {
		ids = append(ids, f.Name+"-hint")
	}
	return strings.Join(ids, " ")
}
