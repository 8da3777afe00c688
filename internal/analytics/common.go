package analytics

import (
	"math"
	"strconv"
	"strings"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// MaxAbsValue bounds the magnitude of every input number. Inside it, sums of
// up to the maximum number of values and their squares stay far from
// float64 overflow (1e100² × 1e6 = 1e206 < 1.8e308), so no computation can
// produce ±Inf from valid input; it is far beyond any real amount.
const MaxAbsValue = 1e100

// MaxLabelLength bounds, in bytes, labels such as period names and customer
// ids.
const MaxLabelLength = 200

// maxListedNames is how many names an insight or note lists before it says
// "and N more", so texts stay short on long inputs.
const maxListedNames = 10

func invalidf(format string, args ...any) error {
	return apperr.E(apperr.Invalid, format, args...)
}

func tooLargef(format string, args ...any) error {
	return apperr.E(apperr.TooLarge, format, args...)
}

// ref names an input field in error messages: list[i].field, list[i] when
// field is empty, or just list when i < 0. It is formatted only when a
// message is built, so validating a large input allocates nothing per
// element.
type ref struct {
	list  string
	i     int
	field string
}

// String formats the reference as it appears in error messages.
func (r ref) String() string {
	if r.i < 0 {
		return r.list
	}
	s := r.list + "[" + strconv.Itoa(r.i) + "]"
	if r.field != "" {
		s += "." + r.field
	}
	return s
}

// named is the ref of a top-level argument.
func named(name string) ref { return ref{list: name, i: -1} }

// checkNumber rejects NaN, ±Inf (only a Go caller can send them: JSON cannot)
// and magnitudes beyond MaxAbsValue.
func checkNumber(path ref, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalidf("%s must be a finite number", path)
	}
	if math.Abs(v) > MaxAbsValue {
		return invalidf("%s is %g; numbers beyond ±1e100 are not supported", path, v)
	}
	return nil
}

// checkNonNegative is checkNumber plus a lower bound of 0.
func checkNonNegative(path ref, v float64) error {
	if err := checkNumber(path, v); err != nil {
		return err
	}
	if v < 0 {
		return invalidf("%s must not be negative; got %g", path, v)
	}
	return nil
}

// checkLabel requires a non-blank label of at most MaxLabelLength bytes and
// returns it trimmed.
func checkLabel(path ref, s string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", invalidf("%s is required and must not be blank", path)
	}
	if len(t) > MaxLabelLength {
		return "", invalidf("%s is %d bytes long; the limit is %d", path, len(t), MaxLabelLength)
	}
	return t, nil
}

// round2 rounds half away from zero to 2 decimals. Beyond 1e15 a float64 has
// no cents left to round (and x*100 could overflow near MaxFloat64), so x is
// returned as is. -0 becomes 0 so JSON never shows "-0".
func round2(x float64) float64 {
	if math.Abs(x) >= 1e15 {
		return x
	}
	r := math.Round(x*100) / 100
	if r == 0 {
		return 0
	}
	return r
}

// round2p is round2 through a nullable value.
func round2p(p *float64) *float64 {
	if p == nil {
		return nil
	}
	r := round2(*p)
	return &r
}

// ratio returns num/den, or nil when den is 0 or the quotient is not finite
// (a tiny denominator can overflow it): this is the one place division by a
// data-dependent value is turned into "null".
func ratio(num, den float64) *float64 {
	if den == 0 {
		return nil
	}
	q := num / den
	if math.IsNaN(q) || math.IsInf(q, 0) {
		return nil
	}
	return &q
}

// percent returns num/den×100, nil as for ratio.
func percent(num, den float64) *float64 {
	q := ratio(num, den)
	if q == nil {
		return nil
	}
	p := *q * 100
	if math.IsInf(p, 0) {
		return nil
	}
	return &p
}

// fmtPct formats a percentage with one decimal for insight texts ("25.0%").
func fmtPct(x float64) string {
	return fmtFixed(x, 1) + "%"
}

// fmtMoney formats an amount with two decimals for insight texts.
func fmtMoney(x float64) string {
	return fmtFixed(x, 2)
}

// fmtFixed formats x with the given decimals, never as "-0.0".
func fmtFixed(x float64, decimals int) string {
	if math.Abs(x) < 1e15 {
		scale := math.Pow10(decimals)
		x = math.Round(x*scale) / scale
		if x == 0 {
			x = 0
		}
	}
	return strconv.FormatFloat(x, 'f', decimals, 64)
}

// listNames joins names for a text, keeping at most maxListedNames of them.
func listNames(names []string) string {
	if len(names) <= maxListedNames {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListedNames], ", ") + " and " + strconv.Itoa(len(names)-maxListedNames) + " more"
}

func itoa(i int) string { return strconv.Itoa(i) }
