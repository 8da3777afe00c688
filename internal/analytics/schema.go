package analytics

import "encoding/json"

// The JSON Schemas (draft 2020-12, an object at the top, as MCP requires for
// a tool's inputSchema and outputSchema) of each tool's arguments and result.
// They are built by functions, not held in package variables, so no caller
// can change what another one serves. Input schemas reject unknown
// properties, so a misspelt argument ("analysis-type") is an error rather
// than silently ignored. Where a schema cannot say everything (a byte length,
// a blank string, a unique id), the function's own validation does.

// FinancialInputSchema is the schema of FinancialInput.
func FinancialInputSchema() json.RawMessage {
	return encodeSchema(object("Arguments of financial_analyzer.", props{
		"data": with(array("Periods oldest first; the order given is the time order.", object("One period's figures, in one currency.", props{
			"period":     with(str("Unique period label, e.g. 2024-Q1."), "minLength", 1, "maxLength", MaxLabelLength),
			"revenue":    amount("Revenue of the period."),
			"costs":      amount("Operating costs of the period."),
			"investment": amount("Amount invested in the period (default 0)."),
		}, "period", "revenue", "costs")), "minItems", 1, "maxItems", MaxPeriods),
		"analysis_type": with(str("Which sections, insights and recommendations to report; general reports all."),
			"enum", AnalysisTypes(), "default", AnalysisGeneral),
	}, "data"))
}

// FinancialOutputSchema is the schema of FinancialOutput.
func FinancialOutputSchema() json.RawMessage {
	names := array("Period labels.", str(""))
	return encodeSchema(object("Result of financial_analyzer. Amounts and percentages are rounded to 2 decimals; null means a zero denominator (see notes).", props{
		"analysis_type": with(str("Analysis type applied."), "enum", AnalysisTypes()),
		"period_count":  with(integer("Number of periods."), "minimum", 1),
		"periods": array("Per-period figures in input order.", object("", props{
			"period":             str(""),
			"revenue":            number(""),
			"costs":              number(""),
			"investment":         number(""),
			"profit":             number("revenue - costs."),
			"margin_pct":         nullable(number("profit / revenue × 100.")),
			"cost_ratio_pct":     nullable(number("costs / revenue × 100.")),
			"revenue_growth_pct": nullable(number("Growth against the previous period, %.")),
			"cost_growth_pct":    nullable(number("Cost growth against the previous period, %.")),
		}, "period", "revenue", "costs", "investment", "profit", "margin_pct", "cost_ratio_pct", "revenue_growth_pct", "cost_growth_pct")),
		"totals": object("Sums over all periods.", props{
			"revenue":    number(""),
			"costs":      number(""),
			"profit":     number(""),
			"investment": number(""),
		}, "revenue", "costs", "profit", "investment"),
		"profitability": object("Margins (general and profitability types).", props{
			"overall_margin_pct":  nullable(number("Total profit / total revenue × 100.")),
			"average_margin_pct":  nullable(number("Unweighted mean of the period margins.")),
			"first_margin_pct":    nullable(number("")),
			"last_margin_pct":     nullable(number("")),
			"margin_change_pts":   nullable(number("Last margin - first margin, percentage points.")),
			"best_margin_period":  nullable(str("")),
			"worst_margin_period": nullable(str("")),
			"loss_periods":        names,
		}, "overall_margin_pct", "average_margin_pct", "first_margin_pct", "last_margin_pct", "margin_change_pts", "best_margin_period", "worst_margin_period", "loss_periods"),
		"growth": object("First-to-last growth (general and growth types).", props{
			"revenue_growth_pct":  nullable(number("")),
			"compound_growth_pct": nullable(number("((last / first)^(1/(n-1)) - 1) × 100.")),
			"cost_growth_pct":     nullable(number("")),
			"profit_change":       nullable(number("Last profit - first profit.")),
			"declining_periods":   names,
		}, "revenue_growth_pct", "compound_growth_pct", "cost_growth_pct", "profit_change", "declining_periods"),
		"cost_structure": object("Costs against revenue (general and costs types).", props{
			"overall_cost_ratio_pct": nullable(number("")),
			"best_cost_ratio_pct":    nullable(number("")),
			"best_cost_ratio_period": nullable(str("")),
			"opportunities": array("Periods where costs grew faster than revenue.", object("", props{
				"period":                  str(""),
				"previous_period":         str(""),
				"cost_growth_pct":         nullable(number("")),
				"revenue_growth_pct":      nullable(number("")),
				"previous_cost_ratio_pct": number(""),
				"cost_ratio_pct":          number(""),
				"potential_savings":       with(number("costs - revenue × best cost ratio."), "minimum", 0),
			}, "period", "previous_period", "cost_growth_pct", "revenue_growth_pct", "previous_cost_ratio_pct", "cost_ratio_pct", "potential_savings")),
			"total_potential_savings": with(number(""), "minimum", 0),
		}, "overall_cost_ratio_pct", "best_cost_ratio_pct", "best_cost_ratio_period", "opportunities", "total_potential_savings"),
		"investment": object("Return on investment (general and investment types).", props{
			"total_investment": number(""),
			"total_profit":     number(""),
			"net_return":       number("Total profit - total investment."),
			"roi_pct":          nullable(number(ROIFormula + "; null when nothing was invested.")),
			"formula":          str("The ROI definition used."),
		}, "total_investment", "total_profit", "net_return", "roi_pct", "formula"),
		"insights":        array("Facts derived from the figures.", str("")),
		"recommendations": array("Actions suggested by fixed rules.", str("")),
		"notes":           array("Why figures are null.", str("")),
	}, "analysis_type", "period_count", "periods", "totals", "insights", "recommendations", "notes"))
}

// ForecastInputSchema is the schema of ForecastInput.
func ForecastInputSchema() json.RawMessage {
	return encodeSchema(object("Arguments of sales_forecaster.", props{
		"series": with(array("Equally spaced observations, oldest first.", value("")), "minItems", 2, "maxItems", MaxPoints),
		"horizon": with(integer("Steps to forecast after the last point."),
			"minimum", 1, "maximum", MaxHorizon, "default", DefaultHorizon),
		"season_length": with(integer("Points per season (12 for monthly data with a yearly pattern); 0 for none, else at least 2 with at least two full seasons of data."),
			"minimum", 0, "not", map[string]any{"const": 1}, "default", 0),
		"confidence": with(number("Prediction interval coverage."), "enum", Confidences(), "default", DefaultConfidence),
	}, "series"))
}

// ForecastOutputSchema is the schema of ForecastOutput.
func ForecastOutputSchema() json.RawMessage {
	nums := func(desc string) map[string]any { return array(desc, number("")) }
	return encodeSchema(object("Result of sales_forecaster; t counts points from 0.", props{
		"method":        with(str(""), "enum", []string{MethodLinearTrend, MethodLinearTrendSeasonal}),
		"points":        with(integer(""), "minimum", 2),
		"horizon":       with(integer(""), "minimum", 1, "maximum", MaxHorizon),
		"season_length": with(integer(""), "minimum", 0),
		"confidence":    with(number(""), "enum", Confidences()),
		"trend": object("trend(t) = intercept + slope × t.", props{
			"slope":     number("Change per step."),
			"intercept": number("Trend at t = 0, the first point."),
		}, "slope", "intercept"),
		"seasonal_indices":   nums("Added to the trend at positions t mod season_length; sum to 0; empty without seasonality."),
		"fitted":             nums("Model value at each input point."),
		"residual_std_error": nullable(with(number("sqrt(SSE / dof); null when dof = 0."), "minimum", 0)),
		"degrees_of_freedom": with(integer(""), "minimum", 0),
		"r_squared":          nullable(with(number("1 - SSE/SST; null when all values are equal."), "maximum", 1)),
		"t_quantile":         nullable(with(number("Student t quantile of the interval."), "minimum", 0)),
		"forecasts": array("One per step.", object("", props{
			"step":  with(integer(""), "minimum", 1),
			"t":     integer(""),
			"value": number(""),
			"lower": nullable(number("")),
			"upper": nullable(number("")),
		}, "step", "t", "value", "lower", "upper")),
		"notes": array("", str("")),
	}, "method", "points", "horizon", "season_length", "confidence", "trend", "seasonal_indices", "fitted", "residual_std_error", "degrees_of_freedom", "r_squared", "t_quantile", "forecasts", "notes"))
}

// datePattern accepts YYYY-MM-DD and RFC 3339 timestamps; the tool checks the
// calendar.
const datePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}(T.+)?$`

// SegmentInputSchema is the schema of SegmentInput.
func SegmentInputSchema() json.RawMessage {
	id := with(str("Customer id."), "minLength", 1, "maxLength", MaxLabelLength)
	date := func(desc string) map[string]any { return with(str(desc), "pattern", datePattern) }
	s := object("Arguments of customer_segmenter: exactly one of customers or transactions.", props{
		"customers": with(array("One summary record per customer.", object("", props{
			"customer_id":        id,
			"last_purchase_date": date("YYYY-MM-DD or RFC 3339."),
			"frequency":          with(integer("Number of purchases."), "minimum", 0),
			"monetary":           amount("Total spent."),
		}, "customer_id", "last_purchase_date", "frequency", "monetary")), "minItems", 1, "maxItems", MaxCustomers),
		"transactions": with(array("One record per purchase, aggregated per customer.", object("", props{
			"customer_id": id,
			"date":        date("YYYY-MM-DD or RFC 3339."),
			"amount":      amount("Purchase value."),
		}, "customer_id", "date", "amount")), "minItems", 1, "maxItems", MaxTransactions),
		"reference_date": date("Day recency is measured from; default: the day after the latest purchase."),
	})
	s["oneOf"] = []any{
		map[string]any{"required": []string{"customers"}},
		map[string]any{"required": []string{"transactions"}},
	}
	return encodeSchema(s)
}

// SegmentOutputSchema is the schema of SegmentOutput.
func SegmentOutputSchema() json.RawMessage {
	score := with(integer(""), "minimum", 1, "maximum", 5)
	return encodeSchema(object("Result of customer_segmenter.", props{
		"reference_date": str("YYYY-MM-DD."),
		"customer_count": with(integer(""), "minimum", 1),
		"customers": array("Scores in input order.", object("", props{
			"customer_id":        str(""),
			"last_purchase_date": str("YYYY-MM-DD."),
			"recency_days":       with(integer(""), "minimum", 0),
			"frequency":          with(integer(""), "minimum", 0),
			"monetary":           with(number(""), "minimum", 0),
			"r_score":            score,
			"f_score":            score,
			"m_score":            score,
			"rfm_score":          with(str("R, F and M scores as digits."), "pattern", "^[1-5]{3}$"),
			"segment":            with(str(""), "enum", Segments()),
		}, "customer_id", "last_purchase_date", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_score", "segment")),
		"segments": array("Non-empty segments, best first.", object("", props{
			"segment":              with(str(""), "enum", Segments()),
			"count":                with(integer(""), "minimum", 1),
			"share_pct":            with(number(""), "minimum", 0, "maximum", 100),
			"total_monetary":       with(number(""), "minimum", 0),
			"monetary_share_pct":   with(number(""), "minimum", 0, "maximum", 100),
			"average_monetary":     with(number(""), "minimum", 0),
			"average_frequency":    with(number(""), "minimum", 0),
			"average_recency_days": with(number(""), "minimum", 0),
		}, "segment", "count", "share_pct", "total_monetary", "monetary_share_pct", "average_monetary", "average_frequency", "average_recency_days")),
		"notes": array("", str("")),
	}, "reference_date", "customer_count", "customers", "segments", "notes"))
}

// DataInputSchema is the schema of DataInput.
func DataInputSchema() json.RawMessage {
	cell := map[string]any{"anyOf": []any{
		map[string]any{"type": "number"}, map[string]any{"type": "string"}, map[string]any{"type": "boolean"}, map[string]any{"type": "null"},
	}}
	row := map[string]any{"type": "object", "description": "One row: column name to value.", "additionalProperties": cell}
	s := object("Arguments of data_analyzer: exactly one of rows or csv.", props{
		"rows": with(array("The table as flat JSON objects.", row), "minItems", 1, "maxItems", MaxRows),
		"csv": with(str("The table as CSV text with a header row (at most 5 MiB)."),
			"minLength", 1, "maxLength", MaxCSVBytes),
		"columns": with(array("Analyse only these columns, in this order.", str("")), "maxItems", MaxColumns, "uniqueItems", true),
	})
	s["oneOf"] = []any{
		map[string]any{"required": []string{"rows"}},
		map[string]any{"required": []string{"csv"}},
	}
	return encodeSchema(s)
}

// DataOutputSchema is the schema of DataOutput.
func DataOutputSchema() json.RawMessage {
	count := with(integer(""), "minimum", 0)
	return encodeSchema(object("Result of data_analyzer; rows are 0-based data-row indexes.", props{
		"source":    with(str(""), "enum", []string{"rows", "csv"}),
		"row_count": count,
		"columns": array("", object("", props{
			"name":    str(""),
			"kind":    with(str(""), "enum", []string{KindNumeric, KindText, KindEmpty}),
			"count":   count,
			"missing": count,
			"numeric": object("Set for numeric columns; quantiles by linear interpolation (type 7).", props{
				"sum":    number(""),
				"mean":   number(""),
				"stddev": nullable(with(number("Sample standard deviation (n - 1)."), "minimum", 0)),
				"min":    number(""),
				"q1":     number(""),
				"median": number(""),
				"q3":     number(""),
				"max":    number(""),
				"iqr":    with(number(""), "minimum", 0),
				"outliers": object("Values outside [q1 - 1.5 iqr, q3 + 1.5 iqr].", props{
					"lower_fence": number(""),
					"upper_fence": number(""),
					"count":       count,
					"values": with(array("", object("", props{
						"row":   count,
						"value": number(""),
					}, "row", "value")), "maxItems", MaxOutliersListed),
				}, "lower_fence", "upper_fence", "count", "values"),
			}, "sum", "mean", "stddev", "min", "q1", "median", "q3", "max", "iqr", "outliers"),
			"text": object("Set for text columns.", props{
				"distinct": count,
				"top_values": with(array("", object("", props{
					"value": str(""),
					"count": with(integer(""), "minimum", 1),
				}, "value", "count")), "maxItems", MaxTopValues),
			}, "distinct", "top_values"),
		}, "name", "kind", "count", "missing")),
		"correlations": object("Pearson correlations of the numeric columns, pairwise complete.", props{
			"columns": array("", str("")),
			"matrix":  array("", array("", nullable(with(number(""), "minimum", -1, "maximum", 1)))),
			"pairs":   array("Rows with both values.", array("", count)),
		}, "columns", "matrix", "pairs"),
		"notes": array("", str("")),
	}, "source", "row_count", "columns", "correlations", "notes"))
}

// ReportInputSchema is the schema of ReportInput.
func ReportInputSchema() json.RawMessage {
	heading := func(desc string) map[string]any {
		return with(str(desc), "minLength", 1, "maxLength", MaxHeadingLength)
	}
	section := object("A heading with content, data or both.", props{
		"heading": heading("Section heading."),
		"content": str("Markdown text."),
		"data":    map[string]any{"description": "Any JSON: an array of flat objects becomes a table, a flat object a bullet list, anything else fenced JSON."},
	}, "heading")
	section["anyOf"] = []any{
		map[string]any{"required": []string{"content"}},
		map[string]any{"required": []string{"data"}},
	}
	return encodeSchema(object("Arguments of report_generator.", props{
		"title":    heading("Report title."),
		"summary":  str("Paragraph under the title, Markdown."),
		"sections": with(array("Sections in order.", section), "maxItems", MaxSections),
	}, "title"))
}

// ReportOutputSchema is the schema of ReportOutput.
func ReportOutputSchema() json.RawMessage {
	return encodeSchema(object("Result of report_generator.", props{
		"markdown":   str("The report."),
		"word_count": with(integer(""), "minimum", 0),
	}, "markdown", "word_count"))
}

// props maps property names to their schemas.
type props = map[string]any

func object(desc string, properties props, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": properties, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return describe(s, desc)
}

func array(desc string, items any) map[string]any {
	return describe(map[string]any{"type": "array", "items": items}, desc)
}

func str(desc string) map[string]any     { return describe(map[string]any{"type": "string"}, desc) }
func number(desc string) map[string]any  { return describe(map[string]any{"type": "number"}, desc) }
func integer(desc string) map[string]any { return describe(map[string]any{"type": "integer"}, desc) }

// amount is a non-negative input amount.
func amount(desc string) map[string]any {
	return with(number(desc), "minimum", 0, "maximum", MaxAbsValue)
}

// value is an input number of any sign.
func value(desc string) map[string]any {
	return with(number(desc), "minimum", -MaxAbsValue, "maximum", MaxAbsValue)
}

func describe(s map[string]any, desc string) map[string]any {
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// nullable lets s also be null.
//
// It is written as anyOf with single-type branches rather than a type array:
// both are JSON Schema, but clients that map tool schemas onto single-type
// dialects (the MCP Inspector warns about it) only read the anyOf form.
func nullable(s map[string]any) map[string]any {
	out := map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	if d, ok := s["description"]; ok {
		out["description"] = d
		delete(s, "description")
	}
	return out
}

// with sets keyword/value pairs on s.
func with(s map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		s[k] = kv[i+1]
	}
	return s
}

// encodeSchema marshals a schema built from maps, slices, strings, booleans
// and finite numbers, for which json.Marshal cannot fail; the tests decode
// every schema and check its keywords.
func encodeSchema(s map[string]any) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
