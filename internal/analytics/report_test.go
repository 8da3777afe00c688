package analytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

func TestGenerateReport(t *testing.T) {
	t.Parallel()
	out, err := GenerateReport(ReportInput{
		Title:   "Quarterly\nreview",
		Summary: "Revenue grew.\r\n",
		Sections: []ReportSection{
			{Heading: "Periods", Data: json.RawMessage(`[{"period":"Q1","revenue":1000,"note":"a|b"},{"period":"Q2","revenue":1200.5,"extra":null,"note":"line1\nline2"}]`)},
			{Heading: "Totals", Content: "All *good*.", Data: json.RawMessage(`{"profit":930,"best":"Q1"}`)},
			{Heading: "Raw", Data: json.RawMessage(`{"nested":{"k":[1,2]}}`)},
			{Heading: "Issue #", Content: "Only text."},
		},
	})
	require.NoError(t, err)
	want := "# Quarterly review\n" +
		"\n" +
		"Revenue grew.\n" +
		"\n" +
		"## Periods\n" +
		"\n" +
		"| period | revenue | note | extra |\n" +
		"| --- | ---: | --- | --- |\n" +
		"| Q1 | 1000 | a\\|b |   |\n" +
		"| Q2 | 1200.5 | line1<br>line2 |   |\n" +
		"\n" +
		"## Totals\n" +
		"\n" +
		"All *good*.\n" +
		"\n" +
		"- **profit**: 930\n" +
		"- **best**: Q1\n" +
		"\n" +
		"## Raw\n" +
		"\n" +
		"```json\n" +
		"{\n" +
		"  \"nested\": {\n" +
		"    \"k\": [\n" +
		"      1,\n" +
		"      2\n" +
		"    ]\n" +
		"  }\n" +
		"}\n" +
		"```\n" +
		"\n" +
		"## Issue \\#\n" +
		"\n" +
		"Only text.\n"
	require.Equal(t, want, out.Markdown)
	// Words (tokens with a letter or digit), line by line:
	// Quarterly review (2); Revenue grew. (2); Periods (1);
	// period revenue note extra (4); Q1 1000 a\|b (3); Q2 1200.5 line1 line2 (4);
	// Totals (1); All *good*. (2); **profit**: 930 (2); **best**: Q1 (2);
	// Raw (1); "nested": "k": 1, 2 (4); Issue \# (1); Only text. (2)
	// = 2+2+1+4+3+4+1+2+2+2+1+4+1+2 = 31
	require.Equal(t, 31, out.WordCount)
}

func TestGenerateReportData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want string
	}{
		{"markdown in data is escaped", `[{"a":"**x** _y_ [l](u) <b> ` + "`c`" + ` \\"}]`,
			"| a |\n| --- |\n| \\*\\*x\\*\\* \\_y\\_ \\[l\\](u) \\<b> \\`c\\` \\\\ |"},
		{"CRLF in a cell", `[{"a":"1\r\n2\r3"}]`, "| a |\n| --- |\n| 1<br>2<br>3 |"},
		{"booleans and nulls", `[{"a":true,"b":null},{"a":false,"b":-1}]`, "| a | b |\n| --- | ---: |\n| true |   |\n| false | -1 |"},
		{"duplicate keys keep their first place", `{"a":1,"b":2,"a":3}`, "- **a**: 3\n- **b**: 2"},
		{"empty key", `[{"":1}]`, "|   |\n| ---: |\n| 1 |"},
		{"array with a non-object is fenced", `[{"a":1},2]`, "```json\n[\n  {\n    \"a\": 1\n  },\n  2\n]\n```"},
		{"empty array is fenced", `[]`, "```json\n[]\n```"},
		{"empty object is fenced", `{}`, "```json\n{}\n```"},
		{"scalar is fenced", `"hi"`, "```json\n\"hi\"\n```"},
		{"backticks lengthen the fence", `{"a":["` + "````" + `"]}`, "`````json\n{\n  \"a\": [\n    \"````\"\n  ]\n}\n`````"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := GenerateReport(ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Data: json.RawMessage(tt.data)}}})
			require.NoError(t, err)
			require.Equal(t, "# T\n\n## H\n\n"+tt.want+"\n", out.Markdown)
		})
	}

	t.Run("null data is no data", func(t *testing.T) {
		t.Parallel()
		out, err := GenerateReport(ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Content: "c", Data: json.RawMessage(" null ")}}})
		require.NoError(t, err)
		require.Equal(t, "# T\n\n## H\n\nc\n", out.Markdown)
	})

	t.Run("a tool's output renders", func(t *testing.T) {
		t.Parallel()
		fin, err := AnalyzeFinancials(FinancialInput{Data: fourQuarters()})
		require.NoError(t, err)
		out, err := GenerateReport(ReportInput{Title: "Finance", Sections: []ReportSection{
			{Heading: "Periods", Data: raw(t, fin.Periods)},
			{Heading: "Totals", Data: raw(t, fin.Totals)},
		}})
		require.NoError(t, err)
		require.Contains(t, out.Markdown, "| period | revenue | costs | investment | profit | margin_pct | cost_ratio_pct | revenue_growth_pct | cost_growth_pct |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n| Q1 | 1000 | 750 | 200 | 250 | 25 | 75 |   |   |\n")
		require.Contains(t, out.Markdown, "- **revenue**: 4620\n")
	})
}

func TestGenerateReportInvalid(t *testing.T) {
	t.Parallel()
	ok := ReportSection{Heading: "H", Content: "c"}
	tests := []struct {
		name  string
		in    ReportInput
		code  apperr.Code
		parts []string
	}{
		{"no title", ReportInput{Sections: []ReportSection{ok}}, apperr.Invalid, []string{"title is required"}},
		{"blank heading", ReportInput{Title: "T", Sections: []ReportSection{ok, {Heading: " \n ", Content: "c"}}}, apperr.Invalid, []string{"sections[1].heading is required"}},
		{"long title", ReportInput{Title: strings.Repeat("x", MaxHeadingLength+1)}, apperr.Invalid, []string{"title is 301 bytes long; the limit is 300"}},
		{"empty section", ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Content: "  "}}}, apperr.Invalid, []string{"sections[0] needs content or data"}},
		{"invalid data", ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Data: json.RawMessage(`{"a":`)}}}, apperr.Invalid, []string{"sections[0].data is not valid JSON"}},
		{"too many sections", ReportInput{Title: "T", Sections: make([]ReportSection, MaxSections+1)}, apperr.TooLarge, []string{"101 sections; the limit is 100"}},
		{"too many bytes", ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Content: strings.Repeat("x", MaxReportBytes)}}}, apperr.TooLarge, []string{"the limit is 1048576"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := GenerateReport(tt.in)
			requireCode(t, err, tt.code, tt.parts...)
		})
	}
}

// Nested data is refused before it is rendered: 8 KB of nesting once
// rendered as 64 MB of indented JSON.
func TestReportOutputIsBounded(t *testing.T) {
	t.Parallel()
	report := func(data string) (ReportOutput, error) {
		return GenerateReport(ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Data: json.RawMessage(data)}}})
	}
	_, err := report(strings.Repeat("[", 4000) + strings.Repeat("]", 4000))
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
	require.Contains(t, apperr.MessageOf(err), "sections[0].data nests objects and arrays 4000 levels deep; the limit is 32")

	// Within the depth limit, wide data at the deepest level: each of its
	// 300,000 elements would be on a line indented by 62 spaces (19 MB).
	wide := strings.Repeat("[", MaxDataDepth-1) + strings.Repeat("1,", 300_000) + "1" + strings.Repeat("]", MaxDataDepth-1)
	_, err = report(wide)
	require.Equal(t, apperr.TooLarge, apperr.CodeOf(err))
	require.Contains(t, apperr.MessageOf(err), "sections[0].data would render as")

	// One table cell for every row and every key of any row.
	var rows []string
	for i := range 1000 {
		rows = append(rows, fmt.Sprintf(`{"k%d":1}`, i))
	}
	_, err = report("[" + strings.Join(rows, ",") + "]")
	require.Equal(t, apperr.TooLarge, apperr.CodeOf(err))
	require.Contains(t, apperr.MessageOf(err), "sections[0].data would be a table of 1000 rows × 1000 columns")

	// Many sections, each within bounds, still cannot add up beyond the
	// Markdown limit.
	big := strings.Repeat("[", 10) + strings.Repeat("1,", 20_000) + "1" + strings.Repeat("]", 10)
	var sections []ReportSection
	for range 20 {
		sections = append(sections, ReportSection{Heading: "H", Data: json.RawMessage(big)})
	}
	_, err = GenerateReport(ReportInput{Title: "T", Sections: sections})
	require.Equal(t, apperr.TooLarge, apperr.CodeOf(err))

	out, err := report(strings.Repeat("[", MaxDataDepth) + strings.Repeat("]", MaxDataDepth))
	require.NoError(t, err)
	require.Less(t, len(out.Markdown), 4096)
}

// FuzzReportData renders arbitrary section data: no panic, only Invalid or
// TooLarge errors, the Markdown within its bound, and the precomputed size
// of indented JSON equal to json.Indent's.
func FuzzReportData(f *testing.F) {
	for _, seed := range []string{
		`{"nested":{"k":[1,2]}}`, `[{"a":1},{"b":"x|y"}]`, `{"a":1}`, `[]`, `{}`, `[[],{},[[]],{"a":{}}]`,
		`"text"`, `1.5`, `null`, `[{"a":[1]}]`, "[\"```\"]", `{"a" : [ 1 , 2 ] }`, `[[[[[[[[1]]]]]]]]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		raw := []byte(strings.TrimSpace(data))
		if json.Valid(raw) {
			var buf bytes.Buffer
			require.NoError(t, json.Indent(&buf, raw, "", "  "))
			size, _ := indentedSize(raw)
			require.Equal(t, buf.Len(), size, "indentedSize(%q)", raw)
		}
		out, err := GenerateReport(ReportInput{Title: "T", Sections: []ReportSection{{Heading: "H", Data: json.RawMessage(data)}}})
		if err != nil {
			if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		require.LessOrEqual(t, len(out.Markdown), MaxMarkdownBytes)
	})
}
