package views

import (
	"fmt"
	"math"
	"strings"
)

// Chart is a line chart drawn on the server as SVG: no chart script, and
// readable (its figures are also in the table beside it).
type Chart struct {
	Title  string
	Lines  []ChartLine
	Band   *ChartBand
	Width  float64
	Height float64
}

// ChartLine is one series of (x, y) points.
type ChartLine struct {
	Name   string
	Class  string
	Points [][2]float64
}

// ChartBand is a shaded range (a prediction interval).
type ChartBand struct {
	Lower, Upper [][2]float64
}

const chartPad = 32

func (c Chart) bounds() (minX, maxX, minY, maxY float64) {
	minX, minY = math.Inf(1), math.Inf(1)
	maxX, maxY = math.Inf(-1), math.Inf(-1)
	grow := func(ps [][2]float64) {
		for _, p := range ps {
			minX, maxX = math.Min(minX, p[0]), math.Max(maxX, p[0])
			minY, maxY = math.Min(minY, p[1]), math.Max(maxY, p[1])
		}
	}
	for _, l := range c.Lines {
		grow(l.Points)
	}
	if c.Band != nil {
		grow(c.Band.Lower)
		grow(c.Band.Upper)
	}
	if maxX == minX {
		maxX++
	}
	if maxY == minY {
		maxY++
	}
	return
}

func (c Chart) project(p [2]float64) (float64, float64) {
	minX, maxX, minY, maxY := c.bounds()
	x := chartPad + (p[0]-minX)/(maxX-minX)*(c.Width-2*chartPad)
	y := c.Height - chartPad - (p[1]-minY)/(maxY-minY)*(c.Height-2*chartPad)
	return x, y
}

func (c Chart) polyline(ps [][2]float64) string {
	var b strings.Builder
	for i, p := range ps {
		x, y := c.project(p)
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	return b.String()
}

func (c Chart) bandPolygon() string {
	if c.Band == nil {
		return ""
	}
	ps := append([][2]float64{}, c.Band.Upper...)
	for i := len(c.Band.Lower) - 1; i >= 0; i-- {
		ps = append(ps, c.Band.Lower[i])
	}
	return c.polyline(ps)
}

func (c Chart) viewBox() string { return fmt.Sprintf("0 0 %.0f %.0f", c.Width, c.Height) }

func (c Chart) yLabels() []chartLabel {
	_, _, minY, maxY := c.bounds()
	var out []chartLabel
	for i := 0; i <= 4; i++ {
		v := minY + (maxY-minY)*float64(i)/4
		_, y := c.project([2]float64{0, v})
		out = append(out, chartLabel{Y: fmt.Sprintf("%.1f", y), Text: trimFloat(v)})
	}
	return out
}

type chartLabel struct{ Y, Text string }

func trimFloat(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// forecastChart draws a sales_forecaster result: the fitted values and the
// forecast with its interval. ok is false for other results.
func forecastChart(raw []byte) (Chart, bool) {
	v, ok := decodeData(raw)
	m, isMap := v.(map[string]any)
	if !ok || !isMap {
		return Chart{}, false
	}
	fitted, _ := m["fitted"].([]any)
	forecasts, _ := m["forecasts"].([]any)
	if len(forecasts) == 0 {
		return Chart{}, false
	}
	c := Chart{Title: "Fitted values and forecast with its interval", Width: 640, Height: 240, Band: &ChartBand{}}
	fit := ChartLine{Name: "fitted", Class: "fitted"}
	for i, f := range fitted {
		if y, ok := number(f); ok {
			fit.Points = append(fit.Points, [2]float64{float64(i), y})
		}
	}
	fc := ChartLine{Name: "forecast", Class: "forecast"}
	if n := len(fit.Points); n > 0 {
		fc.Points = append(fc.Points, fit.Points[n-1])
	}
	for _, f := range forecasts {
		fm, _ := f.(map[string]any)
		t, ok1 := number(fm["t"])
		y, ok2 := number(fm["value"])
		lo, ok3 := number(fm["lower"])
		hi, ok4 := number(fm["upper"])
		if !(ok1 && ok2 && ok3 && ok4) {
			return Chart{}, false
		}
		fc.Points = append(fc.Points, [2]float64{t, y})
		c.Band.Lower = append(c.Band.Lower, [2]float64{t, lo})
		c.Band.Upper = append(c.Band.Upper, [2]float64{t, hi})
	}
	c.Lines = []ChartLine{fit, fc}
	return c, true
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case interface{ Float64() (float64, error) }:
		f, err := x.Float64()
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}
