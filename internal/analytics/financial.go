package analytics

import (
	"math"
	"slices"
	"strings"
)

// MaxPeriods bounds len(FinancialInput.Data).
const MaxPeriods = 10_000

// Analysis types accepted in FinancialInput.AnalysisType. Every type computes
// the per-period figures and totals; the type selects which sections,
// insights and recommendations are reported (general: all of them).
const (
	AnalysisGeneral       = "general"
	AnalysisProfitability = "profitability"
	AnalysisGrowth        = "growth"
	AnalysisCosts         = "costs"
	AnalysisInvestment    = "investment"
)

// AnalysisTypes lists the accepted analysis types, general first.
func AnalysisTypes() []string {
	return []string{AnalysisGeneral, AnalysisProfitability, AnalysisGrowth, AnalysisCosts, AnalysisInvestment}
}

// ROIFormula is the return-on-investment definition AnalyzeFinancials uses:
// the operating profit over all periods (revenue − costs; investment is not a
// cost here) net of what was invested, relative to what was invested.
const ROIFormula = "roi_pct = (total_profit - total_investment) / total_investment × 100, where total_profit = Σ(revenue - costs)"

// FinancialInput is the financial_analyzer tool's arguments.
type FinancialInput struct {
	// Data lists the periods oldest first (the order given is the time
	// order: labels are free text and are never sorted). 1..MaxPeriods.
	Data []FinancialPeriod `json:"data"`
	// AnalysisType is one of AnalysisTypes; empty means general.
	AnalysisType string `json:"analysis_type,omitempty"`
}

// FinancialPeriod is one period's figures. Amounts are in one currency, are
// finite, not negative and at most MaxAbsValue.
type FinancialPeriod struct {
	// Period is a unique, non-blank label such as "2024-Q1".
	Period string `json:"period"`
	// Revenue is the period's revenue.
	Revenue float64 `json:"revenue"`
	// Costs is the period's operating costs.
	Costs float64 `json:"costs"`
	// Investment is the amount invested in the period (optional, default 0).
	Investment float64 `json:"investment,omitempty"`
}

// FinancialOutput is the financial_analyzer tool's result. Amounts and
// percentages are rounded to 2 decimals; a null percentage means its
// denominator was zero (see Notes).
type FinancialOutput struct {
	// AnalysisType is the analysis type applied (general when none was given).
	AnalysisType string `json:"analysis_type"`
	// PeriodCount is len(Periods).
	PeriodCount int `json:"period_count"`
	// Periods holds the per-period figures in input order.
	Periods []PeriodFigures `json:"periods"`
	// Totals sums the periods.
	Totals FinancialTotals `json:"totals"`
	// Profitability is reported for the general and profitability types.
	Profitability *Profitability `json:"profitability,omitempty"`
	// Growth is reported for the general and growth types.
	Growth *Growth `json:"growth,omitempty"`
	// CostStructure is reported for the general and costs types.
	CostStructure *CostStructure `json:"cost_structure,omitempty"`
	// Investment is reported for the general and investment types.
	Investment *InvestmentReturn `json:"investment,omitempty"`
	// Insights are statements of fact derived from the figures by fixed rules.
	Insights []string `json:"insights"`
	// Recommendations are actions suggested by fixed rules on the figures.
	Recommendations []string `json:"recommendations"`
	// Notes explain null figures.
	Notes []string `json:"notes"`
}

// PeriodFigures is one period's computed figures.
type PeriodFigures struct {
	Period     string  `json:"period"`     // the input label, trimmed
	Revenue    float64 `json:"revenue"`    // as given
	Costs      float64 `json:"costs"`      // as given
	Investment float64 `json:"investment"` // as given, 0 when absent
	// Profit = revenue − costs.
	Profit float64 `json:"profit"`
	// MarginPct = profit / revenue × 100; null when revenue is 0.
	MarginPct *float64 `json:"margin_pct"`
	// CostRatioPct = costs / revenue × 100; null when revenue is 0.
	CostRatioPct *float64 `json:"cost_ratio_pct"`
	// RevenueGrowthPct = (revenue − previous revenue) / previous revenue ×
	// 100; null for the first period and when the previous revenue is 0.
	RevenueGrowthPct *float64 `json:"revenue_growth_pct"`
	// CostGrowthPct is the same growth for costs.
	CostGrowthPct *float64 `json:"cost_growth_pct"`
}

// FinancialTotals sums all periods; Profit = Revenue − Costs.
type FinancialTotals struct {
	Revenue    float64 `json:"revenue"`    // Σ revenue
	Costs      float64 `json:"costs"`      // Σ costs
	Profit     float64 `json:"profit"`     // Σ revenue − Σ costs
	Investment float64 `json:"investment"` // Σ investment
}

// Profitability summarises margins.
type Profitability struct {
	// OverallMarginPct = total profit / total revenue × 100 (revenue-weighted);
	// null when total revenue is 0.
	OverallMarginPct *float64 `json:"overall_margin_pct"`
	// AverageMarginPct is the unweighted mean of the periods' margins, over
	// periods with revenue; null when none has.
	AverageMarginPct *float64 `json:"average_margin_pct"`
	// FirstMarginPct and LastMarginPct are the first and last periods'
	// margins.
	FirstMarginPct *float64 `json:"first_margin_pct"`
	LastMarginPct  *float64 `json:"last_margin_pct"` // see FirstMarginPct
	// MarginChangePts = last margin − first margin, in percentage points;
	// null with one period or when either margin is null.
	MarginChangePts *float64 `json:"margin_change_pts"`
	// BestMarginPeriod and WorstMarginPeriod have the highest and lowest
	// margins (the earliest on ties); null when no period has revenue.
	BestMarginPeriod  *string `json:"best_margin_period"`
	WorstMarginPeriod *string `json:"worst_margin_period"` // see BestMarginPeriod
	// LossPeriods lists periods whose costs exceed their revenue.
	LossPeriods []string `json:"loss_periods"`
}

// Growth summarises growth from the first to the last period.
type Growth struct {
	// RevenueGrowthPct = (last revenue − first revenue) / first revenue × 100;
	// null with one period or when the first revenue is 0.
	RevenueGrowthPct *float64 `json:"revenue_growth_pct"`
	// CompoundGrowthPct is the constant per-period growth that leads from the
	// first to the last revenue (CAGR with periods for years):
	// ((last / first)^(1/(n−1)) − 1) × 100; null when RevenueGrowthPct is.
	CompoundGrowthPct *float64 `json:"compound_growth_pct"`
	// CostGrowthPct is the first-to-last growth of costs, null likewise.
	CostGrowthPct *float64 `json:"cost_growth_pct"`
	// ProfitChange = last profit − first profit (an amount: a growth
	// percentage of a profit that can be negative means nothing); null with
	// one period.
	ProfitChange *float64 `json:"profit_change"`
	// DecliningPeriods lists periods whose revenue fell against the previous
	// period.
	DecliningPeriods []string `json:"declining_periods"`
}

// CostStructure relates costs to revenue.
type CostStructure struct {
	// OverallCostRatioPct = total costs / total revenue × 100; null when total
	// revenue is 0.
	OverallCostRatioPct *float64 `json:"overall_cost_ratio_pct"`
	// BestCostRatioPct is the lowest cost ratio of any period with revenue,
	// reached in BestCostRatioPeriod (the earliest on ties); both null when no
	// period has revenue.
	BestCostRatioPct    *float64 `json:"best_cost_ratio_pct"`
	BestCostRatioPeriod *string  `json:"best_cost_ratio_period"` // see BestCostRatioPct
	// Opportunities lists the periods where costs grew faster than revenue.
	Opportunities []CostOpportunity `json:"opportunities"`
	// TotalPotentialSavings sums the opportunities' PotentialSavings.
	TotalPotentialSavings float64 `json:"total_potential_savings"`
}

// CostOpportunity is a period where costs grew faster than revenue against
// the previous period, that is, where the cost ratio rose: costs/revenue >
// previous costs/previous revenue, both revenues positive. (For positive
// figures this is the same as cost growth % > revenue growth %, and it also
// catches costs rising from 0, whose growth % is null.)
type CostOpportunity struct {
	Period               string   `json:"period"`                  // the period whose ratio rose
	PreviousPeriod       string   `json:"previous_period"`         // the period before it
	CostGrowthPct        *float64 `json:"cost_growth_pct"`         // as in PeriodFigures
	RevenueGrowthPct     *float64 `json:"revenue_growth_pct"`      // as in PeriodFigures
	PreviousCostRatioPct float64  `json:"previous_cost_ratio_pct"` // costs/revenue×100 before
	CostRatioPct         float64  `json:"cost_ratio_pct"`          // costs/revenue×100 now
	// PotentialSavings = costs − revenue × best cost ratio: how much lower the
	// period's costs would have been at the best ratio of any period.
	PotentialSavings float64 `json:"potential_savings"`
}

// InvestmentReturn reports return on investment; see ROIFormula.
type InvestmentReturn struct {
	TotalInvestment float64 `json:"total_investment"` // Σ investment
	TotalProfit     float64 `json:"total_profit"`     // Σ (revenue − costs)
	// NetReturn = total profit − total investment.
	NetReturn float64 `json:"net_return"`
	// ROIPct = net return / total investment × 100; null when nothing was
	// invested.
	ROIPct *float64 `json:"roi_pct"`
	// Formula is ROIFormula, so a reader of the output knows the definition.
	Formula string `json:"formula"`
}

// finPeriod holds one period's unrounded figures.
type finPeriod struct {
	name                      string
	revenue, costs, invest    float64
	profit                    float64
	margin, costRatio         *float64
	revenueGrowth, costGrowth *float64
	// hasRatios is set when margin and cost ratio are defined: revenue is
	// positive and not so small that a ratio overflows (1e100 / 1e-300).
	hasRatios                  bool
	revenueFell, costRatioRose bool
}

// AnalyzeFinancials computes per-period profit, margin, cost ratio and growth,
// totals, and (per analysis type) profitability, growth, cost structure with
// reduction opportunities, and ROI, with insights and recommendations drawn
// from those figures by fixed rules.
//
// Formulas: profit = revenue − costs; margin % = profit / revenue × 100; cost
// ratio % = costs / revenue × 100; growth % = (x − previous x) / previous x ×
// 100; compound growth % = ((last / first)^(1/(n−1)) − 1) × 100; ROI: see
// ROIFormula. Any of these with a zero denominator is null.
func AnalyzeFinancials(in FinancialInput) (FinancialOutput, error) {
	if len(in.Data) > MaxPeriods {
		return FinancialOutput{}, tooLargef("data has %d periods; the limit is %d", len(in.Data), MaxPeriods)
	}
	typ := strings.TrimSpace(in.AnalysisType)
	if typ == "" {
		typ = AnalysisGeneral
	}
	if !slices.Contains(AnalysisTypes(), typ) {
		return FinancialOutput{}, invalidf("analysis_type %q is not one of: %s", in.AnalysisType, strings.Join(AnalysisTypes(), ", "))
	}
	if len(in.Data) == 0 {
		return FinancialOutput{}, invalidf("data must list at least one period")
	}
	ps, err := finPeriods(in.Data)
	if err != nil {
		return FinancialOutput{}, err
	}

	a := finAnalysis{typ: typ, ps: ps}
	a.compute()
	return a.output(), nil
}

// finPeriods validates the input and computes the per-period figures.
func finPeriods(data []FinancialPeriod) ([]finPeriod, error) {
	ps := make([]finPeriod, len(data))
	seen := make(map[string]int, len(data))
	for i, d := range data {
		name, err := checkLabel(ref{"data", i, "period"}, d.Period)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[name]; dup {
			return nil, invalidf("data[%d].period %q repeats data[%d].period; each period must appear once", i, name, j)
		}
		seen[name] = i
		if err := checkNonNegative(ref{"data", i, "revenue"}, d.Revenue); err != nil {
			return nil, err
		}
		if err := checkNonNegative(ref{"data", i, "costs"}, d.Costs); err != nil {
			return nil, err
		}
		if err := checkNonNegative(ref{"data", i, "investment"}, d.Investment); err != nil {
			return nil, err
		}
		p := finPeriod{
			name:    name,
			revenue: d.Revenue,
			costs:   d.Costs,
			invest:  d.Investment,
			profit:  d.Revenue - d.Costs,
		}
		p.margin = percent(p.profit, p.revenue)
		p.costRatio = percent(p.costs, p.revenue)
		p.hasRatios = p.margin != nil && p.costRatio != nil
		if i > 0 {
			prev := ps[i-1]
			p.revenueGrowth = growthPct(prev.revenue, p.revenue)
			p.costGrowth = growthPct(prev.costs, p.costs)
			p.revenueFell = p.revenue < prev.revenue
			// Compare ratios by cross-multiplication (exact for the integers
			// most amounts are) rather than by dividing, so 60/100 and
			// 120/200 are equal, not different by a rounding error.
			p.costRatioRose = prev.hasRatios && p.hasRatios && p.costs*prev.revenue > prev.costs*p.revenue
		}
		ps[i] = p
	}
	return ps, nil
}

// growthPct = (cur − prev) / prev × 100, nil when prev is 0.
func growthPct(prev, cur float64) *float64 {
	return percent(cur-prev, prev)
}

// finAnalysis carries the figures between the computing steps.
type finAnalysis struct {
	typ string
	ps  []finPeriod

	totRevenue, totCosts, totProfit, totInvest float64

	prof  Profitability
	grow  Growth
	cost  CostStructure
	inv   InvestmentReturn
	best  int // index of the best cost ratio, -1 if none
	notes []string
}

func (a *finAnalysis) compute() {
	for _, p := range a.ps {
		a.totRevenue += p.revenue
		a.totCosts += p.costs
		a.totInvest += p.invest
	}
	a.totProfit = a.totRevenue - a.totCosts
	a.profitability()
	a.growth()
	a.costs()
	a.investment()
	a.explainNulls()
}

func (a *finAnalysis) profitability() {
	ps := a.ps
	first, last := ps[0], ps[len(ps)-1]
	a.prof = Profitability{
		OverallMarginPct: percent(a.totProfit, a.totRevenue),
		FirstMarginPct:   first.margin,
		LastMarginPct:    last.margin,
		LossPeriods:      []string{},
	}
	if len(ps) > 1 && first.margin != nil && last.margin != nil {
		d := *last.margin - *first.margin
		a.prof.MarginChangePts = &d
	}
	var sum float64
	n, bestI, worstI := 0, -1, -1
	for i, p := range ps {
		if p.profit < 0 {
			a.prof.LossPeriods = append(a.prof.LossPeriods, p.name)
		}
		if p.margin == nil {
			continue
		}
		sum += *p.margin
		n++
		// Cross-multiplied like the cost ratios, so equal margins (2/11 and
		// 2/11 written as 200/1100 and 240/1320) tie and the earliest wins.
		if bestI < 0 || p.profit*ps[bestI].revenue > ps[bestI].profit*p.revenue {
			bestI = i
		}
		if worstI < 0 || p.profit*ps[worstI].revenue < ps[worstI].profit*p.revenue {
			worstI = i
		}
	}
	if n > 0 {
		avg := sum / float64(n)
		a.prof.AverageMarginPct = &avg
		a.prof.BestMarginPeriod = &ps[bestI].name
		a.prof.WorstMarginPeriod = &ps[worstI].name
	}
}

func (a *finAnalysis) growth() {
	ps := a.ps
	a.grow.DecliningPeriods = []string{}
	if len(ps) < 2 {
		return
	}
	first, last := ps[0], ps[len(ps)-1]
	a.grow.RevenueGrowthPct = growthPct(first.revenue, last.revenue)
	a.grow.CostGrowthPct = growthPct(first.costs, last.costs)
	change := last.profit - first.profit
	a.grow.ProfitChange = &change
	if a.grow.RevenueGrowthPct != nil {
		g := (math.Pow(last.revenue/first.revenue, 1/float64(len(ps)-1)) - 1) * 100
		if !math.IsNaN(g) && !math.IsInf(g, 0) {
			a.grow.CompoundGrowthPct = &g
		}
	}
	for _, p := range ps[1:] {
		if p.revenueFell {
			a.grow.DecliningPeriods = append(a.grow.DecliningPeriods, p.name)
		}
	}
}

func (a *finAnalysis) costs() {
	ps := a.ps
	a.cost = CostStructure{
		OverallCostRatioPct: percent(a.totCosts, a.totRevenue),
		Opportunities:       []CostOpportunity{},
	}
	a.best = -1
	for i, p := range ps {
		if !p.hasRatios {
			continue
		}
		if a.best < 0 || p.costs*ps[a.best].revenue < ps[a.best].costs*p.revenue {
			a.best = i
		}
	}
	if a.best < 0 {
		return
	}
	best := ps[a.best]
	a.cost.BestCostRatioPct = best.costRatio
	a.cost.BestCostRatioPeriod = &best.name
	bestRatio := best.costs / best.revenue
	for i, p := range ps {
		if !p.costRatioRose {
			continue
		}
		prev := ps[i-1]
		// The ratio rose, so it is above the best ratio and the saving is
		// positive; max guards against a rounding error all the same.
		saving := math.Max(0, p.costs-p.revenue*bestRatio)
		a.cost.Opportunities = append(a.cost.Opportunities, CostOpportunity{
			Period:               p.name,
			PreviousPeriod:       prev.name,
			CostGrowthPct:        round2p(p.costGrowth),
			RevenueGrowthPct:     round2p(p.revenueGrowth),
			PreviousCostRatioPct: round2(*prev.costRatio),
			CostRatioPct:         round2(*p.costRatio),
			PotentialSavings:     round2(saving),
		})
		a.cost.TotalPotentialSavings += saving
	}
	a.cost.TotalPotentialSavings = round2(a.cost.TotalPotentialSavings)
}

func (a *finAnalysis) investment() {
	net := a.totProfit - a.totInvest
	a.inv = InvestmentReturn{
		TotalInvestment: round2(a.totInvest),
		TotalProfit:     round2(a.totProfit),
		NetReturn:       round2(net),
		ROIPct:          round2p(percent(net, a.totInvest)),
		Formula:         ROIFormula,
	}
}

// explainNulls writes a note for every kind of null figure, naming where it
// occurs, so a reader never has to guess why a value is missing.
func (a *finAnalysis) explainNulls() {
	// A denominator is 0 in every sane input; "too small" covers amounts
	// like 1e-300, whose quotients overflow and are null as well.
	var noRatio, noRevenueGrowth, noCostGrowth []string
	tiny := [3]bool{}
	for i, p := range a.ps {
		if !p.hasRatios {
			noRatio = append(noRatio, p.name)
			tiny[0] = tiny[0] || p.revenue != 0
		}
		if i == 0 {
			continue
		}
		prev := a.ps[i-1]
		if p.revenueGrowth == nil {
			noRevenueGrowth = append(noRevenueGrowth, p.name)
			tiny[1] = tiny[1] || prev.revenue != 0
		}
		if p.costGrowth == nil {
			noCostGrowth = append(noCostGrowth, p.name)
			tiny[2] = tiny[2] || prev.costs != 0
		}
	}
	zero := func(tiny bool) string {
		if tiny {
			return "0 or too small to divide by"
		}
		return "0"
	}
	if len(a.ps) == 1 {
		a.notes = append(a.notes, "Growth figures are null: growth needs at least two periods and only one was given.")
	}
	if len(noRatio) > 0 {
		a.notes = append(a.notes, "margin_pct and cost_ratio_pct are null where revenue is "+zero(tiny[0])+": "+listNames(noRatio)+".")
	}
	if len(noRevenueGrowth) > 0 {
		a.notes = append(a.notes, "revenue_growth_pct is null where the previous period's revenue is "+zero(tiny[1])+": "+listNames(noRevenueGrowth)+".")
	}
	if len(noCostGrowth) > 0 {
		a.notes = append(a.notes, "cost_growth_pct is null where the previous period's costs are "+zero(tiny[2])+": "+listNames(noCostGrowth)+".")
	}
	if a.totInvest == 0 && (a.typ == AnalysisGeneral || a.typ == AnalysisInvestment) {
		a.notes = append(a.notes, "roi_pct is null because no investment was reported.")
	}
}

// wants reports whether the analysis type includes the section.
func (a *finAnalysis) wants(section string) bool {
	return a.typ == AnalysisGeneral || a.typ == section
}

func (a *finAnalysis) output() FinancialOutput {
	out := FinancialOutput{
		AnalysisType: a.typ,
		PeriodCount:  len(a.ps),
		Periods:      make([]PeriodFigures, len(a.ps)),
		Totals: FinancialTotals{
			Revenue:    round2(a.totRevenue),
			Costs:      round2(a.totCosts),
			Profit:     round2(a.totProfit),
			Investment: round2(a.totInvest),
		},
		Insights:        []string{},
		Recommendations: []string{},
		Notes:           append([]string{}, a.notes...),
	}
	for i, p := range a.ps {
		out.Periods[i] = PeriodFigures{
			Period:           p.name,
			Revenue:          round2(p.revenue),
			Costs:            round2(p.costs),
			Investment:       round2(p.invest),
			Profit:           round2(p.profit),
			MarginPct:        round2p(p.margin),
			CostRatioPct:     round2p(p.costRatio),
			RevenueGrowthPct: round2p(p.revenueGrowth),
			CostGrowthPct:    round2p(p.costGrowth),
		}
	}
	if a.wants(AnalysisGrowth) {
		g := a.grow
		g.RevenueGrowthPct = round2p(g.RevenueGrowthPct)
		g.CompoundGrowthPct = round2p(g.CompoundGrowthPct)
		g.CostGrowthPct = round2p(g.CostGrowthPct)
		g.ProfitChange = round2p(g.ProfitChange)
		out.Growth = &g
		a.growthTexts(&out)
	}
	if a.wants(AnalysisProfitability) {
		p := a.prof
		p.OverallMarginPct = round2p(p.OverallMarginPct)
		p.AverageMarginPct = round2p(p.AverageMarginPct)
		p.FirstMarginPct = round2p(p.FirstMarginPct)
		p.LastMarginPct = round2p(p.LastMarginPct)
		p.MarginChangePts = round2p(p.MarginChangePts)
		out.Profitability = &p
		a.profitabilityTexts(&out)
	}
	if a.wants(AnalysisCosts) {
		c := a.cost
		c.OverallCostRatioPct = round2p(c.OverallCostRatioPct)
		c.BestCostRatioPct = round2p(c.BestCostRatioPct)
		out.CostStructure = &c
		a.costTexts(&out)
	}
	if a.wants(AnalysisInvestment) {
		inv := a.inv
		out.Investment = &inv
		a.investmentTexts(&out)
	}
	if len(out.Recommendations) == 0 {
		out.Recommendations = append(out.Recommendations, "No rule flagged a problem in these figures; keep tracking margin and cost ratio every period.")
	}
	return out
}

// change describes a signed percentage as a verb phrase.
func change(pct float64) string {
	switch r := fmtFixed(pct, 1); {
	case r == "0.0":
		return "stayed flat"
	case pct > 0:
		return "grew " + fmtPct(pct)
	default:
		return "fell " + fmtPct(-pct)
	}
}

func (a *finAnalysis) growthTexts(out *FinancialOutput) {
	ps := a.ps
	first, last := ps[0], ps[len(ps)-1]
	switch {
	case len(ps) == 1:
		out.Insights = append(out.Insights, "Only one period ("+first.name+") was given: growth needs at least two periods, so growth figures are null.")
		return
	case a.grow.RevenueGrowthPct == nil:
		out.Insights = append(out.Insights, "Revenue growth from "+first.name+" cannot be computed because revenue in "+first.name+" was 0.")
	default:
		s := "Revenue " + change(*a.grow.RevenueGrowthPct) + " from " + first.name + " (" + fmtMoney(first.revenue) + ") to " + last.name + " (" + fmtMoney(last.revenue) + ")"
		if len(ps) > 2 && a.grow.CompoundGrowthPct != nil {
			s += ", a compound " + fmtPct(*a.grow.CompoundGrowthPct) + " per period"
		}
		out.Insights = append(out.Insights, s+".")
	}
	if n := len(a.grow.DecliningPeriods); n > 0 {
		out.Insights = append(out.Insights, "Revenue fell against the previous period in "+itoa(n)+" of "+itoa(len(ps)-1)+" period-to-period changes: "+listNames(a.grow.DecliningPeriods)+".")
	}
	if g := a.grow.RevenueGrowthPct; g != nil && fmtFixed(*g, 1) != "0.0" && *g < 0 {
		out.Recommendations = append(out.Recommendations, "Revenue fell "+fmtPct(-*g)+" from "+first.name+" to "+last.name+": review sales volume, pricing and customer retention.")
	}
}

func (a *finAnalysis) profitabilityTexts(out *FinancialOutput) {
	ps := a.ps
	first, last := ps[0], ps[len(ps)-1]
	if m := a.prof.OverallMarginPct; m != nil {
		out.Insights = append(out.Insights, "Overall profit margin is "+fmtPct(*m)+" (profit "+fmtMoney(a.totProfit)+" on revenue "+fmtMoney(a.totRevenue)+").")
	} else {
		out.Insights = append(out.Insights, "Total revenue is 0, so no profit margin can be computed.")
	}
	if d := a.prof.MarginChangePts; d != nil {
		from, to := fmtPct(*first.margin), fmtPct(*last.margin)
		switch {
		case fmtFixed(*d, 1) == "0.0":
			out.Insights = append(out.Insights, "Margin held at "+to+" between "+first.name+" and "+last.name+".")
		case *d > 0:
			out.Insights = append(out.Insights, "Margin rose from "+from+" to "+to+" between "+first.name+" and "+last.name+".")
		default:
			out.Insights = append(out.Insights, "Margin fell from "+from+" to "+to+" between "+first.name+" and "+last.name+".")
			out.Recommendations = append(out.Recommendations, "Margin fell "+fmtFixed(-*d, 1)+" percentage points from "+first.name+" to "+last.name+": find which costs grew and whether prices kept pace.")
		}
	}
	if b, w := a.prof.BestMarginPeriod, a.prof.WorstMarginPeriod; b != nil && *b != *w {
		bi, wi := a.index(*b), a.index(*w)
		out.Insights = append(out.Insights, "Best margin: "+fmtPct(*ps[bi].margin)+" in "+*b+"; worst: "+fmtPct(*ps[wi].margin)+" in "+*w+".")
	}
	if loss := a.prof.LossPeriods; len(loss) > 0 {
		out.Insights = append(out.Insights, "Costs exceeded revenue (a loss) in "+itoa(len(loss))+" of "+itoa(len(ps))+" periods: "+listNames(loss)+".")
		out.Recommendations = append(out.Recommendations, "Review pricing and costs in the loss-making periods: "+listNames(loss)+".")
	}
}

func (a *finAnalysis) index(name string) int {
	for i, p := range a.ps {
		if p.name == name {
			return i
		}
	}
	return -1
}

func (a *finAnalysis) costTexts(out *FinancialOutput) {
	ps := a.ps
	first, last := ps[0], ps[len(ps)-1]
	if r := a.cost.OverallCostRatioPct; r != nil && a.best >= 0 {
		out.Insights = append(out.Insights, "Costs were "+fmtPct(*r)+" of revenue overall; the lowest ratio was "+fmtPct(*ps[a.best].costRatio)+" in "+ps[a.best].name+".")
	}
	if len(ps) > 1 && a.grow.CostGrowthPct != nil && a.grow.RevenueGrowthPct != nil {
		out.Insights = append(out.Insights, "Costs "+change(*a.grow.CostGrowthPct)+" while revenue "+change(*a.grow.RevenueGrowthPct)+" from "+first.name+" to "+last.name+".")
	}
	opps := a.cost.Opportunities
	if len(opps) == 0 {
		if len(ps) > 1 {
			out.Insights = append(out.Insights, "Costs never grew faster than revenue from one period to the next.")
		}
		return
	}
	names := make([]string, len(opps))
	for i, o := range opps {
		names[i] = o.Period
	}
	out.Insights = append(out.Insights, "Costs grew faster than revenue in "+itoa(len(opps))+" of "+itoa(len(ps)-1)+" period-to-period changes: "+listNames(names)+".")
	best := ps[a.best]
	out.Recommendations = append(out.Recommendations, "Bring the cost ratio back towards "+fmtPct(*best.costRatio)+" (reached in "+best.name+"): at that ratio costs would have been "+fmtMoney(a.cost.TotalPotentialSavings)+" lower in "+listNames(names)+".")
}

func (a *finAnalysis) investmentTexts(out *FinancialOutput) {
	inv := a.inv
	if inv.ROIPct == nil {
		out.Insights = append(out.Insights, "No investment was reported, so ROI is not computed.")
		return
	}
	out.Insights = append(out.Insights, "ROI is "+fmtPct(*inv.ROIPct)+": total profit "+fmtMoney(a.totProfit)+" against total investment "+fmtMoney(a.totInvest)+" (net return "+fmtMoney(a.totProfit-a.totInvest)+").")
	if a.totProfit < a.totInvest {
		out.Recommendations = append(out.Recommendations, "The investment has not paid back: total profit is "+fmtMoney(a.totInvest-a.totProfit)+" short of total investment; review the investment plan and its expected payback time.")
	}
}
