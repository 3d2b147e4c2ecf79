package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/testkit"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSink answers each Send with the next result of fail (nil: success).
type fakeSink struct {
	mu       sync.Mutex
	fail     func(d event.Delivery) error
	got      []event.Delivery
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	delay    time.Duration
}

func (s *fakeSink) Send(ctx context.Context, d event.Delivery) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	if s.fail != nil {
		return s.fail(d)
	}
	return nil
}

func (s *fakeSink) Close() error { return nil }

func (s *fakeSink) deliveries() []event.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Delivery(nil), s.got...)
}

func queue(t *testing.T, b bus.Bus, consumer string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		m := message.NewMessage(id+":"+consumer, []byte(`{"id":"`+id+`","detail":{}}`))
		m.Metadata.Set(bus.EventIDKey, id)
		m.Metadata.Set(bus.RuleKey, "r1")
		m.Metadata.Set(bus.IngestedKey, time.Now().UTC().Format(time.RFC3339Nano))
		if err := b.Publish(bus.DeliverTopic(consumer), m); err != nil {
			t.Fatal(err)
		}
	}
}

func start(t *testing.T, b bus.Bus, name string, s sinks.Sink, p Policy, m *Metrics) *Consumer {
	t.Helper()
	c := New(name, s, p, b, Options{Metrics: m})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Stop(ctx)
	})
	return c
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dlqRecords(t *testing.T, b bus.Bus, consumer string, n int) []event.DeadLetter {
	t.Helper()
	var out []event.DeadLetter
	for _, m := range deadLetters(t, b, consumer, n) {
		var d event.DeadLetter
		if err := json.Unmarshal(m.Payload, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// deadLetters takes n messages off the consumer's DLQ, failing the test
// if they do not come within 10 s each.
func deadLetters(t *testing.T, b bus.Bus, consumer string, n int) []*message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Consume(ctx, bus.DLQTopic(consumer), bus.ConsumeOptions{Durable: "test-dlq-" + consumer})
	if err != nil {
		t.Fatal(err)
	}
	var out []*message.Message
	for len(out) < n {
		select {
		case m := <-ch:
			m.Ack()
			out = append(out, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d DLQ records, want %d", len(out), n)
		}
	}
	return out
}

func TestDeliverSuccess(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s := &fakeSink{}
	start(t, b, "inventory", s, Policy{DLQ: true}, m)
	queue(t, b, "inventory", "e1", "e2", "e3")
	eventually(t, "3 deliveries", func() bool { return len(s.deliveries()) == 3 })
	d := s.deliveries()[0]
	if d.Consumer != "inventory" || d.Rule != "r1" || d.Attempt != 1 || d.ID == "" {
		t.Errorf("delivery = %+v", d)
	}
	eventually(t, "metrics", func() bool {
		return testutil.ToFloat64(m.Invocations.WithLabelValues("inventory", "success")) == 3
	})
}

func TestRetryThenSuccess(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	var calls atomic.Int32
	s := &fakeSink{fail: func(event.Delivery) error {
		if calls.Add(1) < 3 {
			return errors.New("HTTP 503")
		}
		return nil
	}}
	m := NewMetrics(nil)
	start(t, b, "c", s, Policy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, DLQ: true}, m)
	queue(t, b, "c", "e1")
	eventually(t, "3 attempts", func() bool { return len(s.deliveries()) == 3 })
	got := s.deliveries()
	for i, d := range got {
		if d.Attempt != i+1 || d.ID != "e1" {
			t.Errorf("attempt %d: %+v", i, d)
		}
	}
	eventually(t, "success counted", func() bool {
		return testutil.ToFloat64(m.Invocations.WithLabelValues("c", "success")) == 1 &&
			testutil.ToFloat64(m.Attempts.WithLabelValues("c", "retry")) == 2
	})
}

func TestPermanentGoesToDLQAtOnce(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{fail: func(event.Delivery) error { return sinks.Permanent(errors.New("HTTP 404: no such endpoint")) }}
	start(t, b, "c", s, Policy{DLQ: true}, NewMetrics(nil))
	queue(t, b, "c", "e1")
	recs := dlqRecords(t, b, "c", 1)
	r := recs[0]
	if r.Reason != "permanent_error" || r.Attempts != 1 || r.Consumer != "c" || r.Rule != "r1" ||
		r.ErrorMessage != "HTTP 404: no such endpoint" || r.ErrorCode == "" || r.FirstAttempt.IsZero() || r.LastAttempt.IsZero() {
		t.Errorf("record = %+v", r)
	}
	var ev map[string]any
	if err := json.Unmarshal(r.Event, &ev); err != nil || ev["id"] != "e1" {
		t.Errorf("record event = %s", r.Event)
	}
	if n := len(s.deliveries()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// TestDeadLetteredAgainIsKept checks that an event dead-lettered a second
// time soon after the first (replayed, as routerctl dlq replay queues it)
// gets a second DLQ record instead of being taken for a repeat of the first.
func TestDeadLetteredAgainIsKept(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{fail: func(event.Delivery) error { return sinks.Permanent(errors.New("HTTP 400")) }}
	start(t, b, "c", s, Policy{DLQ: true}, NewMetrics(nil))
	queue(t, b, "c", "e1")
	dlqRecords(t, b, "c", 1)
	m := message.NewMessage("e1:c:replay-1", []byte(`{"id":"e1","detail":{}}`))
	m.Metadata.Set(bus.EventIDKey, "e1")
	m.Metadata.Set(bus.RuleKey, "r1")
	if err := b.Publish(bus.DeliverTopic("c"), m); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replayed event's attempt", func() bool { return len(s.deliveries()) == 2 })
	deadLetters(t, b, "c", 1) // the second dead letter of e1
}

func TestMaxAttemptsToDLQ(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{fail: func(event.Delivery) error { return errors.New("connection refused") }}
	m := NewMetrics(nil)
	start(t, b, "c", s, Policy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, DLQ: true}, m)
	queue(t, b, "c", "e1", "e2")
	recs := dlqRecords(t, b, "c", 2)
	for _, r := range recs {
		if r.Reason != "max_attempts" || r.Attempts != 3 || r.ErrorMessage != "connection refused" {
			t.Errorf("record = %+v", r)
		}
	}
	// The metric counts a dead letter once the DLQ has stored it, so it may
	// trail the records read above by a moment.
	eventually(t, "dlq metric = 2", func() bool {
		return testutil.ToFloat64(m.DLQ.WithLabelValues("c", "max_attempts")) == 2
	})
}

// TestFailureLinesThinnedOut: a destination that fails every event writes
// one retry line and one dead-letter line a second, not one per event; the
// next line says how many it stands for.
func TestFailureLinesThinnedOut(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	var logs testkit.Buffer
	s := &fakeSink{fail: func(event.Delivery) error { return errors.New("connection refused") }}
	m := NewMetrics(nil)
	p := Policy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, DLQ: true}
	c := New("c", s, p, b, Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprint("e", i)
	}
	queue(t, b, "c", ids...)
	dlqRecords(t, b, "c", len(ids))
	count := func(msg string) int { return strings.Count(logs.String(), `msg="`+msg) }
	eventually(t, "a dead-letter line", func() bool { return count("event dead-lettered") > 0 })
	if r, d := count("delivery failed; will retry"), count("event dead-lettered"); r != 1 || d != 1 {
		t.Errorf("%d retry and %d dead-letter lines for %d events failing twice, want 1 and 1:\n%s", r, d, len(ids), logs.String())
	}
	// A second later the next of each is written, with the count left out.
	clock.Add(int64(2 * time.Second))
	queue(t, b, "c", "late")
	dlqRecords(t, b, "c", 1)
	// The dead-letter line follows the DLQ's write, which the test has read.
	eventually(t, "the dead-letter line", func() bool { return count("event dead-lettered") == 2 })
	if n := strings.Count(logs.String(), fmt.Sprintf("similar_not_logged=%d\n", len(ids)-1)); n != 2 || count("delivery failed; will retry") != 2 {
		t.Errorf("%d lines saying %d were left out, want the retry and the dead-letter line:\n%s", n, len(ids)-1, logs.String())
	}
	if got := testutil.ToFloat64(m.DLQ.WithLabelValues("c", "max_attempts")); got < float64(len(ids)) {
		t.Errorf("dlq metric %v: the metrics count every event", got)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	var first time.Time
	var mu sync.Mutex
	var gap time.Duration
	s := &fakeSink{fail: func(d event.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if d.Attempt == 1 {
			first = time.Now()
			return sinks.RetryAfter(errors.New("HTTP 429"), 300*time.Millisecond)
		}
		gap = time.Since(first)
		return nil
	}}
	start(t, b, "c", s, Policy{InitialBackoff: time.Millisecond, DLQ: true}, NewMetrics(nil))
	queue(t, b, "c", "e1")
	eventually(t, "second attempt", func() bool { return len(s.deliveries()) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if gap < 280*time.Millisecond {
		t.Errorf("retried after %s, want ≥ 300ms (Retry-After)", gap)
	}
}

// TestLongestRetryAfterWaitsForMaxEventAge: the longest Retry-After (the
// http sink's answer to "a very long time") waits until max_event_age, then
// the event has its last try and goes to the DLQ.
func TestLongestRetryAfterWaitsForMaxEventAge(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{fail: func(event.Delivery) error {
		return sinks.RetryAfter(errors.New("HTTP 503"), time.Duration(math.MaxInt64))
	}}
	start(t, b, "c", s, Policy{MaxEventAge: 300 * time.Millisecond, InitialBackoff: time.Millisecond, DLQ: true}, NewMetrics(nil))
	queue(t, b, "c", "e1")
	r := dlqRecords(t, b, "c", 1)[0]
	if gap := r.LastAttempt.Sub(r.FirstAttempt); r.Reason != "max_event_age" || r.Attempts != 2 || gap < 250*time.Millisecond {
		t.Errorf("record = %+v (%s between the attempts), want max_event_age after 2 attempts about 300ms apart", r, gap)
	}
}

func TestConcurrencyBound(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{delay: 30 * time.Millisecond}
	start(t, b, "c", s, Policy{Concurrency: 4, DLQ: true}, NewMetrics(nil))
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, fmt.Sprint("e", i))
	}
	queue(t, b, "c", ids...)
	eventually(t, "40 deliveries", func() bool { return len(s.deliveries()) == 40 })
	if m := s.maxSeen.Load(); m > 4 || m < 2 {
		t.Errorf("max concurrent sends = %d, want ≤ 4 (and parallel)", m)
	}
}

// TestNoHeadOfLineBlocking checks that a consumer whose endpoint hangs does
// not slow down another.
func TestNoHeadOfLineBlocking(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	stuck := &fakeSink{delay: time.Hour}
	fast := &fakeSink{}
	start(t, b, "stuck", stuck, Policy{Concurrency: 2, Timeout: 2 * time.Second, DLQ: true}, NewMetrics(nil))
	start(t, b, "fast", fast, Policy{Concurrency: 2, DLQ: true}, NewMetrics(nil))
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, fmt.Sprint("e", i))
	}
	queue(t, b, "stuck", ids...)
	queue(t, b, "fast", ids...)
	began := time.Now()
	eventually(t, "fast consumer done", func() bool { return len(fast.deliveries()) == 50 })
	if took := time.Since(began); took > time.Second {
		t.Errorf("fast consumer took %s while the other hung", took)
	}
}

func TestNoDLQDropsWithMetric(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{fail: func(event.Delivery) error { return sinks.Permanent(errors.New("bad request")) }}
	m := NewMetrics(nil)
	start(t, b, "c", s, Policy{DLQ: false}, m)
	queue(t, b, "c", "e1")
	eventually(t, "drop counted", func() bool {
		return testutil.ToFloat64(m.DLQ.WithLabelValues("c", "dropped_permanent_error")) == 1 &&
			testutil.ToFloat64(m.Invocations.WithLabelValues("c", "failed")) == 1
	})
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	c := New("c", &fakeSink{}, Policy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}, nil, Options{})
	for attempt, want := range map[int][2]time.Duration{
		1:  {50 * time.Millisecond, 150 * time.Millisecond},
		3:  {200 * time.Millisecond, 600 * time.Millisecond},
		20: {500 * time.Millisecond, 1500 * time.Millisecond},
	} {
		for i := 0; i < 50; i++ {
			if d := c.backoff(attempt); d < want[0] || d > want[1] {
				t.Fatalf("backoff(%d) = %s, want within %v", attempt, d, want)
			}
		}
	}
}

// batchSink is a fakeSink that also takes batches, recording their sizes.
type batchSink struct {
	fakeSink
	bmu     sync.Mutex
	batches []int
}

func (s *batchSink) SendBatch(ctx context.Context, ds []event.Delivery) []error {
	s.bmu.Lock()
	s.batches = append(s.batches, len(ds))
	s.bmu.Unlock()
	var errs []error
	for i, d := range ds {
		if i > 0 {
			s.inFlight.Add(1) // Send counts one call; the batch is one attempt
		}
		if err := s.Send(ctx, d); err != nil {
			if errs == nil {
				errs = make([]error, len(ds))
			}
			errs[i] = err
		}
		if i > 0 {
			s.inFlight.Add(-1)
		}
	}
	return errs
}

// A consumer whose sink takes batches hands it the events at hand together,
// still within its concurrency, and answers each event on its own: one that
// fails in a batch is retried alone, the others are not delivered again.
func TestBatchesForBatchSinks(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	var failed atomic.Bool
	s := &batchSink{fakeSink: fakeSink{delay: 20 * time.Millisecond, fail: func(d event.Delivery) error {
		if d.ID == "e7" && failed.CompareAndSwap(false, true) {
			return errors.New("once")
		}
		return nil
	}}}
	start(t, b, "c", s, Policy{Concurrency: 2, InitialBackoff: 10 * time.Millisecond, DLQ: true}, NewMetrics(nil))
	var ids []string
	for i := range 200 {
		ids = append(ids, fmt.Sprint("e", i))
	}
	queue(t, b, "c", ids...)
	eventually(t, "201 deliveries", func() bool { return len(s.deliveries()) == 201 })
	time.Sleep(100 * time.Millisecond)
	got := map[string]int{}
	for _, d := range s.deliveries() {
		got[d.ID]++
	}
	for _, id := range ids {
		want := 1
		if id == "e7" {
			want = 2
		}
		if got[id] != want {
			t.Errorf("%s delivered %d times, want %d", id, got[id], want)
		}
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	biggest := 0
	for _, n := range s.batches {
		biggest = max(biggest, n)
		if n > maxBatch {
			t.Errorf("batch of %d, more than %d", n, maxBatch)
		}
	}
	if biggest < 2 {
		t.Errorf("batches %v: never more than one event at once", s.batches)
	}
	if len(s.batches) >= 150 {
		t.Errorf("%d sink calls for 201 deliveries under a backlog", len(s.batches))
	}
}

// timedSink is a fakeSink with a timeout of its own (sinks.Timeouter).
type timedSink struct {
	fakeSink
	timeout time.Duration
}

func (s *timedSink) Timeout() time.Duration { return s.timeout }

// TestTimeoutFollowsTheSink checks the attempt timeout: the consumer's own
// when set, else a second beyond the sink's, else 5 s; and that a failure
// the consumer's timeout did not cause is not said to be a timeout of it.
func TestTimeoutFollowsTheSink(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	for _, tc := range []struct {
		sink    sinks.Sink
		policy  time.Duration
		want    time.Duration
		comment string
	}{
		{&timedSink{timeout: 10 * time.Second}, 0, 11 * time.Second, "sink 10s"},
		{&timedSink{timeout: 10 * time.Second}, 3 * time.Second, 3 * time.Second, "consumer 3s, sink 10s"},
		{&timedSink{}, 0, 5 * time.Second, "sink without a timeout"},
		{&fakeSink{}, 0, 5 * time.Second, "sink without timeouts"},
	} {
		c := New("c", tc.sink, Policy{Timeout: tc.policy}, b, Options{Metrics: NewMetrics(nil)})
		if c.policy.Timeout != tc.want {
			t.Errorf("%s: attempt timeout %v, want %v", tc.comment, c.policy.Timeout, tc.want)
		}
	}

	s := &fakeSink{fail: func(event.Delivery) error {
		return sinks.NewError("TIMEOUT", "httpsink: POST x: no answer within 1s", context.DeadlineExceeded)
	}}
	start(t, b, "own", s, Policy{MaxAttempts: 1, DLQ: true}, NewMetrics(nil))
	queue(t, b, "own", "e1")
	if r := dlqRecords(t, b, "own", 1)[0]; strings.Contains(r.ErrorMessage, "timed out after") {
		t.Errorf("error_message %q: the sink's own timeout, not the consumer's, fired", r.ErrorMessage)
	}
}

// TestFirstAttemptIsTheFirstTry checks that a dead letter's first_attempt is
// when the event was first tried, not when it was queued: here it waited
// 300 ms for the consumer to start.
func TestFirstAttemptIsTheFirstTry(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	queue(t, b, "c", "e1")
	time.Sleep(300 * time.Millisecond)
	s := &fakeSink{fail: func(event.Delivery) error { return errors.New("HTTP 503") }}
	start(t, b, "c", s, Policy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, DLQ: true}, NewMetrics(nil))
	r := dlqRecords(t, b, "c", 1)[0]
	if waited := r.FirstAttempt.Sub(r.Ingested); waited < 250*time.Millisecond || r.LastAttempt.Before(r.FirstAttempt) || r.Attempts != 2 {
		t.Errorf("first attempt %v after ingestion (record %+v), want the first try's time, ≥ 300ms after", waited, r)
	}
}

// TestDeadLetterKeepsEventBytes checks that a dead letter holds the event
// as it was: <, > and & are not escaped, which takes six bytes for one.
func TestDeadLetterKeepsEventBytes(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	s := &fakeSink{fail: func(event.Delivery) error { return sinks.Permanent(errors.New("HTTP 400")) }}
	start(t, b, "c", s, Policy{DLQ: true}, NewMetrics(nil))
	m := message.NewMessage("e1:c", []byte(`{"id":"e1","detail":{"q":"a<b && c>d"}}`))
	m.Metadata.Set(bus.EventIDKey, "e1")
	if err := b.Publish(bus.DeliverTopic("c"), m); err != nil {
		t.Fatal(err)
	}
	if got := deadLetters(t, b, "c", 1)[0]; !strings.Contains(string(got.Payload), `"q":"a<b && c>d"`) {
		t.Errorf("dead letter %s: the event's bytes changed", got.Payload)
	}
}
