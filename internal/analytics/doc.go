// Package analytics holds the pure computations behind bizmcp's business
// tools: financial analysis (financial_analyzer), sales forecasting
// (sales_forecaster), RFM customer segmentation (customer_segmenter),
// descriptive data analysis (data_analyzer) and Markdown reports
// (report_generator).
//
// Everything here is a function from a typed input to a typed output: no I/O,
// no clock, no randomness, no LLM. The same input always gives the same
// output, so results can be cached, logged and tested to the last digit. The
// MCP, REST and agent adapters decode tool arguments into the input structs
// (whose json tags are the tools' argument names) and serve the output structs
// as structured content; each tool's JSON Schemas come from the
// ...InputSchema and ...OutputSchema functions.
//
// Conventions shared by all tools:
//
//   - Errors are *apperr.Error: code Invalid with a message naming the field
//     (list indexes are 0-based, as in the JSON: "data[3].revenue must be a
//     finite number"), or TooLarge when a documented bound (the Max...
//     constants) is exceeded. Bounds are checked before any work is done, so
//     an oversized input fails fast without allocating in proportion to it.
//   - No output ever holds NaN or ±Inf, which JSON cannot carry. Input numbers
//     must be finite and within ±MaxAbsValue (that bound keeps every sum and
//     sum of squares finite; the data analyzer reads a table cell beyond it
//     as text rather than failing the whole table). A ratio whose denominator is zero (growth from
//     zero revenue, a margin with zero revenue, a correlation of a constant
//     column) is null (a nil *float64), and the output's notes say why.
//   - Rounding: money and percentages in the financial and segmentation
//     outputs are rounded half away from zero to 2 decimals when they are
//     reported; every computation uses the unrounded values, so a reported
//     total may differ by a cent from the sum of reported parts. Statistical
//     outputs (forecast, data analysis) are not rounded, because the tool
//     cannot know the scale of the data (rounding conversion rates such as
//     0.0123 to 2 decimals would destroy them).
//   - Texts (insights, recommendations, notes) are produced by fixed rules from
//     the computed numbers; none is invented.
package analytics
