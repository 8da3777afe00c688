package views

import (
	"slices"

	"github.com/bizmcp/bizmcp/internal/health"
)

func sortedComponents(r health.Report) []string {
	names := make([]string, 0, len(r.Components))
	for n := range r.Components {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
