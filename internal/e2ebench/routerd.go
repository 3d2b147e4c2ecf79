package e2ebench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/app"
	"github.com/eventrouter/eventrouter/config"
	"github.com/prometheus/client_golang/prometheus"
)

// routerdConsumers are the consumers of config.example.yaml, in the order
// of the tracker's bits: the three every OrderCreated reaches, then
// vip-alerts.
var routerdConsumers = []string{"inventory", "notification", "analytics", "vip-alerts"}

// expectRouterd is the set of consumers (tracker bits) event seq must
// reach under config.example.yaml's rules.
func expectRouterd(seq int64) uint8 {
	if isVIP(seq) {
		return 0b1111
	}
	return 0b0111
}

// orderSchema is a copy of schemas/order-created.json, the schema
// config.example.yaml applies to OrderCreated (a test keeps them equal):
// the benchmark carries it so that it runs from any directory.
//
//go:embed order-created.json
var orderSchema []byte

// routerdConfig is config.example.yaml with what a benchmark must change:
// files and JetStream under dir, HTTP on a free loopback port, no NATS
// client port (routerd's own connection is in-process either way),
// vip-alerts writing to a file instead of the log so that it is measured
// like the others, and no http.throttle (the example's 50 requests/s would
// measure the throttle). Rules, the OrderCreated schema, retry policies
// and concurrency are the example's; a test holds the two together.
// busType is the example's nats-embedded but for the allocation benchmark,
// which also measures the memory bus.
func routerdConfig(dir, busType string) string {
	out := filepath.Join(dir, "out")
	return fmt.Sprintf(`# config.example.yaml, adapted by routerctl bench e2e
account: "000000000000"
region: local
log:
  level: warn
  format: text
http:
  listen: 127.0.0.1:0
  max_body_bytes: 10485760
bus:
  type: %[4]s
  data_dir: %[1]s
  sync: default
  replicas: 1
  nats:
    listen: ""
schemas:
  - source: orders.service
    detail-type: OrderCreated
    schema_file: %[3]s
rules:
  - name: order-created
    bus: default
    pattern:
      source: [orders.service]
      detail-type: [OrderCreated]
    targets: [inventory, notification, analytics]
  - name: order-created-vip
    pattern:
      source: [orders.service]
      detail-type: [OrderCreated]
      detail:
        total: [{numeric: [">=", 1000]}]
    targets: [vip-alerts]
consumers:
  inventory:
    sink: {type: file, path: %[2]s/inventory.jsonl}
    retry:
      max_attempts: 185
      max_event_age: 24h
      initial_backoff: 1s
      max_backoff: 5m
    concurrency: 16
    dlq: true
  notification:
    sink: {type: file, path: %[2]s/notification.jsonl}
  analytics:
    sink: {type: file, path: %[2]s/analytics.jsonl}
    retry: {max_attempts: 10, max_event_age: 1h}
    concurrency: 4
  vip-alerts:
    sink: {type: file, path: %[2]s/vip-alerts.jsonl}
    retry: {max_attempts: 50, initial_backoff: 500ms}
`, filepath.Join(dir, "data"), out, filepath.Join(dir, "order-created.json"), busType)
}

// startRouterd writes the config (on bus busType) to dir, loads it the
// way routerd does and starts the app.
func startRouterd(ctx context.Context, dir, busType string, log *slog.Logger) (*app.App, string, map[string]string, error) {
	text := routerdConfig(dir, busType)
	path := filepath.Join(dir, "routerd.yaml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", nil, err
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return nil, "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "order-created.json"), orderSchema, 0o644); err != nil {
		return nil, "", nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, "", nil, err
	}
	a := app.New(cfg, app.Options{Logger: log})
	if err := a.Start(ctx); err != nil {
		return nil, "", nil, err
	}
	files := map[string]string{}
	for _, name := range routerdConsumers {
		files[name] = filepath.Join(dir, "out", name+".jsonl")
	}
	return a, text, files, nil
}

// newHTTPClient keeps one connection per sender alive.
func newHTTPClient(senders int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        senders,
			MaxIdleConnsPerHost: senders,
			MaxConnsPerHost:     senders,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
		Timeout: 30 * time.Second,
	}
}

// httpSender returns a sendFunc that POSTs PutEvents requests as the AWS
// SDK does.
func httpSender(client *http.Client, url string) sendFunc {
	var body, scratch []byte
	var resp bytes.Buffer
	return func(ctx context.Context, seq0 int64, n int, sent time.Time) (int, error) {
		body, scratch = appendPutEvents(body[:0], seq0, n, sent, scratch)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
		r, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Reset()
		_, err = resp.ReadFrom(r.Body)
		r.Body.Close()
		if err != nil {
			return 0, err
		}
		if r.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("PutEvents: HTTP %d: %s", r.StatusCode, strings.TrimSpace(resp.String()))
		}
		var out struct {
			FailedEntryCount int
			Entries          []struct{ ErrorCode, ErrorMessage string }
		}
		if err := json.Unmarshal(resp.Bytes(), &out); err != nil {
			return 0, fmt.Errorf("PutEvents: bad answer: %w", err)
		}
		if out.FailedEntryCount > 0 {
			for _, e := range out.Entries {
				if e.ErrorCode != "" {
					return n - out.FailedEntryCount, fmt.Errorf("PutEvents: %d entries failed, e.g. %s: %s", out.FailedEntryCount, e.ErrorCode, e.ErrorMessage)
				}
			}
		}
		return n, nil
	}
}

// stageMetrics are routerd's latency histograms, one per stage, as the
// phase reports them: ingest_request is PutEvents' answer time (parse,
// validate, store); ingestion_to_invocation is from storage on the bus to
// the sink's acknowledgement; invocation is the sink's own call.
var stageMetrics = map[string]string{
	"ingest_request":          "eventrouter_ingest_request_duration_seconds",
	"ingestion_to_invocation": "eventrouter_ingestion_to_invocation_seconds",
	"invocation":              "eventrouter_invocation_duration_seconds",
}

// histSnap is one histogram summed over its label sets: cumulative counts
// per upper bound, sum and count.
type histSnap struct {
	bounds []float64
	cum    []uint64
	sum    float64
	count  uint64
}

// snapshotStages reads the stage histograms from reg.
func snapshotStages(reg prometheus.Gatherer) map[string]histSnap {
	mfs, err := reg.Gather()
	if err != nil {
		return nil
	}
	out := map[string]histSnap{}
	for stage, name := range stageMetrics {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			var h histSnap
			for _, m := range mf.GetMetric() {
				mh := m.GetHistogram()
				if mh == nil {
					continue
				}
				if h.bounds == nil {
					for _, b := range mh.GetBucket() {
						h.bounds = append(h.bounds, b.GetUpperBound())
					}
					h.cum = make([]uint64, len(h.bounds))
				}
				for i, b := range mh.GetBucket() {
					if i < len(h.cum) {
						h.cum[i] += b.GetCumulativeCount()
					}
				}
				h.sum += mh.GetSampleSum()
				h.count += mh.GetSampleCount()
			}
			out[stage] = h
		}
	}
	return out
}

// StageLatency is one of routerd's pipeline stages over a phase, from its
// histogram: the quantiles are read from the buckets (linearly within the
// bucket that holds them), so they are only as fine as the buckets are.
type StageLatency struct {
	Count  int64   `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
}

// stageLatency is the stage's latency between two snapshots.
func stageLatency(before, after histSnap) (StageLatency, bool) {
	n := after.count - before.count
	if n == 0 || len(after.cum) == 0 {
		return StageLatency{}, false
	}
	return StageLatency{
		Count:  int64(n),
		MeanMs: 1000 * (after.sum - before.sum) / float64(n),
		P50Ms:  1000 * bucketQuantile(before, after, 0.50),
		P99Ms:  1000 * bucketQuantile(before, after, 0.99),
	}, true
}

// bucketQuantile estimates quantile q of the observations made between the
// snapshots; past the last bucket it gives that bucket's bound.
func bucketQuantile(before, after histSnap, q float64) float64 {
	target := q * float64(after.count-before.count)
	lower, below := 0.0, 0.0
	for i, bound := range after.bounds {
		c := float64(after.cum[i])
		if i < len(before.cum) {
			c -= float64(before.cum[i])
		}
		if c >= target {
			return lower + (bound-lower)*(target-below)/max(c-below, 1)
		}
		lower, below = bound, c
	}
	return lower
}
