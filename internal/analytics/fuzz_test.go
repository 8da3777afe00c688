package analytics

import (
	"encoding/json"
	"testing"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// FuzzAnalyzeCSV feeds arbitrary text to the CSV path: it must never panic,
// fail only with Invalid or TooLarge, and otherwise return an output that
// encodes as JSON and keeps the statistics' invariants.
func FuzzAnalyzeCSV(f *testing.F) {
	for _, seed := range []string{
		tableCSV,
		"a,b\n1,2\n3,4\n",
		"\uFEFFa, ,\"c\"\r\n1,,\"x\"\"y\"\r\n",
		"v\nNaN\nInf\n-Infinity\n1e400\n1e-400\n0x10\n-0\n",
		"a\n\"unterminated\n",
		"a,b\n1\n",
		"a,a\n1,2\n",
		"\n\n\n",
		"",
		"x\n1e100\n-1e100\n1e100\n",
		"x,y\n1,1\n1,2\n1,3\n",
		"p,q\n.5,-.5\n5.,+5\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out, err := AnalyzeData(DataInput{CSV: text})
		if err != nil {
			if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
				t.Fatalf("error code %q for %q: %v", c, text, err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("output does not encode: %v", err)
		}
		for _, c := range out.Columns {
			if c.Count+c.Missing != out.RowCount {
				t.Fatalf("column %q: count %d + missing %d != rows %d", c.Name, c.Count, c.Missing, out.RowCount)
			}
			if s := c.Numeric; s != nil {
				if s.Min > s.Q1 || s.Q1 > s.Median || s.Median > s.Q3 || s.Q3 > s.Max {
					t.Fatalf("column %q: quantiles out of order: %+v", c.Name, s)
				}
				if s.Mean < s.Min || s.Mean > s.Max {
					t.Fatalf("column %q: mean %v outside [%v, %v]", c.Name, s.Mean, s.Min, s.Max)
				}
			}
		}
		for _, row := range out.Correlations.Matrix {
			for _, r := range row {
				if r != nil && (*r < -1 || *r > 1) {
					t.Fatalf("correlation %v outside [-1, 1]", *r)
				}
			}
		}
	})
}

// FuzzAnalyzeFinancials drives the financial analysis with arbitrary
// amounts: it must never panic, fail only with Invalid, and otherwise
// return an output that encodes as JSON.
func FuzzAnalyzeFinancials(f *testing.F) {
	f.Add(1000.0, 750.0, 200.0, 1200.0, 960.0, 0.0, 1100.0, 900.0, uint8(0))
	f.Add(0.0, 10.0, 0.0, 100.0, 50.0, 0.0, 0.0, 0.0, uint8(3))
	f.Add(1e-300, 1e100, 0.0, 2e-300, 1e100, 1.0, 5e-324, 0.0, uint8(1))
	f.Fuzz(func(t *testing.T, r1, c1, i1, r2, c2, i2, r3, c3 float64, typ uint8) {
		types := AnalysisTypes()
		in := FinancialInput{AnalysisType: types[int(typ)%len(types)], Data: []FinancialPeriod{
			{Period: "p1", Revenue: r1, Costs: c1, Investment: i1},
			{Period: "p2", Revenue: r2, Costs: c2, Investment: i2},
			{Period: "p3", Revenue: r3, Costs: c3},
		}}
		out, err := AnalyzeFinancials(in)
		if err != nil {
			if c := apperr.CodeOf(err); c != apperr.Invalid {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("output does not encode: %v", err)
		}
	})
}

// FuzzForecastSales forecasts arbitrary short series (one point per byte,
// scaled by a fuzzed factor): no panic, only Invalid or TooLarge errors, and
// outputs that encode as JSON.
func FuzzForecastSales(f *testing.F) {
	f.Add([]byte{1, 3, 2, 5, 4}, 1.0, 3, 0, 0.95)
	f.Add([]byte{10, 0, 10, 0, 10, 0}, 1e99, 4, 2, 0.8)
	f.Add([]byte{7, 7}, -1e-300, 1, 0, 0.9)
	f.Fuzz(func(t *testing.T, points []byte, scale float64, horizon, season int, conf float64) {
		ys := make([]float64, len(points))
		for i, p := range points {
			ys[i] = float64(int8(p)) * scale
		}
		out, err := ForecastSales(ForecastInput{Series: ys, Horizon: horizon, SeasonLength: season, Confidence: conf})
		if err != nil {
			if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("output does not encode: %v", err)
		}
	})
}
