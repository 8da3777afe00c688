package analytics

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireMarshals asserts v encodes as JSON (no NaN or ±Inf anywhere).
func requireMarshals(t *testing.T, v any) {
	t.Helper()
	_, err := json.Marshal(v)
	require.NoError(t, err)
}

// requireValid asserts v, as JSON, is valid against schema.
func requireValid(t *testing.T, schema json.RawMessage, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.Empty(t, schemaErrors(t, schema, b))
}

// schemaErrors validates the JSON document doc against schema.
func schemaErrors(t *testing.T, schema json.RawMessage, doc []byte) []string {
	t.Helper()
	var s map[string]any
	require.NoError(t, json.Unmarshal(schema, &s))
	var v any
	require.NoError(t, json.Unmarshal(doc, &v))
	return validate(s, v, "$")
}

// knownKeywords is the subset of JSON Schema 2020-12 the schemas use and
// validate implements; TestSchemas fails on any other keyword, so no
// constraint can be silently ignored here.
func knownKeywords() []string {
	return []string{
		"type", "properties", "required", "additionalProperties", "items", "enum", "const",
		"minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength", "pattern",
		"oneOf", "anyOf", "not", "uniqueItems", "description", "default",
	}
}

// validate is a small JSON Schema validator for the keywords above.
func validate(s map[string]any, v any, path string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if typ, ok := s["type"]; ok {
		var types []string
		switch tt := typ.(type) {
		case string:
			types = []string{tt}
		case []any:
			for _, x := range tt {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
			fail("%v is not of type %v", v, types)
			return errs
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return reflect.DeepEqual(x, v) }) {
		fail("%v is not one of %v", v, e)
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("%v is not %v", v, c)
	}
	if n, ok := v.(float64); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			fail("%v < minimum %v", n, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			fail("%v > maximum %v", n, m)
		}
	}
	if str, ok := v.(string); ok {
		n := float64(len([]rune(str)))
		if m, ok := s["minLength"].(float64); ok && n < m {
			fail("shorter than %v", m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			fail("longer than %v", m)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	}
	if arr, ok := v.([]any); ok {
		if m, ok := s["minItems"].(float64); ok && float64(len(arr)) < m {
			fail("fewer than %v items", m)
		}
		if m, ok := s["maxItems"].(float64); ok && float64(len(arr)) > m {
			fail("more than %v items", m)
		}
		if u, _ := s["uniqueItems"].(bool); u {
			for i := range arr {
				for j := range i {
					if reflect.DeepEqual(arr[i], arr[j]) {
						fail("items %d and %d are equal", j, i)
					}
				}
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, validate(items, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		propSchemas, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					fail("missing required %q", r)
				}
			}
		}
		for k, x := range obj {
			if ps, ok := propSchemas[k].(map[string]any); ok {
				errs = append(errs, validate(ps, x, path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("unknown property %q", k)
				}
			case map[string]any:
				errs = append(errs, validate(ap, x, path+"."+k)...)
			}
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		matched := 0
		for _, sub := range one {
			if len(validate(sub.(map[string]any), v, path)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			fail("matches %d of oneOf, want exactly 1", matched)
		}
	}
	if anyOf, ok := s["anyOf"].([]any); ok && !slices.ContainsFunc(anyOf, func(sub any) bool { return len(validate(sub.(map[string]any), v, path)) == 0 }) {
		fail("matches none of anyOf")
	}
	if not, ok := s["not"].(map[string]any); ok && len(validate(not, v, path)) == 0 {
		fail("matches not")
	}
	return errs
}

func hasType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == math.Trunc(n)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// checkKeywords walks a schema and reports keywords outside knownKeywords
// and defaults that their own schema rejects.
func checkKeywords(t *testing.T, s map[string]any, path string) {
	t.Helper()
	for k, v := range s {
		require.Contains(t, knownKeywords(), k, "unknown keyword at %s", path)
		switch k {
		case "properties":
			for name, sub := range v.(map[string]any) {
				checkKeywords(t, sub.(map[string]any), path+".properties."+name)
			}
		case "items", "not":
			checkKeywords(t, v.(map[string]any), path+"."+k)
		case "additionalProperties":
			if sub, ok := v.(map[string]any); ok {
				checkKeywords(t, sub, path+"."+k)
			}
		case "oneOf", "anyOf":
			for i, sub := range v.([]any) {
				checkKeywords(t, sub.(map[string]any), fmt.Sprintf("%s.%s[%d]", path, k, i))
			}
		case "default":
			require.Empty(t, validate(s, v, path+".default"))
		}
	}
}

func allSchemas() map[string]func() json.RawMessage {
	return map[string]func() json.RawMessage{
		"FinancialInputSchema": FinancialInputSchema, "FinancialOutputSchema": FinancialOutputSchema,
		"ForecastInputSchema": ForecastInputSchema, "ForecastOutputSchema": ForecastOutputSchema,
		"SegmentInputSchema": SegmentInputSchema, "SegmentOutputSchema": SegmentOutputSchema,
		"DataInputSchema": DataInputSchema, "DataOutputSchema": DataOutputSchema,
		"ReportInputSchema": ReportInputSchema, "ReportOutputSchema": ReportOutputSchema,
	}
}

// TestSchemas checks every schema is an object schema made only of known
// keywords, and that each call returns a fresh copy.
func TestSchemas(t *testing.T) {
	t.Parallel()
	for name, fn := range allSchemas() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw := fn()
			var s map[string]any
			require.NoError(t, json.Unmarshal(raw, &s))
			require.Equal(t, "object", s["type"])
			require.Equal(t, false, s["additionalProperties"])
			checkKeywords(t, s, "$")
			raw[0] = 'x' // the next call is not affected
			require.True(t, json.Valid(fn()))
		})
	}
}

// TestInputSchemasMatchValidation checks that inputs the functions accept
// pass the input schemas and that the schemas reject the mistakes they can
// express.
func TestInputSchemasMatchValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema json.RawMessage
		doc    string
		valid  bool
	}{
		{"financial ok", FinancialInputSchema(), `{"data":[{"period":"Q1","revenue":10,"costs":5,"investment":1}],"analysis_type":"costs"}`, true},
		{"financial misspelt argument", FinancialInputSchema(), `{"data":[{"period":"Q1","revenue":10,"costs":5}],"analysis-type":"costs"}`, false},
		{"financial unknown type", FinancialInputSchema(), `{"data":[{"period":"Q1","revenue":10,"costs":5}],"analysis_type":"x"}`, false},
		{"financial negative revenue", FinancialInputSchema(), `{"data":[{"period":"Q1","revenue":-1,"costs":5}]}`, false},
		{"financial no costs", FinancialInputSchema(), `{"data":[{"period":"Q1","revenue":1}]}`, false},
		{"financial empty data", FinancialInputSchema(), `{"data":[]}`, false},
		{"forecast ok", ForecastInputSchema(), `{"series":[1,2,3,4],"horizon":2,"season_length":2,"confidence":0.9}`, true},
		{"forecast season 1", ForecastInputSchema(), `{"series":[1,2,3,4],"season_length":1}`, false},
		{"forecast one point", ForecastInputSchema(), `{"series":[1]}`, false},
		{"forecast confidence", ForecastInputSchema(), `{"series":[1,2],"confidence":0.5}`, false},
		{"forecast horizon", ForecastInputSchema(), `{"series":[1,2],"horizon":1001}`, false},
		{"segment customers", SegmentInputSchema(), `{"customers":[{"customer_id":"a","last_purchase_date":"2024-01-01","frequency":1,"monetary":5}]}`, true},
		{"segment transactions", SegmentInputSchema(), `{"transactions":[{"customer_id":"a","date":"2024-01-01T10:00:00Z","amount":5}],"reference_date":"2024-02-01"}`, true},
		{"segment both", SegmentInputSchema(), `{"customers":[{"customer_id":"a","last_purchase_date":"2024-01-01","frequency":1,"monetary":5}],"transactions":[{"customer_id":"a","date":"2024-01-01","amount":5}]}`, false},
		{"segment neither", SegmentInputSchema(), `{"reference_date":"2024-02-01"}`, false},
		{"segment bad date", SegmentInputSchema(), `{"transactions":[{"customer_id":"a","date":"01/02/2024","amount":5}]}`, false},
		{"data rows", DataInputSchema(), `{"rows":[{"a":1,"b":"x","c":null,"d":true}],"columns":["a"]}`, true},
		{"data csv", DataInputSchema(), `{"csv":"a,b\n1,2\n"}`, true},
		{"data both", DataInputSchema(), `{"csv":"a\n1\n","rows":[{"a":1}]}`, false},
		{"data nested row", DataInputSchema(), `{"rows":[{"a":{"b":1}}]}`, false},
		{"data duplicate columns", DataInputSchema(), `{"csv":"a\n1\n","columns":["a","a"]}`, false},
		{"report ok", ReportInputSchema(), `{"title":"T","sections":[{"heading":"H","data":[{"a":1}]},{"heading":"I","content":"x"}]}`, true},
		{"report empty section", ReportInputSchema(), `{"title":"T","sections":[{"heading":"H"}]}`, false},
		{"report no title", ReportInputSchema(), `{"sections":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := schemaErrors(t, tt.schema, []byte(tt.doc))
			if tt.valid {
				require.Empty(t, errs)
			} else {
				require.NotEmpty(t, errs)
			}
		})
	}
}

// TestOutputsMatchSchemasAndMarshal runs every tool on ordinary and edge
// inputs and checks each output encodes as JSON and is valid against its
// output schema (whose objects forbid unknown properties, so a field added
// to a struct but not to its schema fails here).
func TestOutputsMatchSchemasAndMarshal(t *testing.T) {
	t.Parallel()
	type run struct {
		name   string
		schema json.RawMessage
		call   func() (any, error)
	}
	runs := []run{
		{"financial", FinancialOutputSchema(), func() (any, error) { return AnalyzeFinancials(FinancialInput{Data: fourQuarters()}) }},
		{"financial one period zero revenue", FinancialOutputSchema(), func() (any, error) {
			return AnalyzeFinancials(FinancialInput{Data: []FinancialPeriod{{Period: "x", Costs: 5}}})
		}},
		{"financial growth only", FinancialOutputSchema(), func() (any, error) {
			return AnalyzeFinancials(FinancialInput{Data: fourQuarters(), AnalysisType: AnalysisGrowth})
		}},
		{"forecast", ForecastOutputSchema(), func() (any, error) { return ForecastSales(ForecastInput{Series: []float64{1, 3, 2, 5, 4}}) }},
		{"forecast two points", ForecastOutputSchema(), func() (any, error) { return ForecastSales(ForecastInput{Series: []float64{3, 5}}) }},
		{"forecast constant", ForecastOutputSchema(), func() (any, error) { return ForecastSales(ForecastInput{Series: []float64{4, 4, 4}}) }},
		{"forecast seasonal", ForecastOutputSchema(), func() (any, error) {
			return ForecastSales(ForecastInput{Series: []float64{1, 2, 4, 3}, SeasonLength: 2, Horizon: 5, Confidence: 0.8})
		}},
		{"segment", SegmentOutputSchema(), func() (any, error) { return SegmentCustomers(SegmentInput{Customers: fiveCustomers()}) }},
		{"segment transactions", SegmentOutputSchema(), func() (any, error) {
			return SegmentCustomers(SegmentInput{Transactions: []Transaction{{CustomerID: "a", Date: "2024-01-01", Amount: 0}}})
		}},
		{"data csv", DataOutputSchema(), func() (any, error) {
			return AnalyzeData(DataInput{CSV: "x,y,name,empty,same\n2,1,a,,7\n4,2,b,,7\n4,3,a,,7\n4,,c,,7\n5,5,,,7\n5,6,a,,7\n7,7,b,,7\n9,8,c,,7\n"})
		}},
		{"data rows", DataOutputSchema(), func() (any, error) {
			return AnalyzeData(DataInput{Rows: []map[string]any{{"a": 1.0, "b": true}, {"a": 2.0, "b": "x"}}})
		}},
		{"data text only", DataOutputSchema(), func() (any, error) { return AnalyzeData(DataInput{CSV: "a\nx\n"}) }},
		{"report", ReportOutputSchema(), func() (any, error) {
			return GenerateReport(ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Data: raw(t, []map[string]any{{"a": 1}})}}})
		}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			out, err := r.call()
			require.NoError(t, err)
			requireMarshals(t, out)
			requireValid(t, r.schema, out)
		})
	}
}
