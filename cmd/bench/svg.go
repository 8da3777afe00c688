package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// bar is one bar of a chart.
type bar struct {
	label string
	value float64
	// text is printed after the bar (the value with its unit, or more).
	text string
	// ours marks bizmcp's bars, drawn in another colour than the peers'.
	ours bool
}

// barChart draws a horizontal bar chart as a standalone SVG document: no
// script, no external style, readable in any browser or on GitHub.
func barChart(title, unit string, bars []bar) string {
	const (
		width   = 760.0
		labelW  = 300.0
		textW   = 150.0
		rowH    = 24.0
		barH    = 16.0
		top     = 44.0
		bottom  = 16.0
		barArea = width - labelW - textW - 10
	)
	height := top + float64(len(bars))*rowH + bottom
	maxV := 0.0
	for _, b := range bars {
		maxV = math.Max(maxV, b.value)
	}
	if maxV <= 0 {
		maxV = 1
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&s, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	for _, b := range bars {
		if !b.ours {
			unit += "; bizmcp in blue, peers in grey"
			break
		}
	}
	fmt.Fprintf(&s, `<text x="10" y="36" fill="#555">%s</text>`+"\n", html.EscapeString(unit))
	for i, b := range bars {
		y := top + float64(i)*rowH
		w := b.value / maxV * barArea
		if b.value > 0 && w < 1 {
			w = 1
		}
		fill := "#9aa0a6"
		if b.ours {
			fill = "#1a73e8"
		}
		fmt.Fprintf(&s, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", labelW-6, y+barH-3, html.EscapeString(b.label))
		fmt.Fprintf(&s, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" fill="%s"><title>%s: %s</title></rect>`+"\n",
			labelW, y, w, barH, fill, html.EscapeString(b.label), html.EscapeString(b.text))
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" fill="#222">%s</text>`+"\n", labelW+w+6, y+barH-3, html.EscapeString(b.text))
	}
	s.WriteString("</svg>\n")
	return s.String()
}

// lineSeries is one line of a line chart.
type lineSeries struct {
	name   string
	points [][2]float64
	ours   bool
}

// lineChart draws series of (x, y) points against shared axes, with the
// x values as ticks: for figures measured at a few sizes (clients, rows).
func lineChart(title, xUnit, yUnit string, series []lineSeries) string {
	const (
		width, height = 760.0, 360.0
		left, right   = 70.0, 180.0
		top, bottom   = 56.0, 44.0
	)
	var xs []float64
	maxY := 0.0
	for _, l := range series {
		for _, p := range l.points {
			if !slices.Contains(xs, p[0]) {
				xs = append(xs, p[0])
			}
			maxY = math.Max(maxY, p[1])
		}
	}
	if maxY <= 0 {
		maxY = 1
	}
	slices.Sort(xs)
	plotW, plotH := width-left-right, height-top-bottom
	xAt := func(x float64) float64 {
		if len(xs) <= 1 {
			return left + plotW/2
		}
		for i, v := range xs {
			if v == x {
				return left + float64(i)/float64(len(xs)-1)*plotW
			}
		}
		return left
	}
	yAt := func(y float64) float64 { return top + plotH - y/maxY*plotH }
	palette := []string{"#1a73e8", "#e8710a", "#188038", "#d93025", "#9334e6", "#5f6368"}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&s, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&s, `<text x="10" y="36" fill="#555">%s</text>`+"\n", html.EscapeString(yUnit))
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		y := yAt(v)
		fmt.Fprintf(&s, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, y, left+plotW, y)
		fmt.Fprintf(&s, `<text x="%.0f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", left-6, y+4, num(v))
	}
	for _, x := range xs {
		fmt.Fprintf(&s, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#555">%s</text>`+"\n", xAt(x), top+plotH+16, num(x))
	}
	fmt.Fprintf(&s, `<text x="%.0f" y="%.0f" text-anchor="middle" fill="#555">%s</text>`+"\n", left+plotW/2, height-8, html.EscapeString(xUnit))
	for i, l := range series {
		colour := palette[i%len(palette)]
		var pts []string
		for _, p := range l.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(p[0]), yAt(p[1])))
		}
		fmt.Fprintf(&s, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colour)
		for _, p := range l.points {
			fmt.Fprintf(&s, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s at %s</title></circle>`+"\n",
				xAt(p[0]), yAt(p[1]), colour, html.EscapeString(l.name), num(p[1]), num(p[0]))
		}
		ly := top + float64(i)*18
		fmt.Fprintf(&s, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/>`+"\n", left+plotW+14, ly, colour)
		fmt.Fprintf(&s, `<text x="%.0f" y="%.0f">%s</text>`+"\n", left+plotW+32, ly+10, html.EscapeString(l.name))
	}
	s.WriteString("</svg>\n")
	return s.String()
}
