package natssink

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/sinktest"
)

// runServer starts an embedded NATS server on a random port, with
// JetStream in a temporary directory when jetStream is set.
func runServer(t *testing.T, jetStream bool, configure ...func(*server.Options)) *nats.Conn {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if jetStream {
		opts.JetStream = true
		opts.StoreDir = t.TempDir()
	}
	for _, f := range configure {
		f(opts)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newSink(t *testing.T, nc *nats.Conn, subject string) *Sink {
	t.Helper()
	s, err := New("inventory", sinks.Spec{"subject": subject}, sinks.Deps{NATS: nc})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Sink)
}

func toDelivery(data []byte, h nats.Header) event.Delivery {
	attempt, _ := strconv.Atoi(h.Get("X-Eventrouter-Attempt"))
	return event.Delivery{
		Event:    data,
		ID:       h.Get("Idempotency-Key"),
		Rule:     h.Get("X-Eventrouter-Rule"),
		Consumer: h.Get("X-Eventrouter-Consumer"),
		Attempt:  attempt,
	}
}

// addStream creates a stream capturing prefix.> and returns a reader of
// everything it stored.
func addStream(t *testing.T, nc *nats.Conn, name, prefix string) sinktest.Received {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{prefix + ".>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	return func() []event.Delivery {
		info, err := st.Info(ctx)
		if err != nil {
			t.Error(err)
			return nil
		}
		var got []event.Delivery
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Error(err)
				continue
			}
			got = append(got, toDelivery(m.Data, m.Header))
		}
		return got
	}
}

// subscribe returns a reader of everything published on subject from now.
func subscribe(t *testing.T, nc *nats.Conn, subject string) sinktest.Received {
	t.Helper()
	var (
		mu  sync.Mutex
		got []event.Delivery
	)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		got = append(got, toDelivery(m.Data, m.Header))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return func() []event.Delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]event.Delivery(nil), got...)
	}
}

func TestConformanceJetStream(t *testing.T) {
	nc := runServer(t, true)
	var n atomic.Int64
	sinktest.Run(t, func(t *testing.T) (sinks.Sink, sinktest.Received) {
		i := n.Add(1)
		received := addStream(t, nc, fmt.Sprintf("OUT%d", i), fmt.Sprintf("out%d", i))
		s := newSink(t, nc, fmt.Sprintf("out%d.inventory", i))
		return s, received
	})
}

func TestConformanceCore(t *testing.T) {
	nc := runServer(t, true) // JetStream on, but no stream covers the subject
	var n atomic.Int64
	sinktest.Run(t, func(t *testing.T) (sinks.Sink, sinktest.Received) {
		subject := fmt.Sprintf("core%d.inventory", n.Add(1))
		received := subscribe(t, nc, subject)
		return newSink(t, nc, subject), received
	})
}

func TestCoreWithoutJetStream(t *testing.T) {
	nc := runServer(t, false)
	received := subscribe(t, nc, "plain.inventory")
	s := newSink(t, nc, "plain.inventory")
	if err := s.Send(context.Background(), sinktest.Delivery(1)); err != nil {
		t.Fatal(err)
	}
	if s.useJS {
		t.Error("chose JetStream on a server without it")
	}
	deadline := time.Now().Add(time.Second)
	for len(received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(received()) != 1 {
		t.Fatalf("received %d, want 1", len(received()))
	}
}

// TestJetStreamDeduplicates checks that a redelivery of the same event to
// the same consumer is stored once, and the same event for another
// consumer is not taken for a duplicate.
func TestJetStreamDeduplicates(t *testing.T) {
	nc := runServer(t, true)
	received := addStream(t, nc, "OUT", "out")
	s := newSink(t, nc, "out.inventory")
	d := sinktest.Delivery(1)
	for range 3 {
		if err := s.Send(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	d.Consumer = "billing"
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if !s.useJS {
		t.Error("did not use JetStream although a stream covers the subject")
	}
	if got := received(); len(got) != 2 {
		t.Fatalf("stream holds %d messages, want 2", len(got))
	}
}

// TestStreamAddedLater checks that the sink notices a stream created after
// its first Send once the cached answer is stale.
func TestStreamAddedLater(t *testing.T) {
	nc := runServer(t, true)
	s := newSink(t, nc, "late.inventory")
	if err := s.Send(context.Background(), sinktest.Delivery(1)); err != nil {
		t.Fatal(err)
	}
	if s.useJS {
		t.Fatal("JetStream chosen with no stream")
	}
	received := addStream(t, nc, "LATE", "late")
	s.mu.Lock()
	s.checked = time.Now().Add(-RecheckEvery)
	s.mu.Unlock()
	if err := s.Send(context.Background(), sinktest.Delivery(2)); err != nil {
		t.Fatal(err)
	}
	if !s.useJS {
		t.Fatal("JetStream not chosen after the stream appeared")
	}
	if got := received(); len(got) != 1 || got[0].ID != sinktest.Delivery(2).ID {
		t.Fatalf("stream holds %v, want event 2", got)
	}
}

func TestTooLargeIsPermanent(t *testing.T) {
	nc := runServer(t, true, func(o *server.Options) { o.MaxPayload = 512 })
	s := newSink(t, nc, "big.inventory")
	d := sinktest.Delivery(1)
	d.Event = []byte(`{"detail":"` + strings.Repeat("x", 1024) + `"}`)
	err := s.Send(context.Background(), d)
	if !sinks.IsPermanent(err) || sinks.CodeOf(err) != "NATS_MAX_PAYLOAD" {
		t.Fatalf("err = %v (code %q), want permanent NATS_MAX_PAYLOAD", err, sinks.CodeOf(err))
	}
}

func TestClosedConnectionIsRetryable(t *testing.T) {
	nc := runServer(t, false)
	s := newSink(t, nc, "x.y")
	nc.Close()
	err := s.Send(context.Background(), sinktest.Delivery(1))
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if code := sinks.CodeOf(err); code != "NATS_CONNECTION_CLOSED" {
		t.Errorf("code = %q, want NATS_CONNECTION_CLOSED", code)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		spec sinks.Spec
		want string
	}{
		{sinks.Spec{"subject": "orders.out"}, ""},
		{sinks.Spec{"subject": "a-b_c.D9"}, ""},
		{sinks.Spec{}, `missing required key "subject"`},
		{sinks.Spec{"subject": "a", "stream": "S"}, `unknown key "stream"`},
		{sinks.Spec{"subject": "a.*"}, "wildcards"},
		{sinks.Spec{"subject": "a.>"}, "wildcards"},
		{sinks.Spec{"subject": "a b"}, "whitespace"},
		{sinks.Spec{"subject": "a..b"}, "empty token"},
		{sinks.Spec{"subject": ".a"}, "empty token"},
		{sinks.Spec{"subject": "a."}, "empty token"},
		{sinks.Spec{"subject": "$JS.API.STREAM.NAMES"}, "reserved"},
		{sinks.Spec{"subject": "_INBOX.x"}, "reserved"},
	} {
		err := Validate(tc.spec)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%v) = %v, want nil", tc.spec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
	_, err := New("c", sinks.Spec{"subject": "a"}, sinks.Deps{})
	if err == nil || !strings.Contains(err.Error(), "needs the bus to be NATS") {
		t.Errorf("New without a connection = %v", err)
	}
}
