package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Bounds on how much of a JSON value a page shows; the raw JSON is always
// one click away.
const (
	dataMaxDepth = 4
	dataMaxRows  = 100
	dataMaxCols  = 12
)

// decodeData parses JSON for DataView; numbers keep their text.
func decodeData(raw []byte) (any, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tableColumns returns the columns of a list of objects shown as a table,
// or false when the list is not one.
func tableColumns(list []any) ([]string, bool) {
	if len(list) == 0 {
		return nil, false
	}
	var cols []string
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		for k := range m {
			if !slices.Contains(cols, k) {
				cols = append(cols, k)
			}
		}
	}
	slices.Sort(cols)
	if len(cols) > dataMaxCols {
		cols = cols[:dataMaxCols]
	}
	return cols, true
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		return x
	case json.Number:
		if f, err := x.Float64(); err == nil && f != float64(int64(f)) {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return x.String()
	case bool:
		if x {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprint(v)
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func headRows(list []any) []any {
	if len(list) > dataMaxRows {
		return list[:dataMaxRows]
	}
	return list
}

func prettyJSON(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil || len(b) > 1<<20 {
		return string(raw)
	}
	return string(b)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
