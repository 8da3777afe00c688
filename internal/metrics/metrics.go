// Package metrics defines bizmcp's Prometheus metrics on a registry of its
// own (never the global default), so tests and several servers in one
// process do not collide.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector the server updates.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests        *prometheus.CounterVec
	HTTPDuration        *prometheus.HistogramVec
	RateLimitRejections *prometheus.CounterVec
	RateLimitFallbacks  prometheus.Counter
	AuthFailures        *prometheus.CounterVec
	ToolExecutions      *prometheus.CounterVec
	ToolDuration        *prometheus.HistogramVec
	LLMTokens           *prometheus.CounterVec
	LLMCost             *prometheus.CounterVec
	MCPSessions         prometheus.Gauge
	WebSocketClients    prometheus.Gauge
	EventsDropped       prometheus.Counter
	// DashboardLogins counts sign-ins by outcome (ok, invalid_key,
	// not_admin, rate_limited, refused_origin).
	DashboardLogins *prometheus.CounterVec
	// LiveClients counts the dashboard's /ws connections; LiveDropped the
	// ones closed for being too slow.
	LiveClients prometheus.Gauge
	LiveDropped prometheus.Counter
}

// New registers the collectors, with the Go runtime and process ones.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bizmcp_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		RateLimitRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_rate_limit_rejections_total",
			Help: "Requests refused with 429, by what was limited (api_key or ip).",
		}, []string{"subject"}),
		RateLimitFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bizmcp_rate_limit_local_fallback_total",
			Help: "Rate-limit decisions made by the in-process limiter because Redis did not answer.",
		}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_auth_failures_total",
			Help: "Requests refused by authentication (401) or authorisation (403).",
		}, []string{"code"}),
		ToolExecutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_tool_executions_total",
			Help: "Tool executions by tool, source (mcp, rest, agent, dashboard) and outcome (completed, failed).",
		}, []string{"tool", "source", "outcome"}),
		ToolDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bizmcp_tool_duration_seconds",
			Help:    "Tool execution latency by tool.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60},
		}, []string{"tool"}),
		LLMTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_llm_tokens_total",
			Help: "LLM tokens used, by consumer.",
		}, []string{"consumer"}),
		LLMCost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_llm_cost_usd_total",
			Help: "LLM cost in USD by provider and model (0 for models without a price).",
		}, []string{"provider", "model"}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bizmcp_events_redis_dropped_total",
			Help: "Events not sent to the other instances (Redis down or the queue full); they were delivered in process.",
		}),
		WebSocketClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bizmcp_websocket_clients",
			Help: "WebSocket event stream clients connected to this instance.",
		}),
		DashboardLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bizmcp_dashboard_logins_total",
			Help: "Dashboard sign-in attempts by outcome.",
		}, []string{"outcome"}),
		LiveClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bizmcp_dashboard_live_clients",
			Help: "Dashboard pages connected to the live channel (/ws) of this instance.",
		}),
		LiveDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bizmcp_dashboard_live_dropped_total",
			Help: "Dashboard live connections closed because they fell behind.",
		}),
		MCPSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bizmcp_mcp_sessions",
			Help: "Open MCP sessions on this instance.",
		}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.RateLimitRejections, m.RateLimitFallbacks, m.AuthFailures,
		m.ToolExecutions, m.ToolDuration, m.LLMTokens, m.LLMCost, m.MCPSessions, m.WebSocketClients, m.EventsDropped,
		m.DashboardLogins, m.LiveClients, m.LiveDropped,
	)
	return m
}
