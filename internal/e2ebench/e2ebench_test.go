package e2ebench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/schemas"
)

// TestRunTiny runs every phase for a moment to check the machinery: every
// accepted event reaches every file its rules name, once, and the report
// is filled in. It asserts nothing about speed: CI machines are loaded.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two embedded NATS servers and routerd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		Duration:        1200 * time.Millisecond,
		PeakDuration:    700 * time.Millisecond,
		BurstDuration:   300 * time.Millisecond,
		Warmup:          -1,
		LatencyDuration: 700 * time.Millisecond,
		SampleEvery:     300 * time.Millisecond,
		Senders:         4,
		MaxPeakEvents:   400,
		DrainTimeout:    time.Minute,
		Dir:             t.TempDir(),
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, rep.Summary())
	}
	t.Log("\n" + rep.Summary())

	ph := rep.Phases
	a, b, c, d := ph.Raw, ph.Routerd, ph.HalfPeak, ph.Soak
	for _, np := range []struct {
		name string
		p    Phase
	}{{"A", a}, {"A burst", ph.RawIngest}, {"B", b}, {"B burst", ph.RouterdIngest}, {"C", c}, {"D", d}} {
		name, p := np.name, np.p
		// Not asserted, but a slow drain in CI is worth seeing: a
		// consumer that stops pulling shows here first.
		t.Logf("phase %s: %d events, drained in %.2fs, worst delivery %.0f ms", name, p.Accepted, p.DrainSeconds, p.Latency.MaxMs)
		if p.Accepted == 0 || p.Delivered != p.Accepted || p.Failed != 0 {
			t.Errorf("phase %s: accepted %d, delivered %d, failed %d (%s)", name, p.Accepted, p.Delivered, p.Failed, p.FirstError)
		}
		if p.Latency.Count != p.Deliveries || p.LatencyAll.Count != p.Delivered {
			t.Errorf("phase %s: latency counts %d/%d, want %d/%d", name, p.Latency.Count, p.LatencyAll.Count, p.Deliveries, p.Delivered)
		}
	}
	if a.Deliveries != 3*a.Delivered {
		t.Errorf("phase A: %d lines for %d events, want 3 each", a.Deliveries, a.Delivered)
	}
	events := b.Accepted + ph.RouterdIngest.Accepted + c.Accepted + d.Accepted
	deliveries := b.Deliveries + ph.RouterdIngest.Deliveries + c.Deliveries + d.Deliveries
	for _, name := range []string{"inventory", "notification", "analytics"} {
		if got := rep.Deliveries[name]; got != events {
			t.Errorf("%s: %d lines, want %d (one per event)", name, got, events)
		}
	}
	if vip := rep.Deliveries["vip-alerts"]; vip == 0 || vip >= events {
		t.Errorf("vip-alerts: %d lines for %d events, want some but not all", vip, events)
	}
	if lines := rep.Deliveries["inventory"]*3 + rep.Deliveries["vip-alerts"]; lines != deliveries {
		t.Errorf("files hold %d lines, the tracker counted %d deliveries", lines, deliveries)
	}
	if rep.Duplicates != 0 || rep.Unexpected != 0 {
		t.Errorf("%d duplicate, %d unexpected lines", rep.Duplicates, rep.Unexpected)
	}
	for name, r := range map[string]Rates{"raw": rep.RawRates, "routerd": rep.RouterdEventsPerSecond} {
		if r.Accepted <= 0 || r.Delivered <= 0 || r.IngestOnly <= 0 {
			t.Errorf("%s rates not filled in: %+v", name, r)
		}
	}
	if rep.RawEventsPerSecond <= 0 || rep.Ratio <= 0 {
		t.Errorf("raw %v, ratio %v", rep.RawEventsPerSecond, rep.Ratio)
	}
	if rep.Settings.HalfPeakPerSec <= 0 || rep.LatencyHalfPeak.Count == 0 || rep.LatencyHalfPeak.P99Ms <= 0 {
		t.Errorf("half-peak latency not filled in: rate %v, %+v", rep.Settings.HalfPeakPerSec, rep.LatencyHalfPeak)
	}
	if len(rep.Memory.Samples) < 2 || rep.Memory.Samples[0].HeapInuseMB <= 0 || rep.Memory.Verdict == "" {
		t.Errorf("memory series not filled in: %+v", rep.Memory)
	}
	if rep.Machine.Cores == 0 || rep.Machine.Go == "" || rep.EventBytes < 300 || rep.EventBytes > 500 || len(rep.Targets) != 3 {
		t.Errorf("report incomplete: machine %+v, event bytes %d, %d targets", rep.Machine, rep.EventBytes, len(rep.Targets))
	}
	if !strings.Contains(rep.Config, "order-created-vip") {
		t.Errorf("config not reported:\n%s", rep.Config)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

// TestConfigMatchesExample keeps the benchmark's routerd config to
// config.example.yaml: the same rules, and the same policies and
// concurrency per consumer. Only sinks, paths and listeners differ.
func TestConfigMatchesExample(t *testing.T) {
	example, err := config.Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, path := writeConfig(t)
	ours, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		Name, Bus, Pattern string
		Targets            []string
	}
	rulesOf := func(c *config.Config) []rule {
		var out []rule
		for _, r := range c.Rules {
			p, err := r.PatternJSON()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rule{r.Name, r.Bus, string(p), r.Targets})
		}
		return out
	}
	if got, want := rulesOf(ours), rulesOf(example); !reflect.DeepEqual(got, want) {
		t.Errorf("rules differ from config.example.yaml:\n got %+v\nwant %+v", got, want)
	}
	if len(ours.Consumers) != len(example.Consumers) {
		t.Errorf("%d consumers, config.example.yaml has %d", len(ours.Consumers), len(example.Consumers))
	}
	for name, want := range example.Consumers {
		got, ok := ours.Consumers[name]
		if !ok {
			t.Errorf("consumer %s missing", name)
			continue
		}
		if got.Sink.Type != "file" {
			t.Errorf("consumer %s: sink %s, want file", name, got.Sink.Type)
		}
		got.Sink, want.Sink = config.Sink{}, config.Sink{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("consumer %s: %+v, config.example.yaml has %+v", name, got, want)
		}
	}
	if len(ours.Schemas) != len(example.Schemas) {
		t.Fatalf("%d schemas, config.example.yaml has %d", len(ours.Schemas), len(example.Schemas))
	}
	for i, want := range example.Schemas {
		got := ours.Schemas[i]
		if got.Source != want.Source || got.DetailType != want.DetailType || filepath.Base(got.SchemaFile) != filepath.Base(want.SchemaFile) {
			t.Errorf("schema %d: %s/%s in %s, config.example.yaml has %s/%s in %s", i,
				got.Source, got.DetailType, got.SchemaFile, want.Source, want.DetailType, want.SchemaFile)
		}
	}
	if ours.Account != example.Account || ours.Region != example.Region || ours.Bus.Type != example.Bus.Type ||
		ours.Bus.Sync != example.Bus.Sync || ours.Bus.Replicas != example.Bus.Replicas {
		t.Errorf("identity or bus differ: %+v vs %+v", ours.Bus, example.Bus)
	}
}

func writeConfig(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "routerd.yaml")
	if err := os.WriteFile(path, []byte(routerdConfig(dir, config.BusNATSEmbedded)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "order-created.json"), orderSchema, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// TestSchemaIsTheExamples keeps the embedded schema a copy of the one
// config.example.yaml uses.
func TestSchemaIsTheExamples(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "schemas", "order-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(orderSchema, want) {
		t.Error("internal/e2ebench/order-created.json differs from schemas/order-created.json: copy it over")
	}
}

// TestWorkload checks the events are what the report says: valid
// PutEvents bodies, envelopes of 300–500 bytes, about a fifth VIP orders,
// details that satisfy the example's schema and carry their sequence
// number and send time.
func TestWorkload(t *testing.T) {
	set, err := schemas.Compile([]config.Schema{{Source: orderSource, DetailType: orderDetailType, SchemaFile: "order-created.json"}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Unix(1_800_000_000, 123456789)
	vip := 0
	for seq := range int64(2000) {
		env := envelope(seq, sent)
		if n := len(env); n < 300 || n > 500 {
			t.Fatalf("event %d: %d bytes: %s", seq, n, env)
		}
		var e struct {
			Source string `json:"source"`
			Detail struct {
				Seq    int64   `json:"seq"`
				SentNs int64   `json:"sent_ns"`
				Total  float64 `json:"total"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(env, &e); err != nil {
			t.Fatalf("event %d: %v: %s", seq, err, env)
		}
		if e.Detail.Seq != seq || e.Detail.SentNs != sent.UnixNano() || (e.Detail.Total >= 1000) != isVIP(seq) {
			t.Fatalf("event %d: detail %+v, vip %v", seq, e.Detail, isVIP(seq))
		}
		if isVIP(seq) {
			vip++
		}
		if bad := set.Validate(orderSource, orderDetailType, appendDetail(nil, seq, sent.UnixNano())); bad != nil {
			t.Fatalf("event %d: %v", seq, bad)
		}
	}
	if vip < 300 || vip > 500 {
		t.Errorf("%d of 2000 VIP orders, want about 400", vip)
	}

	body, _ := appendPutEvents(nil, 40, 10, sent, nil)
	var req struct {
		Entries []struct{ Source, DetailType, Detail string }
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(req.Entries) != 10 || req.Entries[9].Source != orderSource || !json.Valid([]byte(req.Entries[9].Detail)) ||
		!strings.Contains(req.Entries[9].Detail, `"seq":49,`) {
		t.Errorf("PutEvents body: %s", body)
	}
}

func TestHist(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > 1.021*float64(c.want) {
			t.Errorf("q%v = %v, want %v within +2%%", c.q, got, c.want)
		}
	}
	if h.max != time.Second || h.n != 1000 {
		t.Errorf("max %v, n %d", h.max, h.n)
	}
}

func TestFlatness(t *testing.T) {
	for _, c := range []struct {
		series []float64
		flat   bool
	}{
		{[]float64{20, 22, 21, 20, 23, 21}, true},
		{[]float64{20, 21, 22, 23, 24, 25}, false}, // steady growth
		{[]float64{20, 20, 20, 30, 30, 30}, false}, // +50%
		{[]float64{20, 21}, false},                 // too few
		{[]float64{20, 20.5, 21}, true},            // too few to call a trend
	} {
		if flat, _, why := flatness(c.series, FlatTolerance); flat != c.flat {
			t.Errorf("%v: flat %v (%s), want %v", c.series, flat, why, c.flat)
		}
	}
}

// A target the run did not measure says so instead of "NOT met": phase C at
// --latency-rate, or a soak too short to sample.
func TestTargetsNotJudged(t *testing.T) {
	lat := Latency{Count: 100, P99Ms: 20}
	judged := Report{RawEventsPerSecond: 1000, RouterdEventsPerSecond: Rates{Delivered: 2000}, LatencyHalfPeak: lat}
	judged.Settings.HalfPeakPerSec = 1000
	judged.Memory = judgeMemory([]MemSample{{HeapInuseMB: 10, RSSMB: 20}, {HeapInuseMB: 10, RSSMB: 20}, {HeapInuseMB: 10, RSSMB: 20}})
	judged.judge()
	for _, tg := range judged.Targets {
		if !tg.Judged || !tg.Met {
			t.Errorf("full run: %+v, want judged and met", tg)
		}
	}
	if strings.Contains(judged.Summary(), "not judged") {
		t.Errorf("full run's summary says not judged:\n%s", judged.Summary())
	}

	short := judged
	short.Settings.LatencyPerSec = 1900
	short.Memory = judgeMemory(nil)
	short.judge()
	if tg := short.Targets[0]; !tg.Judged || !tg.Met {
		t.Errorf("ratio target: %+v, want judged and met", tg)
	}
	for _, tg := range short.Targets[1:] {
		if tg.Judged || tg.Met {
			t.Errorf("%s: %+v, want not judged", tg.Name, tg)
		}
	}
	sum := short.Summary()
	if strings.Contains(sum, "NOT") || strings.Count(sum, "— not judged") != 2 {
		t.Errorf("summary of a short run:\n%s", sum)
	}
}

func TestSlope(t *testing.T) {
	ts := []float64{0, 30, 60, 90, 120, 150}
	if got := slopePerMinute(ts, []float64{10, 20, 30, 40, 50, 60}); got < 19.99 || got > 20.01 {
		t.Errorf("slope of +10 per 30s = %v MB/min, want 20", got)
	}
	if got := slopePerMinute(ts, []float64{10, 30, 50, 60, 60, 60}); got != 0 {
		t.Errorf("levelled off: slope %v, want 0", got)
	}
}

// Stage quantiles come from histogram buckets: linear within the bucket
// that holds them, the last bound past the end, and only what was
// observed between the two snapshots.
func TestBucketQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	before := histSnap{bounds: bounds, cum: []uint64{5, 5, 5}, count: 5}
	after := histSnap{bounds: bounds, cum: []uint64{15, 65, 105}, count: 105}
	for _, c := range []struct{ q, want float64 }{{0.50, 1.8}, {0.99, 3.95}, {0.05, 0.5}} {
		if got := bucketQuantile(before, after, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	beyond := histSnap{bounds: bounds, cum: []uint64{10, 60, 90}, count: 100}
	if got := bucketQuantile(histSnap{}, beyond, 0.99); got != 4 {
		t.Errorf("past the last bucket: %v, want 4", got)
	}
	if _, ok := stageLatency(after, after); ok {
		t.Error("no observations between the snapshots, yet a latency")
	}
}
