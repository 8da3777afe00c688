package analytics

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Bounds of AnalyzeData.
const (
	// MaxRows bounds the number of data rows (CSV: not counting the header).
	MaxRows = 100_000
	// MaxColumns bounds the number of columns in the table.
	MaxColumns = 100
	// MaxCells bounds rows × analysed columns; it keeps the pairwise
	// correlations (rows × columns² / 2 operations) well under a second.
	MaxCells = 2_000_000
	// MaxCSVBytes bounds len(DataInput.CSV).
	MaxCSVBytes = 5 << 20
	// MaxTopValues is how many most frequent values a text column reports.
	MaxTopValues = 10
	// MaxOutliersListed is how many outliers a numeric column lists (all are
	// counted).
	MaxOutliersListed = 100
)

// Column kinds reported in ColumnStats.Kind.
const (
	KindNumeric = "numeric"
	KindText    = "text"
	KindEmpty   = "empty"
)

// DataInput is the data_analyzer tool's arguments. Give exactly one of Rows
// or CSV.
type DataInput struct {
	// Rows is the table as JSON objects, one per row: numbers, strings,
	// booleans and nulls (nested objects and arrays are rejected). A missing
	// key is a missing value. Columns are reported in name order, since a
	// JSON object has no reliable key order. At most MaxRows rows.
	Rows []map[string]any `json:"rows,omitempty"`
	// CSV is the table as comma-separated text (RFC 4180 quoting) whose
	// first record is the header; every record has the header's number of
	// fields. Blank header names become column_N (1-based). At most
	// MaxCSVBytes bytes and MaxRows data rows.
	CSV string `json:"csv,omitempty"`
	// Columns, when given, restricts the analysis to these columns, reported
	// in this order; each must exist in the data.
	Columns []string `json:"columns,omitempty"`
}

// DataOutput is the data_analyzer tool's result. Statistics are not rounded.
// Row indexes are 0-based over the data rows (in CSV the header is not a
// row, so row r is on line r + 2 when no field spans lines).
type DataOutput struct {
	// Source is "rows" or "csv".
	Source string `json:"source"`
	// RowCount is the number of data rows.
	RowCount int `json:"row_count"`
	// Columns holds one summary per analysed column.
	Columns []ColumnStats `json:"columns"`
	// Correlations relates the numeric columns.
	Correlations Correlations `json:"correlations"`
	// Notes explain how columns were classified and why figures are null.
	Notes []string `json:"notes"`
}

// ColumnStats summarises one column.
//
// A value is missing when it is null, absent, or a string that is empty
// after trimming spaces. A value is a number when it is a JSON number or a
// string in plain decimal notation ("12", "-3.5", "1e6"; not "1,234", "0x1F",
// "NaN" or "Inf") within ±MaxAbsValue. A column is numeric when it has at
// least one number and every non-missing value is a number; text when some
// value is not a number; empty when every value is missing.
type ColumnStats struct {
	Name string `json:"name"` // header name (CSV) or key (rows)
	// Kind is KindNumeric, KindText or KindEmpty.
	Kind string `json:"kind"`
	// Count is the number of non-missing values; Missing the rest.
	Count   int `json:"count"`
	Missing int `json:"missing"` // see Count
	// Numeric is set for numeric columns.
	Numeric *NumericStats `json:"numeric,omitempty"`
	// Text is set for text columns.
	Text *TextStats `json:"text,omitempty"`
}

// NumericStats describes the numbers of a column.
//
// Quantiles use linear interpolation between order statistics (Hyndman and
// Fan type 7, the default of R, NumPy and spreadsheets' QUARTILE.INC): with
// the n values sorted as x_0..x_{n−1}, the p-quantile is x_k + f·(x_{k+1} −
// x_k) where k + f = (n − 1)·p.
type NumericStats struct {
	Sum  float64 `json:"sum"`  // Σx
	Mean float64 `json:"mean"` // Σx / n
	// StdDev is the sample standard deviation √(Σ(x − mean)² / (n − 1));
	// null for a single value.
	StdDev *float64 `json:"stddev"`
	Min    float64  `json:"min"`    // smallest value
	Q1     float64  `json:"q1"`     // 0.25-quantile
	Median float64  `json:"median"` // 0.5-quantile
	Q3     float64  `json:"q3"`     // 0.75-quantile
	Max    float64  `json:"max"`    // largest value
	// IQR = Q3 − Q1.
	IQR float64 `json:"iqr"`
	// Outliers are the values outside [Q1 − 1.5·IQR, Q3 + 1.5·IQR] (Tukey's
	// fences).
	Outliers Outliers `json:"outliers"`
}

// Outliers lists a column's values outside Tukey's fences.
type Outliers struct {
	LowerFence float64 `json:"lower_fence"` // Q1 − 1.5·IQR
	UpperFence float64 `json:"upper_fence"` // Q3 + 1.5·IQR
	// Count is the number of outliers; Values lists the first
	// MaxOutliersListed of them in row order.
	Count  int       `json:"count"`
	Values []Outlier `json:"values"` // see Count
}

// Outlier is one value outside the fences.
type Outlier struct {
	Row   int     `json:"row"`   // 0-based data row
	Value float64 `json:"value"` // the number in that row
}

// TextStats describes the values of a text column. Values are compared after
// trimming spaces; a JSON number is shown in its shortest form ("1.5"), a
// boolean as "true" or "false".
type TextStats struct {
	Distinct int `json:"distinct"` // number of different values
	// TopValues are the MaxTopValues most frequent values, by count
	// descending, then value ascending.
	TopValues []ValueCount `json:"top_values"`
}

// ValueCount is a value and how many rows hold it.
type ValueCount struct {
	Value string `json:"value"` // trimmed text
	Count int    `json:"count"` // rows holding it
}

// Correlations is the Pearson correlation matrix of the numeric columns:
//
//	r = Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² · Σ(y − ȳ)²)
//
// over the rows where both columns have a number (pairwise complete), with
// the means taken over those rows. r is null when fewer than 2 rows have
// both or when either column is constant over them (the formula divides by
// zero); the diagonal is 1, or null for a constant column.
type Correlations struct {
	// Columns names the matrix's rows and columns, in the order of
	// DataOutput.Columns.
	Columns []string `json:"columns"`
	// Matrix[i][j] is r between Columns[i] and Columns[j].
	Matrix [][]*float64 `json:"matrix"`
	// Pairs[i][j] is the number of rows where both columns have a number.
	Pairs [][]int `json:"pairs"`
}

// table gives uniform access to JSON rows and CSV records.
type table struct {
	source  string
	names   []string
	rows    int
	records [][]string       // CSV data records, or nil
	objects []map[string]any // JSON rows, or nil
}

// classify classifies cell (r, c); see the package-level classify. CSV
// cells go straight to classifyString: boxing every cell into an interface
// just to unbox it again cost an allocation per cell (BenchmarkAnalyzeData:
// 79.5k allocations per run before, 20.1k after).
func (t table) classify(r, c int) (cellKind, float64, string, bool) {
	if t.records != nil {
		k, x, s := classifyString(t.records[r][c])
		return k, x, s, true
	}
	return classify(t.objects[r][t.names[c]])
}

// path names cell (r, c) in error messages.
func (t table) path(r, c int) string {
	if t.records != nil {
		return "csv row " + itoa(r) + " column " + strconv.Quote(t.names[c])
	}
	return "rows[" + itoa(r) + "]." + t.names[c]
}

// AnalyzeData computes descriptive statistics, outliers and correlations of
// a table given as JSON rows or CSV; see ColumnStats, NumericStats and
// Correlations for the definitions.
func AnalyzeData(in DataInput) (DataOutput, error) {
	if len(in.CSV) > MaxCSVBytes {
		return DataOutput{}, tooLargef("csv is %d bytes; the limit is %d", len(in.CSV), MaxCSVBytes)
	}
	if len(in.Rows) > MaxRows {
		return DataOutput{}, tooLargef("rows has %d rows; the limit is %d", len(in.Rows), MaxRows)
	}
	if len(in.Columns) > MaxColumns {
		return DataOutput{}, tooLargef("columns names %d columns; the limit is %d", len(in.Columns), MaxColumns)
	}
	var (
		t   table
		err error
	)
	switch {
	case len(in.Rows) > 0 && in.CSV != "":
		return DataOutput{}, invalidf("give either rows or csv, not both")
	case len(in.Rows) > 0:
		t, err = rowsTable(in.Rows)
	case in.CSV != "":
		t, err = csvTable(in.CSV)
	default:
		return DataOutput{}, invalidf("rows or csv is required and must not be empty")
	}
	if err != nil {
		return DataOutput{}, err
	}
	if len(t.names) == 0 {
		return DataOutput{}, invalidf("rows have no keys: give each row at least one column")
	}
	cols, err := selectColumns(t.names, in.Columns)
	if err != nil {
		return DataOutput{}, err
	}
	if t.rows*len(cols) > MaxCells {
		return DataOutput{}, tooLargef("the table has %d rows × %d columns = %d cells; the limit is %d (select fewer columns)", t.rows, len(cols), t.rows*len(cols), MaxCells)
	}

	out := DataOutput{Source: t.source, RowCount: t.rows, Columns: make([]ColumnStats, 0, len(cols)), Notes: []string{}}
	var numNames []string
	var numVals [][]float64
	for _, c := range cols {
		cs, vals, note, err := analyseColumn(t, c)
		if err != nil {
			return DataOutput{}, err
		}
		out.Columns = append(out.Columns, cs)
		if note != "" {
			out.Notes = append(out.Notes, note)
		}
		if cs.Kind == KindNumeric {
			numNames = append(numNames, cs.Name)
			numVals = append(numVals, vals)
		}
	}
	out.Correlations = correlations(numNames, numVals)
	for _, row := range out.Correlations.Matrix {
		if slices.Contains(row, nil) {
			out.Notes = append(out.Notes, "A correlation is null where fewer than 2 rows have both numbers or a column is constant over those rows.")
			break
		}
	}
	return out, nil
}

func rowsTable(rows []map[string]any) (table, error) {
	set := make(map[string]bool)
	for i, row := range rows {
		for k := range row {
			if set[k] {
				continue
			}
			if k == "" {
				return table{}, invalidf("rows[%d] has a key that is empty; name every column", i)
			}
			if len(set) == MaxColumns {
				return table{}, tooLargef("rows have more than %d distinct columns", MaxColumns)
			}
			set[k] = true
		}
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	slices.Sort(names)
	return table{source: "rows", names: names, rows: len(rows), objects: rows}, nil
}

func csvTable(text string) (table, error) {
	rd := csv.NewReader(strings.NewReader(text))
	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		return table{}, invalidf("csv has no header row")
	}
	if err != nil {
		return table{}, invalidf("csv is malformed: %v", err)
	}
	if len(header) > MaxColumns {
		return table{}, tooLargef("csv has %d columns; the limit is %d", len(header), MaxColumns)
	}
	names := make([]string, len(header))
	seen := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // spreadsheet exports start with a BOM
		}
		h = strings.TrimSpace(h)
		if h == "" {
			h = "column_" + itoa(i+1)
		}
		if j, dup := seen[h]; dup {
			return table{}, invalidf("csv header names column %q twice (columns %d and %d); rename one", h, j+1, i+1)
		}
		seen[h] = i
		names[i] = h
	}
	var records [][]string
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return table{}, invalidf("csv is malformed: %v", err)
		}
		if len(records) == MaxRows {
			return table{}, tooLargef("csv has more than %d data rows", MaxRows)
		}
		records = append(records, rec)
	}
	if len(records) == 0 {
		return table{}, invalidf("csv has a header but no data rows")
	}
	return table{source: "csv", names: names, rows: len(records), records: records}, nil
}

// selectColumns returns the indexes of the columns to analyse.
func selectColumns(names, want []string) ([]int, error) {
	if len(want) == 0 {
		idx := make([]int, len(names))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	pos := make(map[string]int, len(names))
	for i, n := range names {
		pos[n] = i
	}
	idx := make([]int, 0, len(want))
	picked := make(map[string]bool, len(want))
	for i, w := range want {
		p, ok := pos[w]
		if !ok {
			return nil, invalidf("columns[%d] %q is not a column of the data; the columns are: %s", i, w, listNames(names))
		}
		if picked[w] {
			return nil, invalidf("columns[%d] %q is listed twice", i, w)
		}
		picked[w] = true
		idx = append(idx, p)
	}
	return idx, nil
}

type cellKind uint8

const (
	cellMissing cellKind = iota
	cellNumber
	cellText
)

// classify sorts a cell into missing, number or text, returning the number
// or the text as it is counted.
func classify(v any) (cellKind, float64, string, bool) {
	switch x := v.(type) {
	case nil:
		return cellMissing, 0, "", true
	case string:
		k, f, s := classifyString(x)
		return k, f, s, true
	case json.Number:
		k, f, s := classifyString(string(x))
		return k, f, s, true
	case bool:
		return cellText, 0, strconv.FormatBool(x), true
	case float64:
		return classifyFloat(x)
	case float32:
		return classifyFloat(float64(x))
	case int:
		return classifyFloat(float64(x))
	case int64:
		return classifyFloat(float64(x))
	case int32:
		return classifyFloat(float64(x))
	case uint64:
		return classifyFloat(float64(x))
	case uint32:
		return classifyFloat(float64(x))
	case uint:
		return classifyFloat(float64(x))
	}
	return 0, 0, "", false
}

// classifyFloat accepts a finite number; beyond ±MaxAbsValue it counts as
// text (like a numeric-looking string out of range) rather than failing the
// whole table. ok is false for NaN and ±Inf.
func classifyFloat(x float64) (cellKind, float64, string, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, 0, "", false
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if math.Abs(x) > MaxAbsValue {
		return cellText, 0, s, true
	}
	if x == 0 {
		x = 0 // no -0 in outputs
	}
	return cellNumber, x, s, true
}

func classifyString(s string) (cellKind, float64, string) {
	t := strings.TrimSpace(s)
	if t == "" {
		return cellMissing, 0, ""
	}
	if isDecimal(t) {
		// A syntactically decimal string fails to parse only by overflow;
		// underflow parses as 0.
		if v, err := strconv.ParseFloat(t, 64); err == nil && math.Abs(v) <= MaxAbsValue {
			if v == 0 {
				v = 0
			}
			return cellNumber, v, t
		}
	}
	return cellText, 0, t
}

// isDecimal reports whether s is [+-]digits[.digits][e[+-]digits] (either
// side of the point may be empty, not both). strconv.ParseFloat alone also
// takes "NaN", "Inf", "0x1p4" and "1_000", none of which a table means as a
// number.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// analyseColumn summarises column c. For a numeric column it also returns
// its values by row, NaN marking a missing value (NaN never reaches an
// output: valid input cannot hold it).
func analyseColumn(t table, c int) (ColumnStats, []float64, string, error) {
	cs := ColumnStats{Name: t.names[c]}
	vals := make([]float64, t.rows)
	numbers, texts, firstText := 0, 0, -1
	var firstTextValue string
	for r := range t.rows {
		kind, x, s, ok := t.classify(r, c)
		if !ok {
			// Only JSON rows can hold a value classify rejects.
			v := t.objects[r][t.names[c]]
			if f, isFloat := v.(float64); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return cs, nil, "", invalidf("%s must be a finite number", t.path(r, c))
			}
			switch v.(type) {
			case map[string]any, []any:
				return cs, nil, "", invalidf("%s is an object or array; rows must be flat (numbers, strings, booleans, nulls)", t.path(r, c))
			}
			return cs, nil, "", invalidf("%s has unsupported type %T", t.path(r, c), v)
		}
		vals[r] = math.NaN()
		switch kind {
		case cellMissing:
			cs.Missing++
		case cellNumber:
			vals[r] = x
			numbers++
		case cellText:
			if firstText < 0 {
				firstText, firstTextValue = r, s
			}
			texts++
		}
	}
	cs.Count = t.rows - cs.Missing
	switch {
	case cs.Count == 0:
		cs.Kind = KindEmpty
		return cs, nil, "Column " + strconv.Quote(cs.Name) + " has no values.", nil
	case texts == 0:
		cs.Kind = KindNumeric
		cs.Numeric = numericStats(vals, numbers)
		return cs, vals, "", nil
	}
	cs.Kind = KindText
	cs.Text = textStats(t, c)
	note := ""
	if numbers > 0 {
		note = "Column " + strconv.Quote(cs.Name) + " is summarised as text: " + itoa(texts) + " of " + itoa(cs.Count) +
			" values are not numbers (the first, in row " + itoa(firstText) + ", is " + strconv.Quote(truncate(firstTextValue, 40)) +
			"). Clean or remove them for numeric statistics."
	}
	return cs, nil, note, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// numericStats summarises vals (NaN = missing); count > 0 is the number of
// non-NaN values.
func numericStats(vals []float64, count int) *NumericStats {
	sorted := make([]float64, 0, count)
	var sum float64
	for _, v := range vals {
		if !math.IsNaN(v) {
			sorted = append(sorted, v)
			sum += v
		}
	}
	slices.Sort(sorted)
	n := len(sorted)
	st := &NumericStats{
		Sum:    sum,
		Mean:   sum / float64(n),
		Min:    sorted[0],
		Max:    sorted[n-1],
		Q1:     quantile7(sorted, 0.25),
		Median: quantile7(sorted, 0.5),
		Q3:     quantile7(sorted, 0.75),
	}
	// sum/n can be off by an ulp: for a constant column (0.1+0.1+0.1 =
	// 0.30000000000000004) that would give a non-zero standard deviation,
	// and near the extremes it could even leave [min, max].
	st.Mean = math.Max(st.Min, math.Min(st.Max, st.Mean))
	if st.Min == st.Max {
		st.Mean = st.Min
	}
	if n > 1 {
		var ss float64
		if st.Min != st.Max {
			for _, v := range sorted {
				d := v - st.Mean
				ss += d * d
			}
		}
		sd := math.Sqrt(ss / float64(n-1))
		st.StdDev = &sd
	}
	st.IQR = st.Q3 - st.Q1
	st.Outliers = Outliers{
		LowerFence: st.Q1 - 1.5*st.IQR,
		UpperFence: st.Q3 + 1.5*st.IQR,
		Values:     []Outlier{},
	}
	for r, v := range vals {
		if math.IsNaN(v) || (v >= st.Outliers.LowerFence && v <= st.Outliers.UpperFence) {
			continue
		}
		st.Outliers.Count++
		if len(st.Outliers.Values) < MaxOutliersListed {
			st.Outliers.Values = append(st.Outliers.Values, Outlier{Row: r, Value: v})
		}
	}
	return st
}

// quantile7 is the type 7 quantile of sorted values; see NumericStats.
func quantile7(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	k := int(math.Floor(h))
	if k+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[k] + (h-float64(k))*(sorted[k+1]-sorted[k])
}

func textStats(t table, c int) *TextStats {
	counts := make(map[string]int)
	for r := range t.rows {
		kind, _, s, _ := t.classify(r, c)
		if kind != cellMissing {
			counts[s]++
		}
	}
	top := make([]ValueCount, 0, len(counts))
	for v, n := range counts {
		top = append(top, ValueCount{Value: v, Count: n})
	}
	slices.SortFunc(top, func(a, b ValueCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
	})
	return &TextStats{Distinct: len(counts), TopValues: top[:min(len(top), MaxTopValues)]}
}

// correlations computes the pairwise-complete Pearson matrix.
func correlations(names []string, vals [][]float64) Correlations {
	k := len(names)
	out := Correlations{Columns: names, Matrix: make([][]*float64, k), Pairs: make([][]int, k)}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	for i := range k {
		out.Matrix[i] = make([]*float64, k)
		out.Pairs[i] = make([]int, k)
	}
	for i := range k {
		for j := i; j < k; j++ {
			r, n := pearson(vals[i], vals[j])
			if i == j && r != nil {
				one := 1.0 // exactly, not 0.9999999999999999
				r = &one
			}
			out.Matrix[i][j], out.Matrix[j][i] = r, r
			out.Pairs[i][j], out.Pairs[j][i] = n, n
		}
	}
	return out
}

// pearson returns r over the rows where both x and y are present (not NaN)
// and that number of rows; r is nil when it is undefined.
func pearson(x, y []float64) (*float64, int) {
	var sx, sy float64
	n := 0
	constX, constY := true, true
	var x0, y0 float64
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		if n == 0 {
			x0, y0 = x[i], y[i]
		}
		constX = constX && x[i] == x0
		constY = constY && y[i] == y0
		sx += x[i]
		sy += y[i]
		n++
	}
	// Constant columns are caught exactly, before any rounding error in
	// the sums could make a zero variance look positive.
	if n < 2 || constX || constY {
		return nil, n
	}
	mx, my := sx/float64(n), sy/float64(n)
	var sxx, syy, sxy float64
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	// √sxx·√syy rather than √(sxx·syy): the product could overflow.
	r := sxy / (math.Sqrt(sxx) * math.Sqrt(syy))
	r = math.Max(-1, math.Min(1, r))
	if math.IsNaN(r) {
		return nil, n
	}
	return &r, n
}
