package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var orderRules = []Rule{
	{Name: "order-created", Pattern: rules.MustCompile(`{"source":["orders.service"],"detail-type":["OrderCreated"]}`), Targets: []string{"inventory", "notification", "analytics"}},
	{Name: "order-created-vip", Pattern: rules.MustCompile(`{"detail-type":["OrderCreated"],"detail":{"total":[{"numeric":[">=",1000]}]}}`), Targets: []string{"vip-alerts", "analytics"}},
	{Name: "audit", Bus: "audit", Pattern: rules.MustCompile(`{"source":[{"prefix":""}]}`), Targets: []string{"auditor"}},
}

func orderRoutes(t *testing.T) *Routes {
	t.Helper()
	r, err := NewRoutes(orderRules, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, b bus.Bus, r *Router) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func publishEnvelope(t *testing.T, b bus.Bus, busName string, e event.Entry) string {
	t.Helper()
	env, bad := event.Normalize(e, event.Stamp{Account: "000000000000", Region: "local"})
	if bad != nil {
		t.Fatal(bad)
	}
	p, _ := env.Marshal()
	m := message.NewMessage(env.ID, p)
	m.Metadata.Set(bus.EnvelopeKey, b.Seal().Tag(bus.EventsTopic(busName), p))
	if err := b.Publish(bus.EventsTopic(busName), m); err != nil {
		t.Fatal(err)
	}
	return env.ID
}

func take(t *testing.T, b bus.Bus, topic string, n int) []*message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Consume(ctx, topic, bus.ConsumeOptions{Durable: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var out []*message.Message
	for len(out) < n {
		select {
		case m := <-ch:
			out = append(out, m)
			m.Ack()
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: got %d messages, want %d", topic, len(out), n)
		}
	}
	select {
	case m := <-ch:
		t.Fatalf("%s: unexpected extra message %s", topic, m.UUID)
	case <-time.After(100 * time.Millisecond):
	}
	return out
}

func TestFanOut(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	m := NewMetrics(prometheus.NewRegistry())
	run(t, b, New(b, orderRoutes(t), Options{Metrics: m}))

	big := publishEnvelope(t, b, "default", event.Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(`{"total":1250}`)})
	small := publishEnvelope(t, b, "default", event.Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(`{"total":20}`)})
	publishEnvelope(t, b, "default", event.Entry{Source: "payments", DetailType: "PaymentDone", Detail: json.RawMessage(`{}`)})

	for _, c := range []string{"inventory", "notification"} {
		got := map[string]bool{}
		for _, msg := range take(t, b, bus.DeliverTopic(c), 2) {
			got[msg.Metadata.Get(bus.EventIDKey)] = true
			if msg.Metadata.Get(bus.RuleKey) != "order-created" || msg.Metadata.Get(bus.IngestedKey) == "" {
				t.Errorf("%s: metadata %v", c, msg.Metadata)
			}
		}
		if !got[big] || !got[small] {
			t.Errorf("%s got %v", c, got)
		}
	}
	vip := take(t, b, bus.DeliverTopic("vip-alerts"), 1)
	if vip[0].Metadata.Get(bus.EventIDKey) != big {
		t.Errorf("vip got %s", vip[0].Metadata.Get(bus.EventIDKey))
	}
	// analytics is the target of both rules: one message, both rules named.
	an := take(t, b, bus.DeliverTopic("analytics"), 2)
	for _, msg := range an {
		want := "order-created"
		if msg.Metadata.Get(bus.EventIDKey) == big {
			want = "order-created,order-created-vip"
		}
		if got := msg.Metadata.Get(bus.RuleKey); got != want {
			t.Errorf("analytics rule header %q, want %q", got, want)
		}
		var env event.Envelope
		if err := json.Unmarshal(msg.Payload, &env); err != nil || env.ID != msg.Metadata.Get(bus.EventIDKey) {
			t.Errorf("payload %s", msg.Payload)
		}
	}
	if got := testutil.ToFloat64(m.Matched.WithLabelValues("default")); got != 2 {
		t.Errorf("matched = %v", got)
	}
	if got := testutil.ToFloat64(m.Triggered.WithLabelValues("default", "order-created-vip")); got != 1 {
		t.Errorf("vip triggered = %v", got)
	}
}

func TestRawNATSEntries(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	ingest := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"source", "result"})
	run(t, b, New(b, orderRoutes(t), Options{Ingest: ingest, Stamp: event.Stamp{Account: "123456789012", Region: "eu-west-1"}}))

	raw := message.NewMessage("", []byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":5}}`))
	bad := message.NewMessage("", []byte(`{"source":"orders.service","detail":"not an object"}`))
	dup := message.NewMessage("", []byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":5,"total":5000}}`))
	if err := b.Publish("events.default", raw, bad, dup); err != nil {
		t.Fatal(err)
	}
	got := take(t, b, bus.DeliverTopic("inventory"), 1)[0]
	var env event.Envelope
	if err := json.Unmarshal(got.Payload, &env); err != nil {
		t.Fatal(err)
	}
	if env.ID == "" || env.Account != "123456789012" || env.Region != "eu-west-1" || env.Time == "" || env.ID != got.Metadata.Get(bus.EventIDKey) {
		t.Errorf("normalised envelope %+v", env)
	}
	// Routed concurrently: the two records come in either order.
	byMessage := map[any]map[string]any{}
	for _, m := range take(t, b, RejectedTopic, 2) {
		var rec map[string]any
		if err := json.Unmarshal(m.Payload, &rec); err != nil || rec["error_code"] != "MalformedDetail" || rec["payload"] == nil {
			t.Errorf("rejected record %s", m.Payload)
		}
		byMessage[rec["error_message"]] = rec
	}
	for _, want := range []string{"detail: must be a JSON object", `detail has a duplicate key "total" at detail.total`} {
		if byMessage[want] == nil {
			t.Errorf("no rejected record says %q; got %v", want, byMessage)
		}
	}
	if testutil.ToFloat64(ingest.WithLabelValues("nats", "accepted")) != 1 || testutil.ToFloat64(ingest.WithLabelValues("nats", "rejected")) != 2 {
		t.Error("nats ingest not counted")
	}
}

// fullOnce is a bus whose first PublishAll is refused for lack of room.
type fullOnce struct {
	bus.Bus
	refused atomic.Bool
}

func (f *fullOnce) PublishAll(out []bus.Outgoing) error {
	if f.refused.CompareAndSwap(false, true) {
		return fmt.Errorf("test: %w", bus.ErrStorageFull)
	}
	return f.Bus.PublishAll(out)
}

// TestRawNATSEntryCountedOnce checks that an entry published to NATS is
// counted once although the router takes it twice: its deliveries could
// not be queued the first time (the bus full), so it was redelivered.
func TestRawNATSEntryCountedOnce(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	ingest := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"source", "result"})
	fb := &fullOnce{Bus: b}
	run(t, b, New(fb, orderRoutes(t), Options{Ingest: ingest}))

	if err := b.Publish("events.default", message.NewMessage("", []byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":5}}`))); err != nil {
		t.Fatal(err)
	}
	take(t, b, bus.DeliverTopic("inventory"), 1)
	if !fb.refused.Load() {
		t.Fatal("the router's first attempt was not refused: the test tests nothing")
	}
	if got := testutil.ToFloat64(ingest.WithLabelValues("nats", "accepted")); got != 1 {
		t.Errorf("accepted = %v after one entry taken twice, want 1", got)
	}
}

func TestSwapRoutes(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	r := New(b, orderRoutes(t), Options{})
	run(t, b, r)
	next, err := NewRoutes([]Rule{{Name: "all", Pattern: rules.MustCompile(`{"source":["payments"]}`), Targets: []string{"ledger"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Swap(next)
	publishEnvelope(t, b, "default", event.Entry{Source: "payments", DetailType: "PaymentDone", Detail: json.RawMessage(`{}`)})
	take(t, b, bus.DeliverTopic("ledger"), 1)
	if r.Routes().HasBus("audit") {
		t.Error("old bus still known after swap")
	}
}

func TestOtherBusIsolated(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	run(t, b, New(b, orderRoutes(t), Options{}))
	publishEnvelope(t, b, "audit", event.Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(`{}`)})
	take(t, b, bus.DeliverTopic("auditor"), 1)
	if n := b.Len(bus.DeliverTopic("inventory")); n != 0 {
		t.Errorf("default-bus rule fired for an audit-bus event (%d)", n)
	}
}

// TestRejectedRecordFits checks that the record of a rejected NATS entry,
// whose payload is kept as escaped text, stays within the bus's limit.
func TestRejectedRecordFits(t *testing.T) {
	payload := []byte(strings.Repeat("\x01", 10000)) // six bytes each once escaped
	bad := &event.EntryError{Code: "MalformedDetail", Message: "not JSON"}
	rec := rejectedRecord("default", bad, payload, time.Now(), 8000)
	if len(rec) > 8000 {
		t.Fatalf("record is %d bytes, limit 8000", len(rec))
	}
	var got map[string]any
	if err := json.Unmarshal(rec, &got); err != nil || got["payload_truncated"] != true || got["payload_bytes"] != float64(10000) {
		t.Errorf("record %s (%v)", rec[:200], err)
	}
	if small := rejectedRecord("default", bad, []byte("{"), time.Now(), 8000); strings.Contains(string(small), "truncated") {
		t.Errorf("small record truncated: %s", small)
	}
}

// TestRawNATSEntriesRefusedAsHTTPRefusesThem checks the NATS door's checks
// that the HTTP doors make too: UTF-8, the bus, the detail's depth; and that
// an entry of exactly EventBridge's largest size, without a time, is taken.
func TestRawNATSEntriesRefusedAsHTTPRefusesThem(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	run(t, b, New(b, orderRoutes(t), Options{}))
	entry := func(detail string) []byte {
		return []byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":` + detail + `}`)
	}
	const source, detailType = "orders.service", "OrderCreated"
	pad := strings.Repeat("x", 1<<20-len(source)-len(detailType)-len(`{"total":5,"pad":""}`))
	for topic, payload := range map[string][]byte{
		"events.default":   append(entry(`{"k":"`), "\xfe\"}}"...),
		"events.nosuchbus": entry(`{"total":5}`),
	} {
		if err := b.Publish(topic, message.NewMessage("", payload)); err != nil {
			t.Fatal(err)
		}
	}
	for _, payload := range [][]byte{
		[]byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{},"bus":"other"}`),
		entry(strings.Repeat(`{"a":`, event.MaxDetailDepth+1) + "1" + strings.Repeat("}", event.MaxDetailDepth+1)),
	} {
		if err := b.Publish("events.default", message.NewMessage("", payload)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{
		"the entry is not valid UTF-8 at offset":    false,
		`bus: event bus "nosuchbus" does not exist`: false,
		`bus: "other" differs from the bus`:         false,
		"detail: nests deeper than 1000 levels":     false,
	}
	for _, m := range take(t, b, RejectedTopic, len(want)) {
		var rec map[string]any
		json.Unmarshal(m.Payload, &rec)
		msg, _ := rec["error_message"].(string)
		for w := range want {
			if strings.Contains(msg, w) {
				want[w] = true
			}
		}
	}
	for w, seen := range want {
		if !seen {
			t.Errorf("no rejected record says %q", w)
		}
	}
	big := entry(`{"total":5,"pad":"` + pad + `"}`)
	if err := b.Publish("events.default", message.NewMessage("", big)); err != nil {
		t.Fatal(err)
	}
	if got := take(t, b, bus.DeliverTopic("inventory"), 1)[0]; !strings.Contains(string(got.Payload), pad) {
		t.Error("the 1 MiB entry was not delivered whole")
	}
}

// TestForgedEnvelopeRejected checks that a message carrying routerd's
// envelope header without the bus's seal is refused, not routed on trust,
// and that one marked as routerd marked envelopes before the seal (an
// older routerd's, queued at an upgrade) is checked again like an entry
// and delivered with its id.
func TestForgedEnvelopeRejected(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	run(t, b, New(b, orderRoutes(t), Options{Stamp: event.Stamp{Account: "123456789012", Region: "eu-west-1"}}))
	forged := message.NewMessage("", []byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":5000}}`))
	forged.Metadata.Set(bus.EnvelopeKey, strings.Repeat("ab", 16))
	env := []byte(`{"version":"0","id":"old-1","detail-type":"OrderCreated","source":"orders.service","account":"1","time":"2026-11-28T06:21:54Z","region":"r","resources":[],"detail":{"total":5}}`)
	copied := message.NewMessage("x", env)
	copied.Metadata.Set(bus.EnvelopeKey, b.Seal().Tag("events.other", env)) // sealed for another bus's topic
	notEnvelope := message.NewMessage("", []byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{}}`))
	notEnvelope.Metadata.Set(bus.EnvelopeKey, "1")
	if err := b.Publish("events.default", forged, copied, notEnvelope); err != nil {
		t.Fatal(err)
	}
	reasons := ""
	for _, rej := range take(t, b, RejectedTopic, 3) {
		reasons += string(rej.Payload) + "\n"
	}
	if strings.Count(reasons, "header is routerd's own") != 2 || !strings.Contains(reasons, "is not an envelope version") {
		t.Errorf("rejected records:\n%s", reasons)
	}

	legacy := message.NewMessage("old-1", env)
	legacy.Metadata.Set(bus.EnvelopeKey, "1")
	if err := b.Publish("events.default", legacy); err != nil {
		t.Fatal(err)
	}
	got := take(t, b, bus.DeliverTopic("inventory"), 1)[0]
	var out event.Envelope
	if err := json.Unmarshal(got.Payload, &out); err != nil || out.ID != "old-1" || out.Account != "123456789012" || out.Time != "2026-11-28T06:21:54Z" {
		t.Errorf("legacy envelope delivered as %s (%v)", got.Payload, err)
	}
}
