package views

import (
	"fmt"
	"math"

	"github.com/bizmcp/bizmcp/internal/stats"
)

func throughputChart(o *stats.Overview) Chart {
	c := Chart{Title: "Tasks finished per minute, last hour (completed, failed)", Width: 640, Height: 200}
	done := ChartLine{Name: "completed", Class: "completed"}
	failed := ChartLine{Name: "failed", Class: "failed"}
	for i, m := range o.Throughput {
		done.Points = append(done.Points, [2]float64{float64(i), float64(m.Completed)})
		failed.Points = append(failed.Points, [2]float64{float64(i), float64(m.Failed)})
	}
	c.Lines = []ChartLine{done, failed}
	return c
}

func usageChart(o *stats.Overview) Chart {
	c := Chart{Title: "LLM tokens per day, last 30 days", Width: 640, Height: 200}
	l := ChartLine{Name: "tokens", Class: "tokens"}
	for i, d := range o.LLMUsage {
		l.Points = append(l.Points, [2]float64{float64(i), float64(d.Tokens)})
	}
	if len(l.Points) == 1 {
		l.Points = append(l.Points, [2]float64{1, l.Points[0][1]})
	}
	c.Lines = []ChartLine{l}
	return c
}

// latencyBar is one tool's bars, in the latency chart's coordinates.
type latencyBar struct {
	Tool            string
	Y               float64
	P50W, P95W      float64
	P50Text, P95Txt string
}

func latencyBars(o *stats.Overview) ([]latencyBar, float64) {
	maxMS := 1.0
	for _, l := range o.Latency {
		maxMS = math.Max(maxMS, l.P95)
	}
	const width = 420.0
	out := make([]latencyBar, 0, len(o.Latency))
	for i, l := range o.Latency {
		out = append(out, latencyBar{
			Tool: l.Tool, Y: float64(i*34 + 8),
			P50W: math.Max(1, l.P50/maxMS*width), P95W: math.Max(1, l.P95/maxMS*width),
			P50Text: fmt.Sprintf("%.0f ms", l.P50), P95Txt: fmt.Sprintf("%.0f ms", l.P95),
		})
	}
	return out, float64(len(o.Latency)*34 + 16)
}

func count(m map[string]int64, k string) string { return fmt.Sprint(m[k]) }

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func money(v float64) string { return fmt.Sprintf("$%.4f", v) }
