package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// pct is the p-th quantile (0..1) of ds, nearest rank; 0 for none.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// ms formats a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "0 ms"
	case v < 1:
		return fmt.Sprintf("%.2f ms", v)
	case v < 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return num(math.Round(v)) + " ms"
	}
}

// num formats a number with thousands separators.
func num(v float64) string {
	if v < 100 && v != math.Trunc(v) {
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ratio formats a/b as "0.28x".
func ratio(a, b float64) string {
	if b == 0 || a == 0 {
		return "n/a"
	}
	r := a / b
	switch {
	case r < 0.1:
		return fmt.Sprintf("%.3fx", r)
	case r < 10:
		return fmt.Sprintf("%.2fx", r)
	default:
		return fmt.Sprintf("%.0fx", r)
	}
}

// rounds formats per-round values: "1,177 / 1,203".
func rounds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = num(x)
	}
	return strings.Join(parts, " / ")
}
