package views

import (
	"fmt"
	"strings"
	"time"
)

// FieldErrors maps a form field's name to what is wrong with it.
type FieldErrors map[string]string

// relative says how long ago (or until when) t is, as a person would:
// "just now", "3 minutes ago", "in 30 days".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "1 minute"
	case d < 45*time.Minute:
		s = fmt.Sprintf("%d minutes", int(d.Minutes()+0.5))
	case d < 90*time.Minute:
		s = "1 hour"
	case d < 22*time.Hour:
		s = fmt.Sprintf("%d hours", int(d.Hours()+0.5))
	case d < 36*time.Hour:
		s = "1 day"
	case d < 365*24*time.Hour:
		s = fmt.Sprintf("%d days", int(d.Hours()/24+0.5))
	default:
		years := int(d.Hours()/24/365 + 0.5)
		if years == 1 {
			s = "1 year"
		} else {
			s = fmt.Sprintf("%d years", years)
		}
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func longTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func joinStrings[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}
