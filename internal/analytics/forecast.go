package analytics

import (
	"math"
	"slices"
	"strconv"
)

// Bounds and defaults of ForecastSales.
const (
	// MaxPoints bounds len(ForecastInput.Series).
	MaxPoints = 10_000
	// MaxHorizon bounds ForecastInput.Horizon.
	MaxHorizon = 1_000
	// DefaultHorizon is the horizon when none is given.
	DefaultHorizon = 3
	// DefaultConfidence is the interval confidence when none is given.
	DefaultConfidence = 0.95
)

// Confidences lists the accepted interval confidence levels.
func Confidences() []float64 { return []float64{0.8, 0.9, 0.95} }

// Forecast methods reported in ForecastOutput.Method.
const (
	MethodLinearTrend         = "linear_trend"
	MethodLinearTrendSeasonal = "linear_trend_additive_seasonal"
)

// ForecastInput is the sales_forecaster tool's arguments.
type ForecastInput struct {
	// Series holds equally spaced observations, oldest first (plain numbers:
	// the forecast depends only on their order, so period labels would add
	// nothing). 2..MaxPoints finite values within ±MaxAbsValue.
	Series []float64 `json:"series"`
	// Horizon is how many steps to forecast after the last point,
	// 1..MaxHorizon; 0 or absent means DefaultHorizon.
	Horizon int `json:"horizon,omitempty"`
	// SeasonLength is the number of points in one season (12 for monthly data
	// with a yearly pattern, 4 for quarters); 0 or absent means no
	// seasonality. When set it must be at least 2 and the series must hold
	// at least two full seasons (2 × SeasonLength points).
	SeasonLength int `json:"season_length,omitempty"`
	// Confidence is the prediction interval's coverage, one of Confidences;
	// 0 or absent means DefaultConfidence.
	Confidence float64 `json:"confidence,omitempty"`
}

// ForecastOutput is the sales_forecaster tool's result. Figures are not
// rounded (see the package doc). Time t counts points from 0 (the first
// point) to n−1 (the last); forecast step h is at t = n − 1 + h.
type ForecastOutput struct {
	// Method is MethodLinearTrend or MethodLinearTrendSeasonal.
	Method string `json:"method"`
	// Points is len(series).
	Points int `json:"points"`
	// Horizon, SeasonLength and Confidence are the values applied, defaults
	// filled in.
	Horizon      int     `json:"horizon"`
	SeasonLength int     `json:"season_length"` // 0: no seasonality
	Confidence   float64 `json:"confidence"`    // one of Confidences()
	// Trend is the fitted line: trend(t) = intercept + slope × t.
	Trend Trend `json:"trend"`
	// SeasonalIndices[j] is added to the trend at every t with t mod
	// season_length = j; they sum to 0. Empty without seasonality.
	SeasonalIndices []float64 `json:"seasonal_indices"`
	// Fitted[t] = trend(t) + seasonal index of t, for every input point.
	Fitted []float64 `json:"fitted"`
	// ResidualStdError = √(SSE / dof), SSE = Σ (y − fitted)²; null when no
	// degrees of freedom remain (two points without seasonality).
	ResidualStdError *float64 `json:"residual_std_error"`
	// DegreesOfFreedom = n − 2 without seasonality, n − season_length − 1 with
	// it (n points minus the fitted parameters: slope and one level per
	// season position).
	DegreesOfFreedom int `json:"degrees_of_freedom"`
	// RSquared = 1 − SSE / SST, SST = Σ (y − mean y)²; null when all values
	// are equal (SST = 0).
	RSquared *float64 `json:"r_squared"`
	// TQuantile is the Student t quantile used for the intervals,
	// t(1 − (1 − confidence)/2, dof); null when dof = 0.
	TQuantile *float64 `json:"t_quantile"`
	// Forecasts holds one value per step 1..horizon.
	Forecasts []ForecastPoint `json:"forecasts"`
	// Notes explain nulls and caveats.
	Notes []string `json:"notes"`
}

// Trend is a fitted straight line.
type Trend struct {
	// Slope is the change per step.
	Slope float64 `json:"slope"`
	// Intercept is the trend's value at t = 0, the first point (with
	// seasonality: the mean of the season levels at t = 0).
	Intercept float64 `json:"intercept"`
}

// ForecastPoint is one forecast step with its prediction interval.
type ForecastPoint struct {
	// Step is 1 for the first period after the series.
	Step int `json:"step"`
	// T is the time index, n − 1 + step.
	T int `json:"t"`
	// Value = trend(T) + seasonal index of T.
	Value float64 `json:"value"`
	// Lower and Upper = value ∓ t_quantile × residual_std_error ×
	// √(1 + 1/n_j + (T − t̄_j)² / S_tt); null when dof = 0. See ForecastSales.
	Lower *float64 `json:"lower"`
	Upper *float64 `json:"upper"` // see Lower
}

// ForecastSales fits a least-squares linear trend, with additive seasonal
// indices when a season length is given, and forecasts the next horizon
// points with prediction intervals.
//
// The model is y_t = a_j + b·t + ε_t, where j = t mod m is the season
// position (m = season_length, or 1 without seasonality, when it is the
// ordinary line y = a + b·t). It is fitted by ordinary least squares,
// jointly for the slope and the season levels:
//
//	t̄_j, ȳ_j = means of t and y over the points at position j (n_j of them)
//	S_tt = Σ (t − t̄_j)²,  S_ty = Σ (t − t̄_j)(y − ȳ_j)
//	slope b = S_ty / S_tt,  level a_j = ȳ_j − b·t̄_j
//	intercept a = mean of a_j,  seasonal index s_j = a_j − a (Σ s_j = 0)
//
// So each seasonal index is the average detrended value at its position,
// centred to sum 0. Fitting the slope within positions rather than first
// fitting a line through all points and then averaging its residuals matters:
// the one-pass method lets the seasonal pattern leak into the slope (for
// 10, 0, 10, 0, 10, 0 it finds a slope of −0.857 instead of 0), and with the
// joint fit the interval formula below is exact for the model.
//
// The interval at a future t0 with position j is the standard regression
// prediction interval for this model:
//
//	ŷ ± q · σ̂ · √(1 + 1/n_j + (t0 − t̄_j)² / S_tt)
//
// with σ̂ = √(SSE / dof), dof = n − m − 1, and q the two-sided Student t
// quantile (not the normal z, which is too narrow for short series) with dof
// degrees of freedom. Without seasonality this is the familiar
// √(1 + 1/n + (t0 − t̄)² / Σ(t − t̄)²). The interval assumes independent,
// normal errors of constant variance around the fitted model; it widens with
// the distance from the data. With exactly two points (no seasonality) the
// line fits exactly, dof = 0 and the bounds are null.
func ForecastSales(in ForecastInput) (ForecastOutput, error) {
	n := len(in.Series)
	if n > MaxPoints {
		return ForecastOutput{}, tooLargef("series has %d points; the limit is %d", n, MaxPoints)
	}
	horizon := in.Horizon
	switch {
	case horizon == 0:
		horizon = DefaultHorizon
	case horizon < 0:
		return ForecastOutput{}, invalidf("horizon must be between 1 and %d; got %d", MaxHorizon, horizon)
	case horizon > MaxHorizon:
		return ForecastOutput{}, tooLargef("horizon %d exceeds the limit of %d steps", horizon, MaxHorizon)
	}
	conf := in.Confidence
	if conf == 0 {
		conf = DefaultConfidence
	}
	if !slices.Contains(Confidences(), conf) {
		return ForecastOutput{}, invalidf("confidence must be one of 0.8, 0.9, 0.95; got %g", conf)
	}
	if n < 2 {
		return ForecastOutput{}, invalidf("series needs at least 2 points; got %d", n)
	}
	m := in.SeasonLength
	switch {
	case m < 0 || m == 1:
		return ForecastOutput{}, invalidf("season_length must be 0 (no seasonality) or at least 2; got %d", m)
	case m >= 2 && n < 2*m:
		return ForecastOutput{}, invalidf("season_length %d needs at least %d points (two full seasons); got %d", m, 2*m, n)
	}
	for i, y := range in.Series {
		if err := checkNumber(ref{"series", i, ""}, y); err != nil {
			return ForecastOutput{}, err
		}
	}

	f := fitTrend(in.Series, max(m, 1))
	out := ForecastOutput{
		Method:           MethodLinearTrend,
		Points:           n,
		Horizon:          horizon,
		SeasonLength:     m,
		Confidence:       conf,
		Trend:            Trend{Slope: f.slope, Intercept: f.intercept},
		SeasonalIndices:  []float64{},
		Fitted:           f.fitted,
		DegreesOfFreedom: f.dof,
		Forecasts:        make([]ForecastPoint, horizon),
		Notes:            []string{},
	}
	if m >= 2 {
		out.Method = MethodLinearTrendSeasonal
		out.SeasonalIndices = f.seasonal
		if n < 3*m {
			out.Notes = append(out.Notes, "Only "+strconv.Itoa(n/m)+" full seasons: each seasonal index rests on few points, so treat it as rough.")
		}
	}
	if f.sst > 0 {
		r2 := 1 - f.sse/f.sst
		out.RSquared = &r2
	} else {
		out.Notes = append(out.Notes, "All values are equal, so r_squared (the share of variance explained) is undefined and null.")
	}
	var q, sigma float64
	if f.dof > 0 {
		sigma = math.Sqrt(f.sse / float64(f.dof))
		q = studentTQuantile(1-(1-conf)/2, f.dof)
		out.ResidualStdError = &sigma
		out.TQuantile = &q
	} else {
		out.Notes = append(out.Notes, "With 2 points the line fits them exactly and no degrees of freedom are left to estimate the error: residual_std_error, t_quantile and the interval bounds are null. Give at least 3 points for intervals.")
	}
	belowZero := 0
	for h := 1; h <= horizon; h++ {
		t0 := n - 1 + h
		j := t0 % f.groups
		fp := ForecastPoint{Step: h, T: t0, Value: f.levels[j] + f.slope*float64(t0)}
		if f.dof > 0 {
			d := float64(t0) - f.meanT[j]
			half := q * sigma * math.Sqrt(1+1/float64(f.count[j])+d*d/f.stt)
			lo, hi := fp.Value-half, fp.Value+half
			fp.Lower, fp.Upper = &lo, &hi
		}
		if fp.Value < 0 || (fp.Lower != nil && *fp.Lower < 0) {
			belowZero++
		}
		out.Forecasts[h-1] = fp
	}
	if belowZero > 0 && allNonNegative(in.Series) {
		out.Notes = append(out.Notes, strconv.Itoa(belowZero)+" forecast step(s) have a value or lower bound below 0 although the series never goes below 0: the model does not know that sales cannot be negative, so read those figures as 0.")
	}
	return out, nil
}

func allNonNegative(ys []float64) bool {
	for _, y := range ys {
		if y < 0 {
			return false
		}
	}
	return true
}

// trendFit is the least-squares fit of y_t = level[t mod groups] + slope·t.
type trendFit struct {
	groups    int
	count     []int
	meanT     []float64
	levels    []float64
	seasonal  []float64
	slope     float64
	intercept float64
	stt       float64
	fitted    []float64
	sse, sst  float64
	dof       int
}

// fitTrend fits the model described on ForecastSales. It needs
// len(ys) >= 2·groups (groups >= 2) or len(ys) >= 2 (groups = 1), so every
// position has at least two distinct t and S_tt > 0.
func fitTrend(ys []float64, groups int) trendFit {
	n := len(ys)
	f := trendFit{
		groups: groups,
		count:  make([]int, groups),
		meanT:  make([]float64, groups),
		levels: make([]float64, groups),
		fitted: make([]float64, n),
		dof:    n - groups - 1,
	}
	meanY := make([]float64, groups)
	var total float64
	for t, y := range ys {
		j := t % groups
		f.count[j]++
		f.meanT[j] += float64(t)
		meanY[j] += y
		total += y
	}
	for j := range groups {
		f.meanT[j] /= float64(f.count[j])
		meanY[j] /= float64(f.count[j])
	}
	var sty float64
	for t, y := range ys {
		j := t % groups
		dt := float64(t) - f.meanT[j]
		f.stt += dt * dt
		sty += dt * (y - meanY[j])
	}
	f.slope = sty / f.stt
	for j := range groups {
		f.levels[j] = meanY[j] - f.slope*f.meanT[j]
		f.intercept += f.levels[j]
	}
	f.intercept /= float64(groups)
	if groups > 1 {
		f.seasonal = make([]float64, groups)
		for j := range groups {
			f.seasonal[j] = f.levels[j] - f.intercept
		}
	}
	mean := total / float64(n)
	for t, y := range ys {
		f.fitted[t] = f.levels[t%groups] + f.slope*float64(t)
		r := y - f.fitted[t]
		f.sse += r * r
		d := y - mean
		f.sst += d * d
	}
	return f
}

// studentTQuantile returns the p-quantile (0.5 <= p < 1) of Student's t
// distribution with nu > 0 degrees of freedom, by bisection on the CDF; it is
// accurate to about 1e-12 relative, far below anything a forecast needs.
func studentTQuantile(p float64, nu int) float64 {
	lo, hi := 0.0, 1.0
	for studentTCDF(hi, nu) < p && hi < 1e12 {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if studentTCDF(mid, nu) < p {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-13*hi {
			break
		}
	}
	return (lo + hi) / 2
}

// studentTCDF is P(T <= t) for t >= 0: 1 − ½·I_x(ν/2, ½) with x = ν/(ν+t²),
// where I is the regularised incomplete beta function.
func studentTCDF(t float64, nu int) float64 {
	v := float64(nu)
	return 1 - 0.5*regIncBeta(v/2, 0.5, v/(v+t*t))
}

// regIncBeta is the regularised incomplete beta function I_x(a, b), evaluated
// with the continued fraction of Numerical Recipes §6.4 (using the symmetry
// I_x(a,b) = 1 − I_{1−x}(b,a) where the fraction converges faster).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaContinuedFraction(a, b, x) / a
	}
	return 1 - front*betaContinuedFraction(b, a, 1-x)/b
}

// betaContinuedFraction evaluates the incomplete beta continued fraction by
// the modified Lentz method.
func betaContinuedFraction(a, b, x float64) float64 {
	const (
		maxIter = 10_000
		eps     = 1e-15
		tiny    = 1e-300
	)
	clamp := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c, d := 1.0, 1/clamp(1-(a+b)*x/(a+1))
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 / clamp(1+num*d)
		c = clamp(1 + num/c)
		h *= d * c
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 / clamp(1+num*d)
		c = clamp(1 + num/c)
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
