package analytics

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// TestForecastSalesLinear works a five-point series by hand.
//
//	y = 1, 3, 2, 5, 4 at t = 0..4; t̄ = 2, ȳ = 3
//	S_tt = 4+1+0+1+4 = 10; S_ty = (−2)(−2) + (−1)(0) + 0(−1) + 1·2 + 2·1 = 8
//	slope = 8/10 = 0.8; intercept = 3 − 0.8·2 = 1.4
//	fitted 1.4, 2.2, 3.0, 3.8, 4.6; residuals −0.4, 0.8, −1, 1.2, −0.6
//	SSE = 0.16+0.64+1+1.44+0.36 = 3.6; SST = 4+0+1+4+1 = 10; R² = 1 − 0.36 = 0.64
//	dof = 5 − 2 = 3; σ̂ = √(3.6/3) = √1.2 = 1.0954451; t(0.975, 3) = 3.1824463
//	step 1: t0 = 5, ŷ = 1.4 + 0.8·5 = 5.4,
//	  half-width = 3.1824463 · 1.0954451 · √(1 + 1/5 + (5−2)²/10) = 3.4861... · √2.1
//	             = 3.4861818 · 1.4491377 = 5.0519769 → [0.3480231, 10.4519769]
//	step 3: t0 = 7, ŷ = 7, half = 3.4861818 · √(1 + 0.2 + 25/10) = 3.4861818 · 1.9235384
//	             = 6.7058305 → [0.2941695, 13.7058305]
func TestForecastSalesLinear(t *testing.T) {
	t.Parallel()
	out, err := ForecastSales(ForecastInput{Series: []float64{1, 3, 2, 5, 4}})
	require.NoError(t, err)
	const d = 1e-6
	require.Equal(t, MethodLinearTrend, out.Method)
	require.Equal(t, 5, out.Points)
	require.Equal(t, DefaultHorizon, out.Horizon)
	require.Equal(t, 0, out.SeasonLength)
	require.Equal(t, DefaultConfidence, out.Confidence)
	require.InDelta(t, 0.8, out.Trend.Slope, d)
	require.InDelta(t, 1.4, out.Trend.Intercept, d)
	require.Empty(t, out.SeasonalIndices)
	require.InDeltaSlice(t, []float64{1.4, 2.2, 3.0, 3.8, 4.6}, out.Fitted, d)
	require.Equal(t, 3, out.DegreesOfFreedom)
	requireNear(t, 1.0954451, out.ResidualStdError, d, "residual std error")
	requireNear(t, 0.64, out.RSquared, d, "r squared")
	requireNear(t, 3.1824463, out.TQuantile, d, "t quantile")
	require.Len(t, out.Forecasts, 3)
	first, last := out.Forecasts[0], out.Forecasts[2]
	require.Equal(t, 1, first.Step)
	require.Equal(t, 5, first.T)
	require.InDelta(t, 5.4, first.Value, d)
	requireNear(t, 0.3480231, first.Lower, d, "lower 1")
	requireNear(t, 10.4519769, first.Upper, d, "upper 1")
	require.InDelta(t, 6.2, out.Forecasts[1].Value, d)
	require.Equal(t, 7, last.T)
	require.InDelta(t, 7.0, last.Value, d)
	requireNear(t, 0.2941695, last.Lower, d, "lower 3")
	requireNear(t, 13.7058305, last.Upper, d, "upper 3")
	// Intervals widen with the distance from the data.
	require.Greater(t, *last.Upper-*last.Lower, *first.Upper-*first.Lower)
	require.Empty(t, out.Notes)
}

// TestForecastSalesSeasonal works a seasonal series by hand (season 2).
//
//	y = 1, 2, 4, 3 at t = 0..3; position 0: t = 0, 2 (y 1, 4); position 1: t = 1, 3 (y 2, 3)
//	t̄_0 = 1, ȳ_0 = 2.5; t̄_1 = 2, ȳ_1 = 2.5
//	S_tt = 1+1+1+1 = 4; S_ty = (−1)(−1.5) + 1·1.5 + (−1)(−0.5) + 1·0.5 = 4; slope = 1
//	levels a_0 = 2.5 − 1 = 1.5, a_1 = 2.5 − 2 = 0.5; intercept = 1; indices +0.5, −0.5
//	fitted 1.5, 1.5, 3.5, 3.5; residuals −0.5, 0.5, 0.5, −0.5; SSE = 1
//	SST = 2.25+0.25+2.25+0.25 = 5; R² = 0.8; dof = 4 − 2 − 1 = 1; σ̂ = 1
//	t(0.975, 1) = 12.7062047
//	step 1: t0 = 4 (position 0): ŷ = 1.5 + 4 = 5.5;
//	  half = 12.7062047 · √(1 + 1/2 + (4−1)²/4) = 12.7062047 · 1.9364917 = 24.6054597
//	  → [−19.1054597, 30.1054597]
//	step 2: t0 = 5 (position 1): ŷ = 0.5 + 5 = 5.5;
//	  half = 12.7062047 · √(1 + 1/2 + (5−2)²/4) = the same
func TestForecastSalesSeasonal(t *testing.T) {
	t.Parallel()
	out, err := ForecastSales(ForecastInput{Series: []float64{1, 2, 4, 3}, SeasonLength: 2, Horizon: 2})
	require.NoError(t, err)
	const d = 1e-4
	require.Equal(t, MethodLinearTrendSeasonal, out.Method)
	require.InDelta(t, 1.0, out.Trend.Slope, d)
	require.InDelta(t, 1.0, out.Trend.Intercept, d)
	require.InDeltaSlice(t, []float64{0.5, -0.5}, out.SeasonalIndices, d)
	require.InDeltaSlice(t, []float64{1.5, 1.5, 3.5, 3.5}, out.Fitted, d)
	require.Equal(t, 1, out.DegreesOfFreedom)
	requireNear(t, 1, out.ResidualStdError, d, "sigma")
	requireNear(t, 0.8, out.RSquared, d, "r squared")
	requireNear(t, 12.7062047, out.TQuantile, d, "t quantile")
	for _, fp := range out.Forecasts {
		require.InDelta(t, 5.5, fp.Value, d)
		requireNear(t, -19.1054597, fp.Lower, d, "lower")
		requireNear(t, 30.1054597, fp.Upper, d, "upper")
	}
	require.Equal(t, []string{
		"Only 2 full seasons: each seasonal index rests on few points, so treat it as rough.",
		"2 forecast step(s) have a value or lower bound below 0 although the series never goes below 0: the model does not know that sales cannot be negative, so read those figures as 0.",
	}, out.Notes)
}

// TestForecastSalesPureSeason is the case that motivated the joint fit: a
// series with no trend at all. A line through all points would find slope
// Σ(t−2.5)(y−5)/Σ(t−2.5)² = (−12.5+7.5−2.5−2.5+7.5−12.5)/17.5 = −0.857;
// fitting within season positions finds 0, indices ±5, and an exact fit.
func TestForecastSalesPureSeason(t *testing.T) {
	t.Parallel()
	out, err := ForecastSales(ForecastInput{Series: []float64{10, 0, 10, 0, 10, 0}, SeasonLength: 2, Horizon: 4})
	require.NoError(t, err)
	require.InDelta(t, 0, out.Trend.Slope, 1e-12)
	require.InDelta(t, 5, out.Trend.Intercept, 1e-12)
	require.InDeltaSlice(t, []float64{5, -5}, out.SeasonalIndices, 1e-12)
	requireNear(t, 1, out.RSquared, 1e-12, "exact fit")
	requireNear(t, 0, out.ResidualStdError, 1e-12, "no error")
	want := []float64{10, 0, 10, 0}
	for i, fp := range out.Forecasts {
		require.InDelta(t, want[i], fp.Value, 1e-12)
		require.InDelta(t, want[i], *fp.Lower, 1e-12, "a zero error gives a zero-width interval")
	}

	// Trend and season together: y = 2t ± 3 -> slope 2, intercept 0,
	// indices +3, −3; t = 8 is position 0: 16 + 3 = 19.
	out, err = ForecastSales(ForecastInput{Series: []float64{3, -1, 7, 3, 11, 7, 15, 11}, SeasonLength: 2, Horizon: 1})
	require.NoError(t, err)
	require.InDelta(t, 2, out.Trend.Slope, 1e-12)
	require.InDelta(t, 0, out.Trend.Intercept, 1e-12)
	require.InDeltaSlice(t, []float64{3, -3}, out.SeasonalIndices, 1e-12)
	require.InDelta(t, 19, out.Forecasts[0].Value, 1e-12)
}

func TestForecastSalesEdgeCases(t *testing.T) {
	t.Parallel()

	t.Run("two points: exact line, intervals null", func(t *testing.T) {
		t.Parallel()
		// slope (5−3)/1 = 2, intercept 3; forecasts 3 + 2·2 = 7, 9, 11.
		// SST = 1+1 = 2, SSE = 0 -> R² = 1; dof = 0.
		out, err := ForecastSales(ForecastInput{Series: []float64{3, 5}})
		require.NoError(t, err)
		require.Equal(t, 2.0, out.Trend.Slope)
		require.Equal(t, 3.0, out.Trend.Intercept)
		require.Equal(t, 0, out.DegreesOfFreedom)
		require.Nil(t, out.ResidualStdError)
		require.Nil(t, out.TQuantile)
		requireNear(t, 1, out.RSquared, 0, "r squared")
		for i, fp := range out.Forecasts {
			require.Equal(t, 7+2*float64(i), fp.Value)
			require.Nil(t, fp.Lower)
			require.Nil(t, fp.Upper)
		}
		require.Len(t, out.Notes, 1)
		require.Contains(t, out.Notes[0], "no degrees of freedom")
	})

	t.Run("constant series: R² null, zero-width intervals", func(t *testing.T) {
		t.Parallel()
		out, err := ForecastSales(ForecastInput{Series: []float64{4, 4, 4, 4}, Horizon: 1})
		require.NoError(t, err)
		require.Equal(t, 0.0, out.Trend.Slope)
		require.Nil(t, out.RSquared)
		require.Equal(t, 4.0, *out.Forecasts[0].Lower)
		require.Equal(t, 4.0, *out.Forecasts[0].Upper)
		require.Contains(t, out.Notes[0], "All values are equal")
		requireMarshals(t, out)
	})

	t.Run("falling trend crosses zero: note", func(t *testing.T) {
		t.Parallel()
		// An exact line (σ̂ = 0): step 1 is 0, step 2 is −10, so one step
		// falls below 0.
		out, err := ForecastSales(ForecastInput{Series: []float64{30, 20, 10}, Horizon: 2})
		require.NoError(t, err)
		require.Equal(t, 0.0, out.Forecasts[0].Value)
		require.Equal(t, -10.0, out.Forecasts[1].Value)
		require.Contains(t, out.Notes, "1 forecast step(s) have a value or lower bound below 0 although the series never goes below 0: the model does not know that sales cannot be negative, so read those figures as 0.")
	})

	t.Run("confidence levels order the interval widths", func(t *testing.T) {
		t.Parallel()
		width := func(c float64) float64 {
			out, err := ForecastSales(ForecastInput{Series: []float64{1, 3, 2, 5, 4, 6}, Horizon: 1, Confidence: c})
			require.NoError(t, err)
			return *out.Forecasts[0].Upper - *out.Forecasts[0].Lower
		}
		require.Less(t, width(0.8), width(0.9))
		require.Less(t, width(0.9), width(0.95))
	})

	t.Run("extreme values stay finite", func(t *testing.T) {
		t.Parallel()
		ys := make([]float64, MaxPoints)
		for i := range ys {
			ys[i] = MaxAbsValue * float64(1-2*(i%2))
		}
		out, err := ForecastSales(ForecastInput{Series: ys, Horizon: MaxHorizon, SeasonLength: 12})
		require.NoError(t, err)
		requireMarshals(t, out)
	})
}

func TestForecastSalesInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    ForecastInput
		code  apperr.Code
		parts []string
	}{
		{"empty series", ForecastInput{}, apperr.Invalid, []string{"series needs at least 2 points; got 0"}},
		{"one point", ForecastInput{Series: []float64{5}}, apperr.Invalid, []string{"series needs at least 2 points; got 1"}},
		{"NaN", ForecastInput{Series: []float64{1, math.NaN()}}, apperr.Invalid, []string{"series[1] must be a finite number"}},
		{"Inf", ForecastInput{Series: []float64{math.Inf(-1), 1}}, apperr.Invalid, []string{"series[0] must be a finite number"}},
		{"beyond MaxAbsValue", ForecastInput{Series: []float64{1, -2e100}}, apperr.Invalid, []string{"series[1]", "±1e100"}},
		{"negative horizon", ForecastInput{Series: []float64{1, 2}, Horizon: -1}, apperr.Invalid, []string{"horizon must be between 1 and 1000; got -1"}},
		{"horizon too far", ForecastInput{Series: []float64{1, 2}, Horizon: MaxHorizon + 1}, apperr.TooLarge, []string{"horizon 1001 exceeds the limit of 1000"}},
		{"confidence", ForecastInput{Series: []float64{1, 2}, Confidence: 0.99}, apperr.Invalid, []string{"confidence must be one of 0.8, 0.9, 0.95; got 0.99"}},
		{"season length 1", ForecastInput{Series: []float64{1, 2, 3}, SeasonLength: 1}, apperr.Invalid, []string{"season_length must be 0 (no seasonality) or at least 2; got 1"}},
		{"negative season length", ForecastInput{Series: []float64{1, 2, 3}, SeasonLength: -4}, apperr.Invalid, []string{"got -4"}},
		{"less than two seasons", ForecastInput{Series: []float64{1, 2, 3, 4, 5, 6, 7}, SeasonLength: 4}, apperr.Invalid, []string{"season_length 4 needs at least 8 points (two full seasons); got 7"}},
		{"too many points", ForecastInput{Series: make([]float64, MaxPoints+1)}, apperr.TooLarge, []string{"10001 points; the limit is 10000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ForecastSales(tt.in)
			requireCode(t, err, tt.code, tt.parts...)
		})
	}
}

// TestStudentTQuantile checks the quantile against published table values.
func TestStudentTQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    float64
		nu   int
		want float64
	}{
		{0.975, 1, 12.7062047},
		{0.975, 2, 4.3026527},
		{0.975, 3, 3.1824463},
		{0.975, 10, 2.2281389},
		{0.975, 30, 2.0422725},
		{0.95, 5, 2.0150484},
		{0.95, 1, 6.3137515},
		{0.9, 3, 1.6377444},
		{0.9, 1, 3.0776835},
		{0.975, 10_000, 1.9602012},
		{0.975, 1_000_000, 1.9599663}, // → z = 1.9599640 as ν → ∞
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, studentTQuantile(tt.p, tt.nu), 1e-6, "p=%v nu=%d", tt.p, tt.nu)
	}
}
