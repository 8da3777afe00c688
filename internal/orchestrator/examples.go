package orchestrator

import "encoding/json"

// ExampleInput is a valid input_data for a task of domain: what the
// dashboard's create form starts from, so a person sees the shape the
// domain's plan reads (planFor) instead of guessing it.
func ExampleInput(domain string) json.RawMessage {
	var v any
	switch domain {
	case "finance":
		v = map[string]any{"analysis_type": "general", "data": []map[string]any{
			{"period": "2026-Q1", "revenue": 120000, "costs": 91000, "investment": 20000},
			{"period": "2026-Q2", "revenue": 134000, "costs": 96000, "investment": 15000},
			{"period": "2026-Q3", "revenue": 141000, "costs": 99000, "investment": 12000},
		}}
	case "sales":
		v = map[string]any{"series": []float64{112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140}, "horizon": 6, "season_length": 12}
	case "marketing":
		v = map[string]any{"customers": []map[string]any{
			{"customer_id": "c-001", "last_purchase_date": "2026-11-20", "frequency": 14, "monetary": 5200},
			{"customer_id": "c-002", "last_purchase_date": "2026-06-02", "frequency": 2, "monetary": 180},
			{"customer_id": "c-003", "last_purchase_date": "2026-10-15", "frequency": 7, "monetary": 1900},
			{"customer_id": "c-004", "last_purchase_date": "2025-12-30", "frequency": 1, "monetary": 40},
		}}
	case "analytics", "operations":
		v = map[string]any{"rows": []map[string]any{
			{"region": "north", "orders": 120, "returns": 6, "revenue": 15800},
			{"region": "south", "orders": 95, "returns": 9, "revenue": 11200},
			{"region": "east", "orders": 143, "returns": 4, "revenue": 19900},
			{"region": "west", "orders": 88, "returns": 12, "revenue": 9700},
		}}
	default:
		v = map[string]any{"prompt": "Summarise the main risks in our Q3 figures for the board, in five bullet points."}
	}
	b, _ := json.MarshalIndent(v, "", "  ") // maps, slices and numbers only: cannot fail
	return b
}
