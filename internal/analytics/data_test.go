package analytics

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// tableCSV is the worked example of TestAnalyzeData.
const tableCSV = "x,y,name,empty,same\n" +
	"2,1,a,,7\n" +
	"4,2,b,,7\n" +
	"4,3,a,,7\n" +
	"4,,c,,7\n" +
	"5,5,,,7\n" +
	"5,6,a,,7\n" +
	"7,7,b,,7\n" +
	"9,8,c,,7\n"

// TestAnalyzeData works the example table by hand.
//
// x = 2,4,4,4,5,5,7,9 (n 8): sum 40, mean 5; Σ(x−5)² = 9+1+1+1+0+0+4+16 = 32,
// stdev √(32/7) = 2.1380899. Type 7 quantiles, h = 7p: q1 h = 1.75 → x₁ +
// 0.75(x₂−x₁) = 4; median h = 3.5 → 4 + 0.5(5−4) = 4.5; q3 h = 5.25 → 5 +
// 0.25(7−5) = 5.5. IQR 1.5; fences 4 − 2.25 = 1.75 and 5.5 + 2.25 = 7.75: 9
// (row 7) is the one outlier.
//
// y = 1,2,3,5,6,7,8 (row 3 missing, n 7): sum 32, mean 32/7 = 4.5714286;
// Σy² − (Σy)²/n = 188 − 1024/7 = 41.7142857, stdev √(41.7142857/6) =
// 2.6367368. h = 6p: q1 h = 1.5 → 2 + 0.5 = 2.5; median x₃ = 5; q3 h = 4.5
// → 6 + 0.5 = 6.5; IQR 4, fences −3.5 and 12.5: no outlier.
//
// r(x, y) over the 7 rows with both (row 3 dropped): x = 2,4,4,5,5,7,9
// (Σ 36), y as above (Σ 32), Σxy = 2+8+12+25+30+49+72 = 198;
// Sxy = 198 − 36·32/7 = 33.4285714, Sxx = 216 − 36²/7 = 30.8571429,
// Syy = 41.7142857; r = 33.4285714 / √(30.8571429 · 41.7142857) = 0.9317460.
// "same" is constant: stdev 0, correlations null (its diagonal too).
func TestAnalyzeData(t *testing.T) {
	t.Parallel()
	out, err := AnalyzeData(DataInput{CSV: tableCSV})
	require.NoError(t, err)
	require.Equal(t, "csv", out.Source)
	require.Equal(t, 8, out.RowCount)
	require.Len(t, out.Columns, 5)
	const d = 1e-6

	x := out.Columns[0]
	require.Equal(t, "x", x.Name)
	require.Equal(t, KindNumeric, x.Kind)
	require.Equal(t, 8, x.Count)
	require.Equal(t, 0, x.Missing)
	require.Nil(t, x.Text)
	xs := x.Numeric
	require.Equal(t, 40.0, xs.Sum)
	require.Equal(t, 5.0, xs.Mean)
	requireNear(t, 2.1380899, xs.StdDev, d, "stdev x")
	require.Equal(t, []float64{2, 4, 4.5, 5.5, 9}, []float64{xs.Min, xs.Q1, xs.Median, xs.Q3, xs.Max})
	require.Equal(t, 1.5, xs.IQR)
	require.Equal(t, Outliers{LowerFence: 1.75, UpperFence: 7.75, Count: 1, Values: []Outlier{{Row: 7, Value: 9}}}, xs.Outliers)

	y := out.Columns[1]
	require.Equal(t, KindNumeric, y.Kind)
	require.Equal(t, 7, y.Count)
	require.Equal(t, 1, y.Missing)
	ys := y.Numeric
	require.Equal(t, 32.0, ys.Sum)
	require.InDelta(t, 4.5714286, ys.Mean, d)
	requireNear(t, 2.6367368, ys.StdDev, d, "stdev y")
	require.Equal(t, []float64{1, 2.5, 5, 6.5, 8}, []float64{ys.Min, ys.Q1, ys.Median, ys.Q3, ys.Max})
	require.Equal(t, Outliers{LowerFence: -3.5, UpperFence: 12.5, Values: []Outlier{}}, ys.Outliers)

	name := out.Columns[2]
	require.Equal(t, ColumnStats{Name: "name", Kind: KindText, Count: 7, Missing: 1, Text: &TextStats{
		Distinct:  3,
		TopValues: []ValueCount{{Value: "a", Count: 3}, {Value: "b", Count: 2}, {Value: "c", Count: 2}},
	}}, name)

	require.Equal(t, ColumnStats{Name: "empty", Kind: KindEmpty, Missing: 8}, out.Columns[3])

	same := out.Columns[4].Numeric
	require.Equal(t, 7.0, same.Mean)
	require.Equal(t, f(0), same.StdDev)
	require.Equal(t, 0.0, same.IQR)
	require.Zero(t, same.Outliers.Count)

	c := out.Correlations
	require.Equal(t, []string{"x", "y", "same"}, c.Columns)
	require.Equal(t, [][]int{{8, 7, 8}, {7, 7, 7}, {8, 7, 8}}, c.Pairs)
	require.Equal(t, f(1), c.Matrix[0][0])
	require.Equal(t, f(1), c.Matrix[1][1])
	requireNear(t, 0.9317460, c.Matrix[0][1], d, "r(x,y)")
	require.Equal(t, c.Matrix[0][1], c.Matrix[1][0])
	for i := range 3 {
		require.Nil(t, c.Matrix[2][i], "constant column")
		require.Nil(t, c.Matrix[i][2], "constant column")
	}
	require.Equal(t, []string{
		`Column "empty" has no values.`,
		"A correlation is null where fewer than 2 rows have both numbers or a column is constant over those rows.",
	}, out.Notes)
}

// TestAnalyzeDataRowsMatchCSV checks that the same table as JSON rows gives
// the same statistics, with columns in name order.
func TestAnalyzeDataRowsMatchCSV(t *testing.T) {
	t.Parallel()
	xs := []float64{2, 4, 4, 4, 5, 5, 7, 9}
	ys := []any{1.0, 2.0, 3.0, nil, 5.0, 6.0, 7.0, 8.0}
	names := []any{"a", "b", "a", "c", "", "a", "b", "c"}
	rows := make([]map[string]any, len(xs))
	for i := range xs {
		rows[i] = map[string]any{"x": xs[i], "y": ys[i], "name": names[i], "same": "7"}
		if i == 3 {
			delete(rows[i], "y") // a missing key is a missing value
		}
	}
	fromRows, err := AnalyzeData(DataInput{Rows: rows})
	require.NoError(t, err)
	fromCSV, err := AnalyzeData(DataInput{CSV: tableCSV, Columns: []string{"name", "same", "x", "y"}})
	require.NoError(t, err)
	require.Equal(t, "rows", fromRows.Source)
	fromRows.Source = "csv"
	require.Equal(t, fromCSV, fromRows)
}

func TestAnalyzeDataClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		csv     string
		kind    string
		count   int
		missing int
	}{
		{"NaN and Inf strings are text", "v\n1\nNaN\n", KindText, 2, 0},
		{"Inf is text", "v\nInf\n-Infinity\n", KindText, 2, 0},
		{"hex is text", "v\n0x1F\n", KindText, 1, 0},
		{"thousands separators are text", "v\n\"1,234\"\n", KindText, 1, 0},
		{"underscores are text", "v\n1_000\n", KindText, 1, 0},
		{"overflowing number is text", "v\n1e400\n", KindText, 1, 0},
		{"beyond MaxAbsValue is text", "v\n2e100\n", KindText, 1, 0},
		{"spaces are trimmed, blanks are missing", "v\n 1 \n  \n+2.5e3\n.5\n-3.\n", KindNumeric, 4, 1},
		{"underflow is 0", "v\n1e-400\n", KindNumeric, 1, 0},
		{"lone sign or dot is text", "v\n-\n.\n", KindText, 2, 0},
		{"exponent without digits is text", "v\n1e\n", KindText, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := AnalyzeData(DataInput{CSV: tt.csv})
			require.NoError(t, err)
			col := out.Columns[0]
			require.Equal(t, tt.kind, col.Kind)
			require.Equal(t, tt.count, col.Count)
			require.Equal(t, tt.missing, col.Missing)
			requireMarshals(t, out)
		})
	}

	t.Run("mixed column explains itself", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeData(DataInput{CSV: "price\n10\n12\nn/a\n11\n"})
		require.NoError(t, err)
		require.Equal(t, KindText, out.Columns[0].Kind)
		require.Equal(t, []string{`Column "price" is summarised as text: 1 of 4 values are not numbers (the first, in row 2, is "n/a"). Clean or remove them for numeric statistics.`}, out.Notes)
	})

	t.Run("JSON values: bools are text, numbers print shortest", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeData(DataInput{Rows: []map[string]any{{"v": true}, {"v": 1.5}, {"v": 1.5}, {"v": int64(3)}, {"v": nil}}})
		require.NoError(t, err)
		require.Equal(t, &TextStats{Distinct: 3, TopValues: []ValueCount{{"1.5", 2}, {"3", 1}, {"true", 1}}}, out.Columns[0].Text)
		require.Equal(t, 1, out.Columns[0].Missing)
	})

	t.Run("one value: stdev null", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeData(DataInput{CSV: "v,w\n3,1\n"})
		require.NoError(t, err)
		s := out.Columns[0].Numeric
		require.Nil(t, s.StdDev)
		require.Equal(t, []float64{3, 3, 3, 3, 3}, []float64{s.Min, s.Q1, s.Median, s.Q3, s.Max})
		require.Nil(t, out.Correlations.Matrix[0][1], "one pair")
		require.Nil(t, out.Correlations.Matrix[0][0], "one value")
	})

	t.Run("constant non-integer column: stdev exactly 0", func(t *testing.T) {
		t.Parallel()
		// 0.1+0.1+0.1 = 0.30000000000000004, /3 ≠ 0.1: the mean must come
		// from min = max instead.
		out, err := AnalyzeData(DataInput{CSV: "v\n0.1\n0.1\n0.1\n"})
		require.NoError(t, err)
		require.Equal(t, 0.1, out.Columns[0].Numeric.Mean)
		require.Equal(t, f(0), out.Columns[0].Numeric.StdDev)
	})

	t.Run("perfect negative correlation is -1", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeData(DataInput{CSV: "a,b\n1,30\n2,20\n3,10\n"})
		require.NoError(t, err)
		requireNear(t, -1, out.Correlations.Matrix[0][1], 1e-12, "r")
	})

	t.Run("outliers listed up to the limit, all counted", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("v\n")
		for range 1000 {
			b.WriteString("1\n")
		}
		for range 150 {
			b.WriteString("1000\n")
		}
		out, err := AnalyzeData(DataInput{CSV: b.String()})
		require.NoError(t, err)
		o := out.Columns[0].Numeric.Outliers
		require.Equal(t, 150, o.Count)
		require.Len(t, o.Values, MaxOutliersListed)
		require.Equal(t, Outlier{Row: 1000, Value: 1000}, o.Values[0])
	})

	t.Run("extremes stay finite", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("a,b\n")
		for i := range 1000 {
			fmt.Fprintf(&b, "%g,%g\n", MaxAbsValue*float64(1-2*(i%2)), -MaxAbsValue*float64(i%3)/2)
		}
		out, err := AnalyzeData(DataInput{CSV: b.String()})
		require.NoError(t, err)
		requireMarshals(t, out)
		require.NotNil(t, out.Correlations.Matrix[0][1])
	})
}

func TestAnalyzeDataCSVShape(t *testing.T) {
	t.Parallel()

	t.Run("BOM, blank header, quoted fields", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeData(DataInput{CSV: "\uFEFFid, ,\"note\"\r\n1,2,\"a, \"\"quoted\"\"\nline\"\r\n"})
		require.NoError(t, err)
		require.Equal(t, "id", out.Columns[0].Name)
		require.Equal(t, "column_2", out.Columns[1].Name)
		require.Equal(t, "a, \"quoted\"\nline", out.Columns[2].Text.TopValues[0].Value)
	})

	t.Run("columns select and order", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeData(DataInput{CSV: tableCSV, Columns: []string{"y", "x"}})
		require.NoError(t, err)
		require.Equal(t, "y", out.Columns[0].Name)
		require.Equal(t, "x", out.Columns[1].Name)
		require.Equal(t, []string{"y", "x"}, out.Correlations.Columns)
	})
}

func TestAnalyzeDataInvalid(t *testing.T) {
	t.Parallel()
	wide := wideHeader(MaxColumns + 1)
	tests := []struct {
		name  string
		in    DataInput
		code  apperr.Code
		parts []string
	}{
		{"nothing", DataInput{}, apperr.Invalid, []string{"rows or csv is required"}},
		{"both", DataInput{CSV: "a\n1\n", Rows: []map[string]any{{"a": 1.0}}}, apperr.Invalid, []string{"either rows or csv, not both"}},
		{"header only", DataInput{CSV: "a,b\n"}, apperr.Invalid, []string{"csv has a header but no data rows"}},
		{"blank lines only", DataInput{CSV: "\n\n"}, apperr.Invalid, []string{"csv has no header row"}},
		{"ragged rows", DataInput{CSV: "a,b\n1,2\n3\n"}, apperr.Invalid, []string{"csv is malformed", "line 3", "wrong number of fields"}},
		{"bad quotes", DataInput{CSV: "a\n\"x\"y\n"}, apperr.Invalid, []string{"csv is malformed"}},
		{"duplicate header", DataInput{CSV: "a,b,a\n1,2,3\n"}, apperr.Invalid, []string{`csv header names column "a" twice (columns 1 and 3)`}},
		{"unknown column", DataInput{CSV: "a,b\n1,2\n", Columns: []string{"b", "c"}}, apperr.Invalid, []string{`columns[1] "c" is not a column of the data; the columns are: a, b`}},
		{"column twice", DataInput{CSV: "a,b\n1,2\n", Columns: []string{"a", "a"}}, apperr.Invalid, []string{`columns[1] "a" is listed twice`}},
		{"NaN in rows", DataInput{Rows: []map[string]any{{"a": 1.0}, {"a": math.NaN()}}}, apperr.Invalid, []string{"rows[1].a must be a finite number"}},
		{"Inf in rows", DataInput{Rows: []map[string]any{{"a": math.Inf(1)}}}, apperr.Invalid, []string{"rows[0].a must be a finite number"}},
		{"nested value", DataInput{Rows: []map[string]any{{"a": map[string]any{"b": 1.0}}}}, apperr.Invalid, []string{"rows[0].a is an object or array"}},
		{"array value", DataInput{Rows: []map[string]any{{"a": []any{1.0}}}}, apperr.Invalid, []string{"rows[0].a is an object or array"}},
		{"unsupported Go type", DataInput{Rows: []map[string]any{{"a": struct{}{}}}}, apperr.Invalid, []string{"rows[0].a has unsupported type struct {}"}},
		{"empty key", DataInput{Rows: []map[string]any{{"": 1.0}}}, apperr.Invalid, []string{"rows[0] has a key that is empty"}},
		{"rows without keys", DataInput{Rows: []map[string]any{{}, nil}}, apperr.Invalid, []string{"rows have no keys"}},
		{"csv too large", DataInput{CSV: strings.Repeat("a", MaxCSVBytes+1)}, apperr.TooLarge, []string{"the limit is 5242880"}},
		{"too many rows", DataInput{Rows: make([]map[string]any, MaxRows+1)}, apperr.TooLarge, []string{"the limit is 100000"}},
		{"too many csv rows", DataInput{CSV: "a\n" + strings.Repeat("1\n", MaxRows+1)}, apperr.TooLarge, []string{"more than 100000 data rows"}},
		{"too many csv columns", DataInput{CSV: wide + strings.Repeat("1,", MaxColumns) + "1\n"}, apperr.TooLarge, []string{"101 columns; the limit is 100"}},
		{"too many row keys", DataInput{Rows: []map[string]any{manyKeys(MaxColumns + 1)}}, apperr.TooLarge, []string{"more than 100 distinct columns"}},
		{"too many cells", DataInput{CSV: wideHeader(50) + strings.Repeat(strings.Repeat("1,", 49)+"1\n", 40_001)}, apperr.TooLarge,
			[]string{"40001 rows × 50 columns = 2000050 cells; the limit is 2000000 (select fewer columns)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := AnalyzeData(tt.in)
			requireCode(t, err, tt.code, tt.parts...)
		})
	}
}

func manyKeys(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("k%03d", i)] = 1.0
	}
	return m
}

// wideHeader is a CSV header of n distinct column names.
func wideHeader(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	return strings.Join(names, ",") + "\n"
}
