package tools

import (
	"encoding/json"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"
)

// compile compiles a schema given as JSON, as NewRegistry does.
func compile(t *testing.T, raw string) *inputSchema {
	t.Helper()
	var s jsonschema.Schema
	require.NoError(t, json.Unmarshal([]byte(raw), &s))
	in, err := compileInput(&s, json.RawMessage(raw))
	require.NoError(t, err)
	return in
}

// variants returns doc with each number in it replaced, one at a time, by
// each of replacements (and doc itself).
func variants(t *testing.T, doc string, replacements []any) []any {
	t.Helper()
	var count func(v any) int
	count = func(v any) int {
		switch v := v.(type) {
		case float64:
			return 1
		case map[string]any:
			n := 0
			for _, e := range v {
				n += count(e)
			}
			return n
		case []any:
			n := 0
			for _, e := range v {
				n += count(e)
			}
			return n
		}
		return 0
	}
	// replace returns v with its i-th number (in a fixed walk) set to r.
	var replace func(v any, i *int, r any) any
	replace = func(v any, i *int, r any) any {
		switch v := v.(type) {
		case float64:
			*i--
			if *i == -1 {
				return r
			}
			return v
		case map[string]any:
			out := map[string]any{}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sortStrings(keys)
			for _, k := range keys {
				out[k] = replace(v[k], i, r)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for j, e := range v {
				out[j] = replace(e, i, r)
			}
			return out
		}
		return v
	}
	var base any
	require.NoError(t, json.Unmarshal([]byte(doc), &base))
	out := []any{base}
	for n := range count(base) {
		for _, r := range replacements {
			i := n
			out = append(out, replace(base, &i, r))
		}
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

var boundaryNumbers = []any{-1e101, -1e100, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 32768.0, 32769.0, 1e100, 1e101, "x", nil}

// requireSameAsLibrary checks that in judges every instance exactly as the
// full schema does, with the library's own message.
func requireSameAsLibrary(t *testing.T, in *inputSchema, instances []any) {
	t.Helper()
	for _, x := range instances {
		want := in.full.Validate(x)
		got := in.Validate(x)
		if want == nil {
			require.NoError(t, got, "instance %v", x)
			continue
		}
		require.Error(t, got, "instance %v: the full schema refuses it: %v", x, want)
		require.Equal(t, want.Error(), got.Error(), "instance %v", x)
	}
}

// Every built-in tool's arguments are judged exactly as by the full schema,
// with the bounds of every number crossed in turn.
func TestInputBoundsAgreeWithLibrary(t *testing.T) {
	t.Parallel()
	defs, err := Builtins(nil)
	require.NoError(t, err)
	// Valid arguments (those of FuzzToolArguments, which is in the external
	// test package), so that every refusal below is the crossed bound's.
	seeds := map[string][]string{
		"financial_analyzer": {`{"analysis_type":"growth","data":[{"period":"Q1","revenue":1000,"costs":700,"investment":100},{"period":"Q2","revenue":1200,"costs":800}]}`},
		"sales_forecaster":   {`{"series":[10,12,14,13,15,17,16,18],"horizon":3,"season_length":4,"confidence":0.9}`},
		"customer_segmenter": {
			`{"customers":[{"customer_id":"c1","last_purchase_date":"2026-01-01","frequency":3,"monetary":120.5},{"customer_id":"c2","last_purchase_date":"2025-06-30","frequency":1,"monetary":10}],"reference_date":"2026-02-01"}`,
			`{"transactions":[{"customer_id":"a","date":"2026-01-01","amount":5},{"customer_id":"a","date":"2026-01-03","amount":7}]}`,
		},
		"data_analyzer":    {`{"rows":[{"a":1,"b":"x"},{"a":2.5,"b":null}],"columns":["a"]}`},
		"report_generator": {`{"title":"Q review","summary":"ok","sections":[{"heading":"Table","data":[{"a":1,"b":"x|y"}]},{"heading":"Raw","data":{"k":[1,{"n":2}]}}]}`},
		"llm_processor":    {`{"prompt":"Summarise the quarter.","system":"Be brief.","max_tokens":100,"temperature":0.5}`},
	}
	split := 0
	for _, d := range defs {
		seed, ok := seeds[d.Name]
		require.True(t, ok, "no seed for %s", d.Name)
		t.Run(d.Name, func(t *testing.T) {
			in := compile(t, string(d.InputSchema))
			if in.rest != nil {
				split++
			}
			for _, doc := range seed {
				require.NoError(t, in.full.Validate(variants(t, doc, nil)[0]), "seed %s", doc)
				requireSameAsLibrary(t, in, variants(t, doc, boundaryNumbers))
			}
		})
	}
	require.NotZero(t, split, "no tool's bounds were split off: the fast path is never taken")
}

// Bounds that do not apply unconditionally stay with the library; those
// that do are checked at every depth.
func TestInputBoundsOnlyWhereUnconditional(t *testing.T) {
	t.Parallel()
	in := compile(t, `{"type":"object","properties":{
		"a":{"type":"number","minimum":0,"exclusiveMaximum":10},
		"b":{"type":"array","items":{"type":"object","properties":{"c":{"type":"integer","exclusiveMinimum":1,"maximum":5}}}},
		"d":{"anyOf":[{"type":"number","minimum":100},{"type":"string"}]},
		"e":{"not":{"type":"number","maximum":0}},
		"f":{"type":"array","prefixItems":[{"type":"number","minimum":7}],"items":{"type":"number","maximum":3}},
		"g":{"type":"object","additionalProperties":{"type":"number","minimum":1}}
	}}`)
	require.NotNil(t, in.rest)
	require.NotNil(t, in.bounds.props["a"])
	require.NotNil(t, in.bounds.props["b"].items.props["c"])
	for _, k := range []string{"d", "e", "f", "g"} {
		require.Nil(t, in.bounds.props[k], "%s must stay with the library", k)
	}
	docs := []string{
		`{"a":5,"b":[{"c":3},{"c":5}],"d":150,"e":1,"f":[8,1],"g":{"x":2}}`,
		`{"a":10}`, `{"a":-1}`, `{"a":0}`, `{"a":"x"}`,
		`{"b":[{"c":1}]}`, `{"b":[{"c":6}]}`, `{"b":[{"c":2},{"c":2.5}]}`,
		`{"d":50}`, `{"d":"s"}`, `{"e":0}`, `{"e":-3}`,
		`{"f":[6]}`, `{"f":[7,4]}`, `{"f":[7,3]}`, `{"g":{"x":0}}`,
	}
	instances := []any{map[string]any{"a": -1}, map[string]any{"a": json.Number("11")}} // not decoded by encoding/json: the library judges
	for _, d := range docs {
		instances = append(instances, variants(t, d, boundaryNumbers)...)
	}
	requireSameAsLibrary(t, in, instances)
	require.ErrorContains(t, in.Validate(map[string]any{"b": []any{map[string]any{"c": 6.0}}}), "maximum")
}

func BenchmarkInputValidate(b *testing.B) {
	defs, err := Builtins(nil)
	require.NoError(b, err)
	for _, d := range defs {
		if d.Name != "sales_forecaster" {
			continue
		}
		var s jsonschema.Schema
		require.NoError(b, json.Unmarshal(d.InputSchema, &s))
		in, err := compileInput(&s, d.InputSchema)
		require.NoError(b, err)
		var x any
		require.NoError(b, json.Unmarshal([]byte(`{"series":[12,15,14,18,21],"horizon":2}`), &x))
		for name, v := range map[string]interface{ Validate(any) error }{"full": in.full, "split": in} {
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := v.Validate(x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
