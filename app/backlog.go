package app

import (
	"context"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/prometheus/client_golang/prometheus"
)

// backlogCollector reports, at each scrape, how many events wait in each
// consumer's queue (in flight included) and in its dead-letter queue, and
// how full the bus's store is: the figures that show a stuck consumer, and
// the room it is taking, before anything fails.
type backlogCollector struct {
	a          *App
	backlog    *prometheus.Desc
	dlq        *prometheus.Desc
	storeUsed  *prometheus.Desc
	storeLimit *prometheus.Desc
	diskFree   *prometheus.Desc
	diskMin    *prometheus.Desc
	diskLow    *prometheus.Desc
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
		storeUsed: prometheus.NewDesc("eventrouter_bus_storage_used_bytes",
			"Bytes of messages the bus's JetStream stores (events, deliveries, dead letters); its files can take up to twice as much.",
			nil, nil),
		storeLimit: prometheus.NewDesc("eventrouter_bus_storage_limit_bytes",
			"The bus's storage bound (bus.nats.max_store, or the NATS account's): from 90% of it ingest answers 503, keeping the rest for the events already accepted. Absent when the bus knows none.",
			nil, nil),
		diskFree: prometheus.NewDesc("eventrouter_bus_storage_disk_free_bytes",
			"Free space of the file system holding the bus's JetStream store (the embedded server's data_dir), for unprivileged writers. Absent when the bus cannot tell (an external NATS server).",
			nil, nil),
		diskMin: prometheus.NewDesc("eventrouter_bus_storage_disk_min_free_bytes",
			"The free-disk floor (bus.nats.min_free_disk): below it ingest answers 503, as at 90% of the storage bound. Absent when the guard is off.",
			nil, nil),
		diskLow: prometheus.NewDesc("eventrouter_bus_storage_disk_low",
			"1 while the free-disk guard refuses new events (ingest answers 503): from below bus.nats.min_free_disk until the disk has 10% more than it free; 0 otherwise. Absent when the guard is off.",
			nil, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.dlq
	ch <- c.storeUsed
	ch <- c.storeLimit
	ch <- c.diskFree
	ch <- c.diskMin
	ch <- c.diskLow
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
	if sr, ok := c.a.bus.(bus.StorageReporter); ok {
		if s, err := sr.Storage(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.storeUsed, prometheus.GaugeValue, float64(s.Used))
			if s.Limit > 0 {
				ch <- prometheus.MustNewConstMetric(c.storeLimit, prometheus.GaugeValue, float64(s.Limit))
			}
			if s.Disk {
				ch <- prometheus.MustNewConstMetric(c.diskFree, prometheus.GaugeValue, float64(s.DiskFree))
				if s.MinFreeDisk > 0 {
					ch <- prometheus.MustNewConstMetric(c.diskMin, prometheus.GaugeValue, float64(s.MinFreeDisk))
					low := 0.0
					if s.DiskLow {
						low = 1
					}
					ch <- prometheus.MustNewConstMetric(c.diskLow, prometheus.GaugeValue, low)
				}
			}
		}
	}
	for _, name := range names {
		if _, n, err := st.List(ctx, bus.DeliverTopic(name), 0); err == nil {
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(n), name)
		}
		if _, n, err := st.List(ctx, bus.DLQTopic(name), 0); err == nil {
			ch <- prometheus.MustNewConstMetric(c.dlq, prometheus.GaugeValue, float64(n), name)
		}
	}
}
