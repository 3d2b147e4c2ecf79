// Package e2ebench is the logic behind `routerctl bench e2e`: a
// reproducible end-to-end benchmark of routerd, run entirely in-process in
// a temporary directory, with nothing to install or start beforehand.
//
// It answers three questions with one run:
//
//   - How much of the hardware does routerd use? Phase A measures the raw
//     hops without routerd (embedded JetStream with file storage → a
//     forwarder making one copy per consumer → three file sinks) and phase
//     B routerd itself (PutEvents over HTTP → router → consumers → file
//     sinks), with the same senders and batches; the ratio of their
//     delivered rates is routerd's efficiency.
//   - How fast is an event delivered when routerd is not saturated? Phase C
//     sends at half of phase B's delivered peak, open loop, and reads
//     latency from the consumers' files: each event carries its send time
//     in its detail, and a tailer stamps every line as it appears.
//   - Does routerd hold its memory over time? Phase D runs at half peak for
//     the soak duration and samples the heap (after GC) and the RSS.
//
// A peak is measured twice. End to end, senders keep at most a bounded
// backlog of events sent and not yet in every file, so the phase runs at
// the rate the whole pipeline sustains: that is the peak "delivered". Then
// a short burst without that bound measures what ingest alone accepts,
// and the drain after it what delivery alone delivers. Without the bound,
// ingest takes the CPU and delivery falls far behind (nothing pushes back
// on PutEvents), so a closed loop on acceptance alone would report an
// ingest rate no deployment could sustain.
//
// Everything shares one process and its cores with the load generator and
// the tailer, so absolute numbers are pessimistic for routerd; the ratio is
// what is fair, since phase A pays the same client and tailer costs.
package e2ebench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/config"
	"github.com/prometheus/client_golang/prometheus"
)

// Targets of the "routerd end to end" issue.
const (
	TargetRatio   = 0.5                   // routerd delivered / raw delivered
	TargetP99     = 50 * time.Millisecond // per delivery, at half peak
	FlatTolerance = 0.20                  // memory: last third vs first third
)

const (
	defaultSenders  = 16
	defaultBatch    = 10
	maxPutEntries   = 10 // PutEvents' limit
	defaultBacklog  = 2000
	defaultSoak     = 60 * time.Second
	defaultPeak     = 15 * time.Second
	defaultBurst    = 3 * time.Second
	defaultWarmup   = 2 * time.Second
	defaultLatency  = 20 * time.Second
	defaultSample   = 5 * time.Second
	defaultDrain    = 3 * time.Minute
	halfPeakFactor  = 0.5
	eventSizeSample = 1000
)

// Options shape a run. Zero values take the defaults noted.
type Options struct {
	// Duration is the soak phase (D); default 60s.
	Duration time.Duration
	// PeakDuration is the measured window of the end-to-end peak phases
	// (A and B); default 15s.
	PeakDuration time.Duration
	// BurstDuration is the ingest-only burst after each peak; default 3s,
	// negative for none. Its backlog must drain before the run goes on.
	BurstDuration time.Duration
	// Warmup is sent before each peak window and not measured; default 2s,
	// negative for none.
	Warmup time.Duration
	// LatencyDuration is phase C; default 20s.
	LatencyDuration time.Duration
	// SampleEvery is the soak's memory sampling interval; default 5s.
	SampleEvery time.Duration
	// Batch is the events per request (PutEvents entries); default 10,
	// at most 10.
	Batch int
	// Senders is the number of concurrent senders, each with one batch in
	// flight; default 16.
	Senders int
	// Backlog bounds the events sent and not yet delivered during the
	// end-to-end peaks; default 2000, enough to keep every queue busy.
	Backlog int
	// Dir is where the embedded servers keep their data and the consumers
	// their files; "" uses a temporary directory removed afterwards. A
	// given Dir is kept.
	Dir string
	// MaxPeakEvents ends each peak and burst phase after this many events
	// (tests); 0: no cap.
	MaxPeakEvents int64
	// LatencyRate, when above 0, is the rate of phases C and D in events/s
	// instead of half of B's peak: latency at the rate you expect. The
	// latency target is judged only at half peak.
	LatencyRate float64
	// DrainTimeout bounds the wait, after each phase's senders stop, for
	// every accepted event to be delivered; default 3m.
	DrainTimeout time.Duration
	// CPUProfile, when set, receives a CPU profile (runtime/pprof) of
	// phase B's measured window.
	CPUProfile io.Writer
	// LatencyCPUProfile, when set, receives a CPU profile of phase C's
	// window: where an event's CPU goes when batches are small.
	LatencyCPUProfile io.Writer
	// HeapProfile, when set, receives a heap profile taken at the end of
	// the soak, after GC: what routerd holds on to.
	HeapProfile io.Writer
	// Logger is routerd's log; nil discards it.
	Logger *slog.Logger
	// Progress, when set, gets one line as each phase starts and ends.
	Progress io.Writer
}

func (o *Options) defaults() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Duration, defaultSoak)
	def(&o.PeakDuration, defaultPeak)
	def(&o.BurstDuration, defaultBurst)
	def(&o.Warmup, defaultWarmup)
	def(&o.LatencyDuration, defaultLatency)
	def(&o.SampleEvery, defaultSample)
	def(&o.DrainTimeout, defaultDrain)
	o.Warmup, o.BurstDuration = max(o.Warmup, 0), max(o.BurstDuration, 0)
	if o.Batch == 0 {
		o.Batch = defaultBatch
	}
	if o.Senders == 0 {
		o.Senders = defaultSenders
	}
	if o.Backlog == 0 {
		o.Backlog = defaultBacklog
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Batch < 1 || o.Batch > maxPutEntries:
		return fmt.Errorf("e2ebench: batch must be 1 to %d (PutEvents' limit), not %d", maxPutEntries, o.Batch)
	case o.Senders < 1:
		return fmt.Errorf("e2ebench: senders must be at least 1, not %d", o.Senders)
	case o.Backlog < o.Batch:
		return fmt.Errorf("e2ebench: backlog must be at least one batch (%d), not %d", o.Batch, o.Backlog)
	case o.Duration < 0 || o.PeakDuration < 0 || o.LatencyDuration < 0 || o.SampleEvery <= 0 || o.DrainTimeout < 0 || o.LatencyRate < 0:
		return errors.New("e2ebench: durations must not be negative")
	}
	return nil
}

// Report is the result of a run, printed as JSON by routerctl bench e2e.
type Report struct {
	Machine   Machine  `json:"machine"`
	LoadStart LoadAvg  `json:"load_start"`
	LoadEnd   LoadAvg  `json:"load_end"`
	Settings  Settings `json:"settings"`
	// EventBytes is the mean size of a delivered envelope.
	EventBytes int `json:"event_bytes"`

	// RawEventsPerSecond is phase A's end-to-end delivered rate: events in
	// all three files per second.
	RawEventsPerSecond float64 `json:"raw_events_per_second"`
	// RouterdEventsPerSecond is phase B's rates.
	RouterdEventsPerSecond Rates `json:"routerd_events_per_second"`
	// RawRates are phase A's, in the same shape.
	RawRates Rates `json:"raw_rates"`
	// Ratio is routerd's delivered rate over the raw one.
	Ratio float64 `json:"ratio"`
	// LatencyHalfPeak is phase C's send-to-file latency per delivery.
	LatencyHalfPeak Latency `json:"latency_half_peak"`
	// Memory is phase D's series and verdict.
	Memory  Memory   `json:"memory"`
	Targets []Target `json:"targets"`

	Phases Phases `json:"phases"`
	// Deliveries counts the lines in each routerd consumer's file at the
	// end (phases B–D); Duplicates and Unexpected are lines that repeat an
	// event already in that file, or that no rule sends there.
	Deliveries map[string]int64 `json:"deliveries"`
	Duplicates int64            `json:"duplicates"`
	Unexpected int64            `json:"unexpected"`
	// Config is the routerd configuration used (YAML).
	Config string `json:"config"`
	// Errors lists what went wrong (undelivered events, failed requests).
	Errors []string `json:"errors,omitempty"`
}

// Settings echo the options that shaped the numbers.
type Settings struct {
	Senders        int     `json:"senders"`
	Batch          int     `json:"batch"`
	Backlog        int     `json:"backlog"`
	WarmupSeconds  float64 `json:"warmup_seconds"`
	PeakSeconds    float64 `json:"peak_seconds"`
	BurstSeconds   float64 `json:"burst_seconds"`
	LatencySeconds float64 `json:"latency_seconds"`
	SoakSeconds    float64 `json:"soak_seconds"`
	SampleSeconds  float64 `json:"sample_every_seconds"`
	HalfPeakPerSec float64 `json:"half_peak_events_per_second"`
	// LatencyPerSec is the rate of phases C and D when --latency-rate set
	// it; 0: half peak.
	LatencyPerSec   float64 `json:"latency_events_per_second,omitempty"`
	Consumers       int     `json:"consumers"`
	DeliveriesPerEv float64 `json:"deliveries_per_event"`
}

// Rates are events per second.
type Rates struct {
	// Accepted and Delivered are the end-to-end peak (bounded backlog).
	Accepted  float64 `json:"accepted"`
	Delivered float64 `json:"delivered"`
	// IngestOnly is the burst's accepted rate, delivery falling behind;
	// DeliveryOnly the rate its backlog drained at, ingest idle.
	IngestOnly   float64 `json:"ingest_only,omitempty"`
	DeliveryOnly float64 `json:"delivery_only,omitempty"`
	// CPUPerEventUs is the process's CPU time per event delivered at the
	// end-to-end peak (senders and tailer included, as in both phases).
	CPUPerEventUs float64 `json:"cpu_us_per_event"`
}

// Latency summarises one histogram, in milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

func latencyOf(h *hist) Latency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{Count: h.n, P50Ms: ms(h.quantile(0.50)), P99Ms: ms(h.quantile(0.99)), MaxMs: ms(h.max), MeanMs: ms(h.mean())}
}

// Memory is the soak's series and whether it stayed flat.
//
// JetStream remembers message ids for its de-duplication window (up to a
// minute on routerd's streams, see bus.FreshIDKey), so routerd's heap grows
// with the event rate for the first minute of a run before it levels off:
// a short soak measures that warm-up, not a leak. The slopes over the last
// third tell the two apart.
type Memory struct {
	Samples []MemSample `json:"samples"`
	// HeapChange and RSSChange are last third vs first third (0.05 = +5%).
	HeapChange float64 `json:"heap_change"`
	RSSChange  float64 `json:"rss_change"`
	// HeapSlope and RSSSlope are MB per minute over the last third.
	HeapSlope float64 `json:"heap_slope_mb_per_min_last_third"`
	RSSSlope  float64 `json:"rss_slope_mb_per_min_last_third"`
	HeapFlat  bool    `json:"heap_flat"`
	RSSFlat   bool    `json:"rss_flat"`
	Flat      bool    `json:"flat"`
	// Judged is false when the soak took fewer than minFlatSamples samples.
	Judged  bool   `json:"judged"`
	Verdict string `json:"verdict"`
}

// Target is one goal of the issue and whether this run met it.
type Target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	// Judged is false when the run did not measure what the target asks
	// (phase C at --latency-rate, a soak too short to sample); Met is then
	// false too, and the summary says "not judged" rather than "NOT met".
	Judged bool `json:"judged"`
}

// Phases holds each phase's details.
type Phases struct {
	Raw           Phase `json:"a_raw_peak"`
	RawIngest     Phase `json:"a_raw_burst"`
	Routerd       Phase `json:"b_routerd_peak"`
	RouterdIngest Phase `json:"b_routerd_burst"`
	HalfPeak      Phase `json:"c_half_peak"`
	Soak          Phase `json:"d_soak"`
}

// Phase is what one phase sent, what arrived, and how fast.
type Phase struct {
	LoadStart LoadAvg `json:"load_start"`
	LoadEnd   LoadAvg `json:"load_end"`
	// SpeedNsPerKB is speedProbe's figure taken just before the phase
	// began: higher means the shared machine was running slow.
	SpeedNsPerKB float64 `json:"speed_ns_per_kb"`
	// TargetPerSecond is the open-loop send rate; 0 for closed loop.
	TargetPerSecond float64 `json:"target_events_per_second,omitempty"`
	// Backlog is the bound on events in flight; 0 for none.
	Backlog    int    `json:"backlog,omitempty"`
	Sent       int64  `json:"sent"`
	Accepted   int64  `json:"accepted"`
	Failed     int64  `json:"failed"`
	FirstError string `json:"first_error,omitempty"`
	// Delivered counts events in every file they belong in; Deliveries
	// counts lines.
	Delivered  int64 `json:"delivered"`
	Deliveries int64 `json:"deliveries"`
	// WindowSeconds is the measured window; the rates below are over it.
	WindowSeconds      float64 `json:"window_seconds"`
	AcceptedPerSecond  float64 `json:"accepted_per_second"`
	DeliveredPerSecond float64 `json:"delivered_per_second"`
	// CoresUsed is the process's CPU time over the window divided by the
	// window, and CPUPerEventUs that CPU time per event delivered: with
	// the machine shared and the pipeline waiting on fsync, the cost of an
	// event says more about routerd than its rate does.
	CoresUsed     float64 `json:"cores_used"`
	CPUPerEventUs float64 `json:"cpu_us_per_event,omitempty"`
	// AllocKBPerEvent is the process's heap allocation per event delivered
	// over the window, and GCPerSecond its garbage collections a second:
	// what the collector has to keep up with.
	AllocKBPerEvent float64 `json:"alloc_kb_per_event,omitempty"`
	GCPerSecond     float64 `json:"gc_per_second"`
	// DrainSeconds is how long delivery went on after the senders stopped,
	// and DrainPerSecond the delivery rate meanwhile (ingest idle).
	DrainSeconds   float64 `json:"drain_seconds"`
	DrainPerSecond float64 `json:"drain_delivered_per_second,omitempty"`
	// MaxSenderLagMs is how late the open-loop senders got behind their
	// schedule at worst (the client's own limit showing).
	MaxSenderLagMs float64 `json:"max_sender_lag_ms,omitempty"`
	// Latency is send → line in a consumer's file, per delivery;
	// LatencyAll is send → line in the last of the event's files.
	Latency    Latency `json:"latency"`
	LatencyAll Latency `json:"latency_all_consumers"`
	// ByConsumer is Latency for each consumer: the slowest one sets the
	// pace of "delivered".
	ByConsumer map[string]Latency `json:"latency_by_consumer"`
	// Timeline is the deliveries second by second from the phase's start.
	Timeline []second `json:"timeline"`
	// Stages is routerd's own latency histograms over the phase, by stage
	// (see stageMetrics): where in the pipeline a tail comes from. Their
	// p99 is read from the buckets and only as fine as they are.
	Stages map[string]StageLatency `json:"routerd_stages,omitempty"`
}

// Run runs the phases and returns the report. A returned error with a
// filled-in report means the run finished but something was wrong (events
// undelivered, requests failed); the report says what.
func Run(ctx context.Context, o Options) (rep Report, err error) {
	if err := o.defaults(); err != nil {
		return rep, err
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "e2ebench-"); err != nil {
			return rep, fmt.Errorf("e2ebench: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("e2ebench: %w", err)
	}
	rep.Machine, rep.LoadStart = machine(), loadavg()
	rep.Settings = Settings{
		Senders: o.Senders, Batch: o.Batch, Backlog: o.Backlog,
		WarmupSeconds: o.Warmup.Seconds(), PeakSeconds: o.PeakDuration.Seconds(), BurstSeconds: o.BurstDuration.Seconds(),
		LatencySeconds: o.LatencyDuration.Seconds(), SoakSeconds: o.Duration.Seconds(),
		SampleSeconds: o.SampleEvery.Seconds(), Consumers: len(routerdConsumers),
	}
	var size, vip int
	now := time.Now()
	for seq := range int64(eventSizeSample) {
		size += len(envelope(seq, now))
		if isVIP(seq) {
			vip++
		}
	}
	rep.EventBytes = size / eventSizeSample
	rep.Settings.DeliveriesPerEv = 3 + float64(vip)/eventSizeSample

	if err := runRaw(ctx, o, filepath.Join(dir, "raw"), &rep); err != nil {
		return rep, err
	}
	if err := runRouterd(ctx, o, filepath.Join(dir, "routerd"), &rep); err != nil {
		return rep, err
	}
	rep.LoadEnd = loadavg()
	rep.judge()
	if len(rep.Errors) > 0 {
		return rep, fmt.Errorf("e2ebench: %s", strings.Join(rep.Errors, "; "))
	}
	return rep, nil
}

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "e2ebench: "+format+"\n", args...)
	}
}

// runner runs phases against one system under test, each phase's events
// numbered after the previous phase's.
type runner struct {
	o       Options
	rep     *Report
	tr      *tracker
	seqs    atomic.Int64
	newSend func() sendFunc
	metrics prometheus.Gatherer // routerd's registry; nil for the raw pipeline
}

// phase sends as spec says, waits for every accepted event to be
// delivered, and reports both.
func (r *runner) phase(ctx context.Context, name string, spec loadSpec) Phase {
	load0, speed := loadavg(), speedProbe()
	p := r.tr.beginPhase(r.seqs.Load())
	var stages0 map[string]histSnap
	if r.metrics != nil {
		stages0 = snapshotStages(r.metrics)
	}
	lr := runLoad(ctx, spec, &r.seqs, r.tr, p, r.newSend)

	before := r.tr.completed(p)
	drainStart := time.Now()
	done := r.tr.waitDelivered(ctx, p, lr.accepted, r.o.DrainTimeout)
	s := r.tr.snapshot(p)
	ph := Phase{
		LoadStart: load0, LoadEnd: loadavg(), SpeedNsPerKB: speed, TargetPerSecond: spec.rate, Backlog: spec.backlog,
		Sent: lr.sent, Accepted: lr.accepted, Failed: lr.failed, FirstError: lr.firstError,
		Delivered: s.completed, Deliveries: s.deliveries,
		WindowSeconds:  lr.window.Seconds(),
		MaxSenderLagMs: float64(lr.maxLag) / float64(time.Millisecond),
		Latency:        latencyOf(&s.delivery), LatencyAll: latencyOf(&s.complete),
		ByConsumer: map[string]Latency{},
		Timeline:   s.timeline,
	}
	for i, name := range r.tr.consumers() {
		ph.ByConsumer[name] = latencyOf(&s.byConsumer[i])
	}
	if w := lr.window.Seconds(); w > 0 {
		ph.AcceptedPerSecond = float64(lr.windowAccepted) / w
		ph.DeliveredPerSecond = float64(lr.windowDelivered) / w
		ph.CoresUsed = lr.windowCPU.Seconds() / w
		ph.GCPerSecond = float64(lr.windowGCs) / w
	}
	if lr.windowDelivered == 0 && s.completed > 0 && s.lastDone.After(lr.sendersStart) {
		// A window too short for anything to come through (tests, with a
		// cap on events): the phase's whole span stands in for it.
		ph.DeliveredPerSecond = float64(s.completed) / s.lastDone.Sub(lr.sendersStart).Seconds()
	}
	if lr.windowDelivered > 0 {
		ph.CPUPerEventUs = float64(lr.windowCPU.Microseconds()) / float64(lr.windowDelivered)
		ph.AllocKBPerEvent = float64(lr.windowAlloc) / 1024 / float64(lr.windowDelivered)
	}
	if !s.lastDone.IsZero() && s.lastDone.After(drainStart) {
		ph.DrainSeconds = s.lastDone.Sub(drainStart).Seconds()
		if ph.DrainSeconds > 0.1 {
			ph.DrainPerSecond = float64(s.completed-before) / ph.DrainSeconds
		}
	}
	if r.metrics != nil {
		for stage, h := range snapshotStages(r.metrics) {
			if l, ok := stageLatency(stages0[stage], h); ok {
				if ph.Stages == nil {
					ph.Stages = map[string]StageLatency{}
				}
				ph.Stages[stage] = l
			}
		}
	}
	if done < lr.accepted {
		r.rep.Errors = append(r.rep.Errors, fmt.Sprintf("phase %s: %d of %d accepted events not delivered after %s", name, lr.accepted-done, lr.accepted, r.o.DrainTimeout))
	}
	if lr.failed > 0 {
		r.rep.Errors = append(r.rep.Errors, fmt.Sprintf("phase %s: %d events refused: %s", name, lr.failed, lr.firstError))
	}
	return ph
}

// peaks runs the end-to-end peak (bounded backlog) and the ingest burst,
// and returns their rates.
func (r *runner) peaks(ctx context.Context, name string, peak, burst *Phase, onWindow func(bool)) Rates {
	o := r.o
	*peak = r.phase(ctx, name, loadSpec{senders: o.Senders, batch: o.Batch, warmup: o.Warmup, window: o.PeakDuration,
		maxEvents: o.MaxPeakEvents, backlog: o.Backlog, onWindow: onWindow})
	rates := Rates{Accepted: peak.AcceptedPerSecond, Delivered: peak.DeliveredPerSecond, CPUPerEventUs: peak.CPUPerEventUs}
	o.progress("phase %s: %.0f events/s accepted, %.0f delivered end to end, %.0f µs CPU per event, %.2f cores, %.1f KB allocated per event, %.1f GCs/s (load %s)",
		name, rates.Accepted, rates.Delivered, rates.CPUPerEventUs, peak.CoresUsed, peak.AllocKBPerEvent, peak.GCPerSecond, peak.LoadEnd)
	if o.BurstDuration > 0 && ctx.Err() == nil {
		*burst = r.phase(ctx, name+" burst", loadSpec{senders: o.Senders, batch: o.Batch, window: o.BurstDuration, maxEvents: o.MaxPeakEvents})
		rates.IngestOnly, rates.DeliveryOnly = burst.AcceptedPerSecond, burst.DrainPerSecond
		o.progress("phase %s burst: %.0f events/s accepted by ingest alone, backlog drained at %.0f/s in %.1fs (load %s)",
			name, rates.IngestOnly, rates.DeliveryOnly, burst.DrainSeconds, burst.LoadEnd)
	}
	return rates
}

// runRaw is phase A.
func runRaw(ctx context.Context, o Options, dir string, rep *Report) error {
	o.progress("phase A: raw JetStream baseline, %d senders × %d events, %s + %s burst (load %s)", o.Senders, o.Batch, o.PeakDuration, o.BurstDuration, loadavg())
	raw, err := startRaw(ctx, dir)
	if err != nil {
		return fmt.Errorf("e2ebench: phase A: %w", err)
	}
	r := &runner{o: o, rep: rep, newSend: raw.sender, tr: newTracker(raw.files, raw.order, func(int64) uint8 { return 0b111 })}
	r.tr.start()
	rep.RawRates = r.peaks(ctx, "A", &rep.Phases.Raw, &rep.Phases.RawIngest, nil)
	rep.RawEventsPerSecond = rep.RawRates.Delivered
	cerr := raw.close()
	terr := r.tr.close()
	if r.tr.dups > 0 || r.tr.strange > 0 {
		rep.Errors = append(rep.Errors, fmt.Sprintf("phase A: %d duplicate and %d unexpected lines", r.tr.dups, r.tr.strange))
	}
	if err := errors.Join(cerr, terr, ctx.Err()); err != nil {
		return fmt.Errorf("e2ebench: phase A: %w", err)
	}
	return nil
}

// runRouterd is phases B, C and D, on one routerd.
func runRouterd(ctx context.Context, o Options, dir string, rep *Report) (err error) {
	a, text, files, err := startRouterd(ctx, dir, config.BusNATSEmbedded, o.Logger)
	if err != nil {
		return fmt.Errorf("e2ebench: start routerd: %w", err)
	}
	rep.Config = text
	client := newHTTPClient(o.Senders)
	url := "http://" + a.Addr() + "/"
	r := &runner{o: o, rep: rep, metrics: a.Registry(), tr: newTracker(files, routerdConsumers, expectRouterd),
		newSend: func() sendFunc { return httpSender(client, url) }}
	r.tr.start()
	defer func() {
		client.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		serr := a.Stop(sctx)
		terr := r.tr.close()
		rep.Deliveries = r.tr.lines()
		rep.Duplicates, rep.Unexpected = r.tr.dups, r.tr.strange
		if r.tr.dups > 0 || r.tr.strange > 0 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("routerd: %d duplicate and %d unexpected lines", r.tr.dups, r.tr.strange))
		}
		if err == nil && (serr != nil || terr != nil) {
			err = fmt.Errorf("e2ebench: stop routerd: %w", errors.Join(serr, terr))
		}
	}()

	// B: peak, with the CPU profile over its measured window.
	o.progress("phase B: routerd, %d senders × PutEvents of %d, %s + %s burst (load %s)", o.Senders, o.Batch, o.PeakDuration, o.BurstDuration, loadavg())
	rep.RouterdEventsPerSecond = r.peaks(ctx, "B", &rep.Phases.Routerd, &rep.Phases.RouterdIngest, cpuProfiler(o.CPUProfile, &rep.Errors))
	if err := ctx.Err(); err != nil {
		return err
	}

	// Half of what routerd delivers end to end at peak.
	peak := rep.RouterdEventsPerSecond.Delivered
	if peak <= 0 {
		return errors.New("e2ebench: phase B delivered nothing; cannot derive the half-peak rate")
	}
	half := halfPeakFactor * peak
	rep.Settings.HalfPeakPerSec = half
	if o.LatencyRate > 0 {
		half = o.LatencyRate
		rep.Settings.LatencyPerSec = half
	}

	// C: latency at half peak.
	o.progress("phase C: latency at %.0f events/s, %s (load %s)", half, o.LatencyDuration, loadavg())
	rep.Phases.HalfPeak = r.phase(ctx, "C", loadSpec{senders: o.Senders, batch: o.Batch, rate: half, window: o.LatencyDuration,
		onWindow: cpuProfiler(o.LatencyCPUProfile, &rep.Errors)})
	rep.LatencyHalfPeak = rep.Phases.HalfPeak.Latency
	o.progress("phase C: p50 %.1f ms, p99 %.1f ms, max %.1f ms, %.0f µs CPU and %.1f KB allocated per event, %.1f GCs/s (load %s)",
		rep.LatencyHalfPeak.P50Ms, rep.LatencyHalfPeak.P99Ms, rep.LatencyHalfPeak.MaxMs,
		rep.Phases.HalfPeak.CPUPerEventUs, rep.Phases.HalfPeak.AllocKBPerEvent, rep.Phases.HalfPeak.GCPerSecond, rep.Phases.HalfPeak.LoadEnd)
	if st := rep.Phases.HalfPeak.Stages; st != nil {
		o.progress("phase C: routerd's stages, p50 / p99 from its histograms: PutEvents %.1f / %.1f ms, bus → sink done %.1f / %.1f ms, sink call %.1f / %.1f ms",
			st["ingest_request"].P50Ms, st["ingest_request"].P99Ms, st["ingestion_to_invocation"].P50Ms, st["ingestion_to_invocation"].P99Ms,
			st["invocation"].P50Ms, st["invocation"].P99Ms)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// D: soak at half peak, memory sampled meanwhile. The tracker's
	// per-event state is allocated up front, and the memory the bursts
	// left behind goes back to the OS first, so that the series shows
	// routerd's steady state, not the tracker or phase B's high water.
	o.progress("phase D: soak at %.0f events/s, %s, memory every %s (load %s)", half, o.Duration, o.SampleEvery, loadavg())
	r.tr.reserve(r.seqs.Load() + int64(1.2*half*o.Duration.Seconds()) + 1024)
	debug.FreeOSMemory()
	var samples []MemSample
	var wg sync.WaitGroup
	stopSampling := make(chan struct{})
	// The first sample comes one interval in: right after FreeOSMemory the
	// RSS is below the working set, and its regrowth is not a leak.
	t0 := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(o.SampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				samples = append(samples, sampleMemory(t0))
			case <-stopSampling:
				return
			}
		}
	})
	rep.Phases.Soak = r.phase(ctx, "D", loadSpec{senders: o.Senders, batch: o.Batch, rate: half, window: o.Duration})
	close(stopSampling)
	wg.Wait()
	if o.HeapProfile != nil {
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(o.HeapProfile, 0); err != nil {
			rep.Errors = append(rep.Errors, "heap profile: "+err.Error())
		}
	}
	rep.Memory = judgeMemory(samples)
	o.progress("phase D: %s (load %s)", rep.Memory.Verdict, rep.Phases.Soak.LoadEnd)
	return ctx.Err()
}

// judgeMemory gives the soak's verdict on heap and RSS.
func judgeMemory(samples []MemSample) Memory {
	m := Memory{Samples: samples}
	heap := make([]float64, len(samples))
	rss := make([]float64, len(samples))
	ts := make([]float64, len(samples))
	for i, s := range samples {
		heap[i], rss[i], ts[i] = s.HeapInuseMB, s.RSSMB, s.Seconds
	}
	m.HeapSlope, m.RSSSlope = slopePerMinute(ts, heap), slopePerMinute(ts, rss)
	var hw, rw string
	m.HeapFlat, m.HeapChange, hw = flatness(heap, FlatTolerance)
	m.RSSFlat, m.RSSChange, rw = flatness(rss, FlatTolerance)
	m.Flat = m.HeapFlat && m.RSSFlat
	m.Judged = len(samples) >= minFlatSamples
	word := map[bool]string{true: "flat", false: "NOT flat"}
	if !m.Judged {
		word[false] = "not judged"
	}
	m.Verdict = fmt.Sprintf("heap in use %s (%s; last third %+.1f MB/min); RSS %s (%s; last third %+.1f MB/min)",
		word[m.HeapFlat], hw, m.HeapSlope, word[m.RSSFlat], rw, m.RSSSlope)
	return m
}

// judge computes the ratio and checks the targets.
func (r *Report) judge() {
	if r.RawEventsPerSecond > 0 {
		r.Ratio = r.RouterdEventsPerSecond.Delivered / r.RawEventsPerSecond
	}
	r.Targets = []Target{
		{
			Name:     fmt.Sprintf("routerd delivered / raw delivered ≥ %.1f", TargetRatio),
			Measured: fmt.Sprintf("%.0f / %.0f = %.2f", r.RouterdEventsPerSecond.Delivered, r.RawEventsPerSecond, r.Ratio),
			Met:      r.Ratio >= TargetRatio,
			Judged:   r.RawEventsPerSecond > 0,
		},
		r.latencyTarget(),
		{
			Name:     "memory flat over the soak",
			Measured: fmt.Sprintf("heap %+.0f%%, RSS %+.0f%% (last third vs first)", 100*r.Memory.HeapChange, 100*r.Memory.RSSChange),
			Met:      r.Memory.Flat,
			Judged:   r.Memory.Judged,
		},
	}
}

func (r *Report) latencyTarget() Target {
	t := Target{
		Name:     fmt.Sprintf("p99 send → delivery < %s at half peak", TargetP99),
		Measured: fmt.Sprintf("p99 %.1f ms at %.0f events/s", r.LatencyHalfPeak.P99Ms, r.Settings.HalfPeakPerSec),
		Met:      r.LatencyHalfPeak.Count > 0 && r.LatencyHalfPeak.P99Ms < float64(TargetP99)/float64(time.Millisecond),
		Judged:   r.LatencyHalfPeak.Count > 0,
	}
	if r.Settings.LatencyPerSec > 0 {
		t.Measured = fmt.Sprintf("phases C and D ran at %.0f events/s (--latency-rate), half peak is %.0f; p99 %.1f ms there",
			r.Settings.LatencyPerSec, r.Settings.HalfPeakPerSec, r.LatencyHalfPeak.P99Ms)
		t.Met, t.Judged = false, false
	}
	return t
}

// Summary is a few lines for people.
func (r *Report) Summary() string {
	var b strings.Builder
	yes := map[bool]string{true: "met", false: "NOT met"}
	fmt.Fprintf(&b, "routerd end to end: %s, %d cores, %s; load %s → %s\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Go, r.LoadStart, r.LoadEnd)
	fmt.Fprintf(&b, "  events: OrderCreated, %d bytes, %d senders × %d per request, %.2f deliveries per event\n",
		r.EventBytes, r.Settings.Senders, r.Settings.Batch, r.Settings.DeliveriesPerEv)
	row := func(name string, x Rates) {
		fmt.Fprintf(&b, "  %-34s %7.0f events/s delivered end to end, %.0f µs CPU/event", name, x.Delivered, x.CPUPerEventUs)
		if x.IngestOnly > 0 {
			fmt.Fprintf(&b, " (ingest alone %.0f, delivery alone %.0f)", x.IngestOnly, x.DeliveryOnly)
		}
		b.WriteByte('\n')
	}
	row("A raw JetStream + file sinks", r.RawRates)
	row("B routerd (PutEvents → files)", r.RouterdEventsPerSecond)
	l := r.LatencyHalfPeak
	fmt.Fprintf(&b, "  %-34s p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", fmt.Sprintf("C latency at %.0f events/s", cmp.Or(r.Settings.LatencyPerSec, r.Settings.HalfPeakPerSec)), l.P50Ms, l.P99Ms, l.MaxMs)
	fmt.Fprintf(&b, "  %-34s %.0f, %.0f, %.0f, %.0f ns per KB scanned (higher: slower)\n", "machine speed before A, B, C, D",
		r.Phases.Raw.SpeedNsPerKB, r.Phases.Routerd.SpeedNsPerKB, r.Phases.HalfPeak.SpeedNsPerKB, r.Phases.Soak.SpeedNsPerKB)
	fmt.Fprintf(&b, "  %-34s %s\n", fmt.Sprintf("D soak %.0fs", r.Settings.SoakSeconds), r.Memory.Verdict)
	for _, t := range r.Targets {
		verdict := yes[t.Met]
		if !t.Judged {
			verdict = "not judged"
		}
		fmt.Fprintf(&b, "  target: %s — %s — %s\n", t.Name, t.Measured, verdict)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	return b.String()
}

// cpuProfiler returns a phase's onWindow that writes a CPU profile of the
// window to w (nothing when w is nil); an error starting it goes to errs.
func cpuProfiler(w io.Writer, errs *[]string) func(start bool) {
	var err error
	return func(start bool) {
		switch {
		case w == nil:
		case start:
			if err = pprof.StartCPUProfile(w); err != nil {
				*errs = append(*errs, "cpu profile: "+err.Error())
			}
		case err == nil:
			pprof.StopCPUProfile()
		}
	}
}
