package analytics

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// fourQuarters is the worked example of TestAnalyzeFinancials.
func fourQuarters() []FinancialPeriod {
	return []FinancialPeriod{
		{Period: "Q1", Revenue: 1000, Costs: 750, Investment: 200},
		{Period: "Q2", Revenue: 1200, Costs: 960},
		{Period: "Q3", Revenue: 1100, Costs: 900},
		{Period: "Q4", Revenue: 1320, Costs: 1080},
	}
}

// TestAnalyzeFinancials checks every figure of a four-quarter example
// against values worked out by hand:
//
//	     revenue costs profit margin           cost ratio  rev growth        cost growth
//	Q1   1000    750   250    250/1000 = 25%   75%         -                 -
//	Q2   1200    960   240    240/1200 = 20%   80%         200/1000 = 20%    210/750 = 28%
//	Q3   1100    900   200    200/1100 = 18.18 81.82%      -100/1200 = -8.33 -60/960 = -6.25%
//	Q4   1320    1080  240    240/1320 = 18.18 81.82%      220/1100 = 20%    180/900 = 20%
//	totals: revenue 4620, costs 3690, profit 930, investment 200
//	overall margin 930/4620 = 20.1299 -> 20.13
//	average margin (25 + 20 + 18.1818 + 18.1818)/4 = 20.3409 -> 20.34
//	margin change 18.1818 - 25 = -6.8182 -> -6.82 points
//	best margin Q1; worst Q3 (Q4 ties at 2/11, the earliest wins)
//	revenue growth Q1->Q4 320/1000 = 32%; compound 1.32^(1/3) - 1 = 0.096961 -> 9.70%
//	cost growth Q1->Q4 330/750 = 44%; profit change 240 - 250 = -10
//	cost ratio overall 3690/4620 = 79.87%; best 75% in Q1
//	ratio rose in Q2 (75 -> 80): saving 960 - 1200*0.75 = 60
//	ratio rose in Q3 (80 -> 81.82): saving 900 - 1100*0.75 = 75
//	Q4 ratio 1080/1320 = 900/1100 (1080*1100 = 900*1320 = 1188000): not a rise
//	total savings 135; ROI (930 - 200)/200*100 = 365%
func TestAnalyzeFinancials(t *testing.T) {
	t.Parallel()
	out, err := AnalyzeFinancials(FinancialInput{Data: fourQuarters()})
	require.NoError(t, err)
	require.Equal(t, AnalysisGeneral, out.AnalysisType)
	require.Equal(t, 4, out.PeriodCount)

	want := []PeriodFigures{
		{Period: "Q1", Revenue: 1000, Costs: 750, Investment: 200, Profit: 250, MarginPct: f(25), CostRatioPct: f(75)},
		{Period: "Q2", Revenue: 1200, Costs: 960, Profit: 240, MarginPct: f(20), CostRatioPct: f(80), RevenueGrowthPct: f(20), CostGrowthPct: f(28)},
		{Period: "Q3", Revenue: 1100, Costs: 900, Profit: 200, MarginPct: f(18.18), CostRatioPct: f(81.82), RevenueGrowthPct: f(-8.33), CostGrowthPct: f(-6.25)},
		{Period: "Q4", Revenue: 1320, Costs: 1080, Profit: 240, MarginPct: f(18.18), CostRatioPct: f(81.82), RevenueGrowthPct: f(20), CostGrowthPct: f(20)},
	}
	require.Equal(t, want, out.Periods)
	require.Equal(t, FinancialTotals{Revenue: 4620, Costs: 3690, Profit: 930, Investment: 200}, out.Totals)

	q1, q3 := "Q1", "Q3"
	require.Equal(t, &Profitability{
		OverallMarginPct:  f(20.13),
		AverageMarginPct:  f(20.34),
		FirstMarginPct:    f(25),
		LastMarginPct:     f(18.18),
		MarginChangePts:   f(-6.82),
		BestMarginPeriod:  &q1,
		WorstMarginPeriod: &q3,
		LossPeriods:       []string{},
	}, out.Profitability)
	require.Equal(t, &Growth{
		RevenueGrowthPct:  f(32),
		CompoundGrowthPct: f(9.7),
		CostGrowthPct:     f(44),
		ProfitChange:      f(-10),
		DecliningPeriods:  []string{"Q3"},
	}, out.Growth)
	require.Equal(t, &CostStructure{
		OverallCostRatioPct: f(79.87),
		BestCostRatioPct:    f(75),
		BestCostRatioPeriod: &q1,
		Opportunities: []CostOpportunity{
			{Period: "Q2", PreviousPeriod: "Q1", CostGrowthPct: f(28), RevenueGrowthPct: f(20), PreviousCostRatioPct: 75, CostRatioPct: 80, PotentialSavings: 60},
			{Period: "Q3", PreviousPeriod: "Q2", CostGrowthPct: f(-6.25), RevenueGrowthPct: f(-8.33), PreviousCostRatioPct: 80, CostRatioPct: 81.82, PotentialSavings: 75},
		},
		TotalPotentialSavings: 135,
	}, out.CostStructure)
	require.Equal(t, &InvestmentReturn{TotalInvestment: 200, TotalProfit: 930, NetReturn: 730, ROIPct: f(365), Formula: ROIFormula}, out.Investment)

	require.Equal(t, []string{
		"Revenue grew 32.0% from Q1 (1000.00) to Q4 (1320.00), a compound 9.7% per period.",
		"Revenue fell against the previous period in 1 of 3 period-to-period changes: Q3.",
		"Overall profit margin is 20.1% (profit 930.00 on revenue 4620.00).",
		"Margin fell from 25.0% to 18.2% between Q1 and Q4.",
		"Best margin: 25.0% in Q1; worst: 18.2% in Q3.",
		"Costs were 79.9% of revenue overall; the lowest ratio was 75.0% in Q1.",
		"Costs grew 44.0% while revenue grew 32.0% from Q1 to Q4.",
		"Costs grew faster than revenue in 2 of 3 period-to-period changes: Q2, Q3.",
		"ROI is 365.0%: total profit 930.00 against total investment 200.00 (net return 730.00).",
	}, out.Insights)
	require.Equal(t, []string{
		"Margin fell 6.8 percentage points from Q1 to Q4: find which costs grew and whether prices kept pace.",
		"Bring the cost ratio back towards 75.0% (reached in Q1): at that ratio costs would have been 135.00 lower in Q2, Q3.",
	}, out.Recommendations)
	require.Empty(t, out.Notes)
}

// TestAnalyzeFinancialsAnalysisTypes checks that each type reports its own
// section only, with the per-period figures always present.
func TestAnalyzeFinancialsAnalysisTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ                               string
		profitability, growth, costs, inv bool
	}{
		{"", true, true, true, true},
		{"general", true, true, true, true},
		{"profitability", true, false, false, false},
		{"growth", false, true, false, false},
		{"costs", false, false, true, false},
		{"investment", false, false, false, true},
		{"  costs ", false, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			out, err := AnalyzeFinancials(FinancialInput{Data: fourQuarters(), AnalysisType: tt.typ})
			require.NoError(t, err)
			require.Len(t, out.Periods, 4)
			require.Equal(t, tt.profitability, out.Profitability != nil)
			require.Equal(t, tt.growth, out.Growth != nil)
			require.Equal(t, tt.costs, out.CostStructure != nil)
			require.Equal(t, tt.inv, out.Investment != nil)
			require.NotEmpty(t, out.Insights)
			require.NotEmpty(t, out.Recommendations)
		})
	}
}

func TestAnalyzeFinancialsEdgeCases(t *testing.T) {
	t.Parallel()

	t.Run("one period: growth null and said so", func(t *testing.T) {
		t.Parallel()
		// margin (500-400)/500 = 20%; no investment, so ROI is null.
		out, err := AnalyzeFinancials(FinancialInput{Data: []FinancialPeriod{{Period: "2024", Revenue: 500, Costs: 400}}})
		require.NoError(t, err)
		require.Nil(t, out.Growth.RevenueGrowthPct)
		require.Nil(t, out.Growth.CompoundGrowthPct)
		require.Nil(t, out.Growth.ProfitChange)
		require.Nil(t, out.Periods[0].RevenueGrowthPct)
		require.Equal(t, f(20), out.Periods[0].MarginPct)
		require.Nil(t, out.Profitability.MarginChangePts)
		require.Nil(t, out.Investment.ROIPct)
		require.Contains(t, out.Insights, "Only one period (2024) was given: growth needs at least two periods, so growth figures are null.")
		require.Contains(t, out.Insights, "No investment was reported, so ROI is not computed.")
		require.Contains(t, out.Notes, "Growth figures are null: growth needs at least two periods and only one was given.")
		require.Contains(t, out.Notes, "roi_pct is null because no investment was reported.")
	})

	t.Run("zero revenue: ratios null, never NaN", func(t *testing.T) {
		t.Parallel()
		// Jan: revenue 0 -> margin, cost ratio null; Feb growth from 0 -> null.
		// Feb margin (100-50)/100 = 50%; costs grew (50-10)/10 = 400%.
		// Best cost ratio is Feb's 50% (Jan has none); no rise is
		// measurable since Jan has no ratio.
		out, err := AnalyzeFinancials(FinancialInput{Data: []FinancialPeriod{
			{Period: "Jan", Revenue: 0, Costs: 10},
			{Period: "Feb", Revenue: 100, Costs: 50},
		}})
		require.NoError(t, err)
		require.Nil(t, out.Periods[0].MarginPct)
		require.Nil(t, out.Periods[0].CostRatioPct)
		require.Nil(t, out.Periods[1].RevenueGrowthPct)
		require.Equal(t, f(400), out.Periods[1].CostGrowthPct)
		require.Nil(t, out.Growth.RevenueGrowthPct)
		require.Nil(t, out.Growth.CompoundGrowthPct)
		require.Equal(t, f(400), out.Growth.CostGrowthPct)
		// overall margin (100-60)/100 = 40%
		require.Equal(t, f(40), out.Profitability.OverallMarginPct)
		require.Nil(t, out.Profitability.MarginChangePts)
		require.Equal(t, f(50), out.CostStructure.BestCostRatioPct)
		require.Empty(t, out.CostStructure.Opportunities)
		require.Contains(t, out.Insights, "Revenue growth from Jan cannot be computed because revenue in Jan was 0.")
		require.Contains(t, out.Notes, "margin_pct and cost_ratio_pct are null where revenue is 0: Jan.")
		require.Contains(t, out.Notes, "revenue_growth_pct is null where the previous period's revenue is 0: Feb.")
		// Jan made a loss of 10.
		require.Equal(t, []string{"Jan"}, out.Profitability.LossPeriods)
		require.Contains(t, out.Recommendations, "Review pricing and costs in the loss-making periods: Jan.")
	})

	t.Run("all revenue zero", func(t *testing.T) {
		t.Parallel()
		out, err := AnalyzeFinancials(FinancialInput{Data: []FinancialPeriod{{Period: "a"}, {Period: "b"}}})
		require.NoError(t, err)
		require.Nil(t, out.Profitability.OverallMarginPct)
		require.Nil(t, out.Profitability.AverageMarginPct)
		require.Nil(t, out.Profitability.BestMarginPeriod)
		require.Nil(t, out.CostStructure.OverallCostRatioPct)
		require.Nil(t, out.CostStructure.BestCostRatioPeriod)
		require.Contains(t, out.Insights, "Total revenue is 0, so no profit margin can be computed.")
		require.Contains(t, out.Notes, "cost_growth_pct is null where the previous period's costs are 0: b.")
	})

	t.Run("revenue falls to zero: compound growth -100%", func(t *testing.T) {
		t.Parallel()
		// (0-100)/100 = -100%; (0/100)^(1/2) - 1 = -100%.
		out, err := AnalyzeFinancials(FinancialInput{AnalysisType: "growth", Data: []FinancialPeriod{
			{Period: "y1", Revenue: 100, Costs: 10}, {Period: "y2", Revenue: 50, Costs: 10}, {Period: "y3", Revenue: 0, Costs: 10},
		}})
		require.NoError(t, err)
		require.Equal(t, f(-100), out.Growth.RevenueGrowthPct)
		require.Equal(t, f(-100), out.Growth.CompoundGrowthPct)
		require.Equal(t, []string{"y2", "y3"}, out.Growth.DecliningPeriods)
		require.Contains(t, out.Recommendations, "Revenue fell 100.0% from y1 to y3: review sales volume, pricing and customer retention.")
	})

	t.Run("investment not paid back: negative ROI", func(t *testing.T) {
		t.Parallel()
		// profit (100-80) + (100-70) = 50; ROI (50 - 200)/200 = -75%.
		out, err := AnalyzeFinancials(FinancialInput{AnalysisType: "investment", Data: []FinancialPeriod{
			{Period: "H1", Revenue: 100, Costs: 80, Investment: 150}, {Period: "H2", Revenue: 100, Costs: 70, Investment: 50},
		}})
		require.NoError(t, err)
		require.Equal(t, &InvestmentReturn{TotalInvestment: 200, TotalProfit: 50, NetReturn: -150, ROIPct: f(-75), Formula: ROIFormula}, out.Investment)
		require.Equal(t, []string{"The investment has not paid back: total profit is 150.00 short of total investment; review the investment plan and its expected payback time."}, out.Recommendations)
	})

	t.Run("costs rising from zero is a rise of the cost ratio", func(t *testing.T) {
		t.Parallel()
		// ratio 0% then 10/100 = 10%: cost growth from 0 is null, but the
		// ratio rose; best ratio 0% -> saving 10 - 100*0 = 10.
		out, err := AnalyzeFinancials(FinancialInput{AnalysisType: "costs", Data: []FinancialPeriod{
			{Period: "a", Revenue: 100, Costs: 0}, {Period: "b", Revenue: 100, Costs: 10},
		}})
		require.NoError(t, err)
		require.Len(t, out.CostStructure.Opportunities, 1)
		o := out.CostStructure.Opportunities[0]
		require.Nil(t, o.CostGrowthPct)
		require.Equal(t, f(0), o.RevenueGrowthPct)
		require.Equal(t, 10.0, o.PotentialSavings)
	})

	t.Run("rounding is half away from zero at 2 decimals", func(t *testing.T) {
		t.Parallel()
		// 1/3 = 0.333.. -> 0.33; margin (1 - 1/3)/1 = 66.666..% -> 66.67.
		out, err := AnalyzeFinancials(FinancialInput{Data: []FinancialPeriod{{Period: "p", Revenue: 1, Costs: 1.0 / 3}}})
		require.NoError(t, err)
		require.Equal(t, 0.33, out.Periods[0].Costs)
		require.Equal(t, 0.67, out.Periods[0].Profit)
		require.Equal(t, f(66.67), out.Periods[0].MarginPct)
	})

	t.Run("tiny revenue: ratios overflow to null, no panic", func(t *testing.T) {
		t.Parallel()
		// 1e100 / 1e-300 = 1e400 overflows float64: every ratio is null,
		// so no period has a best cost ratio or can be an opportunity.
		out, err := AnalyzeFinancials(FinancialInput{Data: []FinancialPeriod{
			{Period: "a", Revenue: 1e-300, Costs: 1e100}, {Period: "b", Revenue: 2e-300, Costs: 1e100},
		}})
		require.NoError(t, err)
		require.Nil(t, out.Periods[0].MarginPct)
		require.Nil(t, out.CostStructure.BestCostRatioPct)
		require.Empty(t, out.CostStructure.Opportunities)
		require.Contains(t, out.Notes, "margin_pct and cost_ratio_pct are null where revenue is 0 or too small to divide by: a, b.")
		requireMarshals(t, out)
	})

	t.Run("huge amounts stay finite", func(t *testing.T) {
		t.Parallel()
		data := make([]FinancialPeriod, MaxPeriods)
		for i := range data {
			data[i] = FinancialPeriod{Period: itoa(i), Revenue: MaxAbsValue, Costs: MaxAbsValue / 2, Investment: MaxAbsValue}
		}
		data[0].Revenue = 1e-300 // growth from a tiny revenue overflows: null
		out, err := AnalyzeFinancials(FinancialInput{Data: data})
		require.NoError(t, err)
		require.Nil(t, out.Periods[1].RevenueGrowthPct)
		require.False(t, math.IsInf(out.Totals.Revenue, 0))
		requireMarshals(t, out)
	})
}

func TestAnalyzeFinancialsInvalid(t *testing.T) {
	t.Parallel()
	ok := FinancialPeriod{Period: "Q1", Revenue: 1, Costs: 1}
	tests := []struct {
		name  string
		in    FinancialInput
		code  apperr.Code
		parts []string
	}{
		{"no data", FinancialInput{}, apperr.Invalid, []string{"data must list at least one period"}},
		{"unknown analysis type", FinancialInput{Data: []FinancialPeriod{ok}, AnalysisType: "forecast"}, apperr.Invalid,
			[]string{`analysis_type "forecast" is not one of: general, profitability, growth, costs, investment`}},
		{"negative revenue", FinancialInput{Data: []FinancialPeriod{ok, {Period: "Q2", Revenue: -5}}}, apperr.Invalid, []string{"data[1].revenue must not be negative"}},
		{"negative costs", FinancialInput{Data: []FinancialPeriod{{Period: "Q1", Costs: -1}}}, apperr.Invalid, []string{"data[0].costs must not be negative"}},
		{"negative investment", FinancialInput{Data: []FinancialPeriod{{Period: "Q1", Investment: -1}}}, apperr.Invalid, []string{"data[0].investment must not be negative"}},
		{"NaN revenue", FinancialInput{Data: []FinancialPeriod{ok, {Period: "Q2"}, {Period: "Q3"}, {Period: "Q4", Revenue: math.NaN()}}}, apperr.Invalid, []string{"data[3].revenue must be a finite number"}},
		{"Inf costs", FinancialInput{Data: []FinancialPeriod{{Period: "Q1", Costs: math.Inf(1)}}}, apperr.Invalid, []string{"data[0].costs must be a finite number"}},
		{"-Inf investment", FinancialInput{Data: []FinancialPeriod{{Period: "Q1", Investment: math.Inf(-1)}}}, apperr.Invalid, []string{"data[0].investment must be a finite number"}},
		{"beyond MaxAbsValue", FinancialInput{Data: []FinancialPeriod{{Period: "Q1", Revenue: 1e101}}}, apperr.Invalid, []string{"data[0].revenue", "±1e100"}},
		{"blank period", FinancialInput{Data: []FinancialPeriod{{Period: "  "}}}, apperr.Invalid, []string{"data[0].period is required"}},
		{"duplicate period", FinancialInput{Data: []FinancialPeriod{ok, {Period: " Q1 "}}}, apperr.Invalid, []string{`data[1].period "Q1" repeats data[0].period`}},
		{"too many periods", FinancialInput{Data: make([]FinancialPeriod, MaxPeriods+1), AnalysisType: "bogus"}, apperr.TooLarge, []string{"10001 periods; the limit is 10000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := AnalyzeFinancials(tt.in)
			requireCode(t, err, tt.code, tt.parts...)
		})
	}
}
