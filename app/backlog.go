package app

import (
	"context"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/prometheus/client_golang/prometheus"
)

// backlogCollector reports, at each scrape, how many events wait in each
// consumer's queue (in flight included) and in its dead-letter queue: the
// figures that show a stuck consumer before anything fails.
type backlogCollector struct {
	a       *App
	backlog *prometheus.Desc
	dlq     *prometheus.Desc
}

func newBacklogCollector(a *App) *backlogCollector {
	return &backlogCollector{
		a: a,
		backlog: prometheus.NewDesc("eventrouter_consumer_backlog_events",
			"Events queued for a consumer and not yet delivered or dead-lettered (in flight included).",
			[]string{"consumer"}, nil),
		dlq: prometheus.NewDesc("eventrouter_dlq_depth_events",
			"Events held in a consumer's dead-letter queue.",
			[]string{"consumer"}, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.dlq
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.a.bus.(bus.Store)
	if !ok || !c.a.ready.Load() {
		return
	}
	c.a.mu.Lock()
	names := make([]string, 0, len(c.a.cfg.Consumers))
	for name := range c.a.cfg.Consumers {
		names = append(names, name)
	}
	c.a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, name := range names {
		if _, n, err := st.List(ctx, bus.DeliverTopic(name), 0); err == nil {
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(n), name)
		}
		if _, n, err := st.List(ctx, bus.DLQTopic(name), 0); err == nil {
			ch <- prometheus.MustNewConstMetric(c.dlq, prometheus.GaugeValue, float64(n), name)
		}
	}
}
