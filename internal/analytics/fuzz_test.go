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
