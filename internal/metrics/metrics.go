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
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.RateLimitRejections, m.RateLimitFallbacks, m.AuthFailures,
	)
	return m
}
