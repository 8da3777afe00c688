package orchestrator

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizmcp/bizmcp/internal/agents"
)

// Collector reports tasks by status (pending and assigned are the queue)
// and agents by status, read from the database at scrape time so every
// instance reports the same, true figures. Task counts come from the
// maintained aggregates (migration 00007), never from counting the task
// table: a scrape costs the same with a million tasks as with ten.
type Collector struct {
	s      *Service
	tasks  *prometheus.Desc
	agents *prometheus.Desc
	failed *prometheus.Desc
}

// NewCollector returns the collector for s.
func NewCollector(s *Service) *Collector {
	return &Collector{
		s:      s,
		tasks:  prometheus.NewDesc("bizmcp_tasks", "Tasks by status; pending and assigned tasks are waiting to run.", []string{"status"}, nil),
		agents: prometheus.NewDesc("bizmcp_agents", "Agents by status.", []string{"status"}, nil),
		failed: prometheus.NewDesc("bizmcp_orchestrator_scrape_error", "1 when the last scrape could not read the database.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.agents
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	failed := 0.0
	tasks := map[string]float64{}
	for _, st := range Statuses() {
		tasks[st] = 0
	}
	// Folding first keeps the unfolded deltas the count reads short; the
	// count is exact either way, so a failed fold is not a failed scrape.
	_ = c.s.queries.TaskAggregatesFold(ctx)
	if rows, err := c.s.queries.TaskCountByStatus(ctx); err == nil {
		for _, r := range rows {
			tasks[r.Status] = float64(r.N)
		}
	} else {
		failed = 1
	}
	for st, n := range tasks {
		ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, n, st)
	}
	agentCounts := map[string]float64{}
	for _, st := range agents.Statuses() {
		agentCounts[st] = 0
	}
	if rows, err := c.s.queries.AgentCountByStatus(ctx); err == nil {
		for _, r := range rows {
			agentCounts[r.Status] = float64(r.N)
		}
	} else {
		failed = 1
	}
	for st, n := range agentCounts {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, n, st)
	}
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed)
}
