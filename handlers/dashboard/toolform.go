package dashboard

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bizmcp/bizmcp/views"
)

// The conversions from a run form's text fields to the JSON a tool takes,
// for the kinds a person types differently from JSON: a list of numbers or
// strings, and a table of records pasted as CSV. Each answers a message
// naming the field and the bad item, for the page to show under the field;
// the tool's schema still validates the result (Execute).

// textProblem says what makes raw unusable as text, or "".
func textProblem(field, raw string) string {
	switch {
	case !utf8.ValidString(raw):
		return field + " is not valid UTF-8 text: paste it again from its source"
	case strings.ContainsRune(raw, 0):
		return field + " contains a NUL character, which no tool accepts"
	}
	return ""
}

// quoted shows a typed item in a message, bounded.
func quoted(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// listArgument reads a list field: a JSON array as is, else items
// separated by commas or line breaks (and, for numbers, spaces).
func listArgument(f views.SchemaField, raw string) (any, string) {
	if strings.HasPrefix(raw, "[") {
		if !json.Valid([]byte(raw)) {
			return nil, f.Name + " looks like a JSON array but is not valid JSON: check the brackets and commas, or type the items without brackets"
		}
		return json.RawMessage(raw), ""
	}
	sep := func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ';' }
	if f.Item != "string" {
		sep = func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }
	}
	var items []string
	for _, it := range strings.FieldsFunc(raw, sep) {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
		if f.MaxItems > 0 && len(items) > f.MaxItems {
			return nil, fmt.Sprintf("%s takes at most %d items", f.Name, f.MaxItems)
		}
	}
	if len(items) == 0 {
		return nil, f.Name + " has no items"
	}
	if f.Item == "string" {
		return items, ""
	}
	out := make([]any, len(items))
	for i, it := range items {
		v, ok := numberCell(it, f.Item == "integer")
		if !ok {
			what := "a number"
			if f.Item == "integer" {
				what = "a whole number"
			}
			return nil, fmt.Sprintf("%s: item %d, %s, is not %s", f.Name, i+1, quoted(it), what)
		}
		out[i] = v
	}
	return out, ""
}

// numberCell parses a number typed by a person: finite, and whole when
// whole is asked.
func numberCell(s string, whole bool) (any, bool) {
	if whole {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) || strings.ContainsAny(s, "xXpP_") {
		return nil, false
	}
	return x, true
}

// recordsArgument reads a records field: JSON as is, else CSV with a header
// row, one record a row. Cells become numbers where the column takes
// numbers (and not strings), true/false where it takes booleans, else
// strings; an empty cell leaves the key out.
func recordsArgument(f views.SchemaField, raw string) (any, string) {
	if strings.HasPrefix(raw, "[") || strings.HasPrefix(raw, "{") {
		if !json.Valid([]byte(raw)) {
			return nil, f.Name + " looks like JSON but is not valid JSON: check quotes, commas and brackets, or paste the table as CSV with a header row"
		}
		return json.RawMessage(raw), ""
	}
	r := csv.NewReader(strings.NewReader(raw))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, csvProblem(f.Name, err, nil, 0)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		switch {
		case header[i] == "":
			return nil, fmt.Sprintf("%s: column %d of the header row has no name", f.Name, i+1)
		case slices.Contains(header[:i], header[i]):
			return nil, fmt.Sprintf("%s: the header row names the column %s twice", f.Name, quoted(header[i]))
		case !f.OpenColumns && !slices.Contains(f.Columns, header[i]):
			return nil, fmt.Sprintf("%s: the header row's column %s is not one of %s", f.Name, quoted(header[i]), strings.Join(f.Columns, ", "))
		}
	}
	var out []map[string]any
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvProblem(f.Name, err, rec, len(header))
		}
		if f.MaxItems > 0 && len(out) >= f.MaxItems {
			return nil, fmt.Sprintf("%s takes at most %d records", f.Name, f.MaxItems)
		}
		line, _ := r.FieldPos(0)
		row := make(map[string]any, len(rec))
		for i, cell := range rec {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				continue
			}
			kinds := f.OpenKinds
			if k, ok := f.Kinds[header[i]]; ok {
				kinds = k
			}
			v, msg := cellValue(cell, kinds)
			if msg != "" {
				return nil, fmt.Sprintf("%s: line %d, column %s: %s %s", f.Name, line, header[i], quoted(cell), msg)
			}
			row[header[i]] = v
		}
		out = append(out, row)
	}
	if len(out) == 0 {
		return nil, f.Name + ": the CSV has a header row but no records under it"
	}
	return out, ""
}

// cellValue converts one CSV cell to a type its column takes.
func cellValue(cell string, kinds []string) (any, string) {
	takes := func(k string) bool { return slices.Contains(kinds, k) }
	if takes("integer") && !takes("number") {
		if v, ok := numberCell(cell, true); ok {
			return v, ""
		}
	}
	if takes("number") {
		if v, ok := numberCell(cell, false); ok {
			return v, ""
		}
	}
	if takes("boolean") {
		switch strings.ToLower(cell) {
		case "true":
			return true, ""
		case "false":
			return false, ""
		}
	}
	switch {
	case takes("string"):
		return cell, ""
	case takes("integer") && !takes("number"):
		return nil, "is not a whole number"
	case takes("number"):
		return nil, "is not a number"
	case takes("boolean"):
		return nil, "is not true or false"
	}
	return nil, "is not a value this column takes"
}

// csvProblem explains a CSV that could not be read: a ragged row (its cell
// count against the header's), or the parser's own complaint with its line.
func csvProblem(field string, err error, rec []string, want int) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Sprintf("%s: line %d has %d cells but the header row has %d: every row needs one cell per column (leave a cell empty between commas)", field, pe.StartLine, len(rec), want)
		}
		return fmt.Sprintf("%s: the CSV cannot be read at line %d: %v", field, pe.StartLine, pe.Err)
	}
	if errors.Is(err, io.EOF) {
		return field + " is empty"
	}
	return field + ": the CSV cannot be read"
}
