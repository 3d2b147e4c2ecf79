package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// backends lists every Bus implementation for the shared tests.
func backends(t *testing.T) map[string]func(t *testing.T) Bus {
	return map[string]func(t *testing.T) Bus{
		"memory": func(t *testing.T) Bus {
			b := NewMemory()
			t.Cleanup(func() { b.Close() })
			return b
		},
		"jetstream": func(t *testing.T) Bus {
			return newEmbedded(t, t.TempDir())
		},
		"nats-url": func(t *testing.T) Bus {
			return newExternal(t)
		},
	}
}

// newExternal starts a NATS server as a separate server would run (its own
// TCP port, token auth) and connects to it by URL, as bus type nats does.
func newExternal(t *testing.T) *JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Authorization: "s3cret",
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(srv.Shutdown)
	if _, err := Connect(context.Background(), srv.ClientURL(), nats.Token("wrong"), JetStreamOptions{}); err == nil {
		t.Fatal("connected with a wrong token")
	}
	b, err := Connect(context.Background(), srv.ClientURL(), nats.Token("s3cret"), JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newEmbedded(t *testing.T, dir string) *JetStream {
	t.Helper()
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func testTopic(tctx tests.TestContext) string {
	return "deliver.t_" + string(tctx.TestID)
}

// TestWatermillConformance runs watermill's own Pub/Sub suite, as every
// watermill backend does. Each constructed pub/sub is a view of one shared
// bus whose Close ends only the view's subscriptions, so that what one view
// publishes another can consume, as with separate clients of one broker.
func TestWatermillConformance(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			shared := mk(t)
			tests.TestPubSub(t, tests.Features{
				Persistent:        true,
				GenerateTopicFunc: testTopic,
				ForceShort:        true,
			}, func(t *testing.T) (message.Publisher, message.Subscriber) {
				return newView(shared), newView(shared)
			}, nil)
		})
	}
}

// view is one client's handle on a shared bus.
type view struct {
	Bus
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	subs   []<-chan *message.Message
}

func newView(b Bus) *view {
	ctx, cancel := context.WithCancel(context.Background())
	return &view{Bus: b, ctx: ctx, cancel: cancel}
}

func (v *view) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	sctx, cancel := context.WithCancel(ctx)
	context.AfterFunc(v.ctx, cancel)
	ch, err := v.Bus.Subscribe(sctx, topic)
	if err == nil {
		v.mu.Lock()
		v.subs = append(v.subs, ch)
		v.mu.Unlock()
	}
	return ch, err
}

// Close ends the view's subscriptions and returns once their channels are
// closed, as watermill expects; messages still arriving are given back.
func (v *view) Close() error {
	v.cancel()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, ch := range v.subs {
		for m := range ch {
			m.Nack()
		}
	}
	return nil
}

func publish(t *testing.T, b Bus, topic string, ids ...string) {
	t.Helper()
	var msgs []*message.Message
	for _, id := range ids {
		msgs = append(msgs, message.NewMessage(id, []byte(`{"id":"`+id+`"}`)))
	}
	if err := b.Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

// receiveIDs takes n messages, calls each (if set) on every one, acks it,
// and counts them by UUID.
func receiveIDs(t *testing.T, ch <-chan *message.Message, n int, each func(*message.Message)) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		m := receive(t, ch)
		got[m.UUID]++
		if each != nil {
			each(m)
		}
		m.Ack()
	}
	return got
}

// expectNone fails the test if a message arrives within 300 ms; what says
// what such a message would be.
func expectNone(t *testing.T, ch <-chan *message.Message, what string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("got %s: %s", m.UUID, what)
	case <-time.After(300 * time.Millisecond):
	}
}

func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
	return nil
}

func TestDelayedRedelivery(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			publish(t, b, "deliver.delayed", "m1")
			ch, err := b.Consume(ctx, "deliver.delayed", ConsumeOptions{Durable: "delayed", MaxInFlight: 4})
			if err != nil {
				t.Fatal(err)
			}
			m := receive(t, ch)
			if Delivered(m) != 1 || Stored(m).IsZero() {
				t.Fatalf("first delivery metadata: %v", m.Metadata)
			}
			start := time.Now()
			NackAfter(m, 300*time.Millisecond)
			m2 := receive(t, ch)
			if waited := time.Since(start); waited < 250*time.Millisecond {
				t.Errorf("redelivered after %s, want ≥ 300ms", waited)
			}
			if m2.UUID != "m1" || Delivered(m2) != 2 {
				t.Errorf("redelivery: uuid %q delivered %d", m2.UUID, Delivered(m2))
			}
			m2.Ack()
		})
	}
}

// TestDirectAnswers checks that a subscription answered through Ack and
// NackAfter (ConsumeOptions.DirectAnswers) frees its in-flight slots, gets
// nacked messages back after their delay and never sees an acked one again,
// also after its ack wait, and that only the first answer counts.
func TestDirectAnswers(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			publish(t, b, "deliver.direct", "m1", "m2", "m3")
			ch, err := b.Consume(ctx, "deliver.direct", ConsumeOptions{
				// An ack wait longer than m3 can take to come. In CI's
				// full run m2, unanswered meanwhile, came back first at
				// ack waits of 1, 3 and 5s (got m3 (delivery 1), want m2
				// again), each time ~5s into the test: most likely m3
				// waited for a lost pull's expiry (5s, see Consume).
				Durable: "direct", MaxInFlight: 2, AckWait: 8 * time.Second, DirectAnswers: true})
			if err != nil {
				t.Fatal(err)
			}
			m1, m2 := receive(t, ch), receive(t, ch)
			// Stored comes from the context, with no text in the metadata,
			// and reads as StoredKey's text would: UTC, no monotonic clock.
			if at := Stored(m1); time.Since(at) > time.Minute || at != at.Round(0).UTC() || m1.Metadata.Get(StoredKey) != "" {
				t.Errorf("Stored = %v, StoredKey %q", at, m1.Metadata.Get(StoredKey))
			}
			expectNone(t, ch, "a third message with 2 unanswered and MaxInFlight 2")
			Ack(m1)
			Nack(m1) // too late: the ack stands
			m3 := receive(t, ch)
			start := time.Now()
			NackAfter(m2, 300*time.Millisecond)
			Ack(m2) // too late: the nack stands
			again := receive(t, ch)
			if again.UUID != m2.UUID || Delivered(again) != 2 {
				t.Fatalf("after NackAfter got %s (delivery %d), want %s again", again.UUID, Delivered(again), m2.UUID)
			}
			if waited := time.Since(start); waited < 250*time.Millisecond {
				t.Errorf("redelivered after %s, want ≥ 300ms", waited)
			}
			Ack(m3)
			Ack(again)
			Ack(again)
			// Past the ack wait, nothing answered comes back.
			select {
			case m := <-ch:
				t.Fatalf("%s (delivery %d) came back after being acked", m.UUID, Delivered(m))
			case <-time.After(8500 * time.Millisecond):
			}
		})
	}
}

// TestWaitingRetryHoldsNoPlace checks that messages nacked with a delay
// wait on the broker without counting against MaxInFlight: a consumer whose
// every place once held a failing message still gets the next ones.
func TestWaitingRetryHoldsNoPlace(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			publish(t, b, "deliver.waiting", "bad1", "bad2", "bad3", "bad4")
			ch, err := b.Consume(ctx, "deliver.waiting", ConsumeOptions{
				Durable: "waiting", MaxInFlight: 2, AckWait: 30 * time.Second, DirectAnswers: true})
			if err != nil {
				t.Fatal(err)
			}
			for range 4 {
				NackAfter(receive(t, ch), time.Minute)
			}
			publish(t, b, "deliver.waiting", "good1", "good2", "good3")
			got := receiveIDs(t, ch, 3, Ack)
			for _, id := range []string{"good1", "good2", "good3"} {
				if got[id] != 1 {
					t.Fatalf("with four messages waiting to be retried, got %v, want good1-3 once each", got)
				}
			}
		})
	}
}

func TestMaxInFlight(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var ids []string
			for i := 0; i < 10; i++ {
				ids = append(ids, fmt.Sprint("m", i))
			}
			publish(t, b, "deliver.bounded", ids...)
			ch, err := b.Consume(ctx, "deliver.bounded", ConsumeOptions{Durable: "bounded", MaxInFlight: 3})
			if err != nil {
				t.Fatal(err)
			}
			var held []*message.Message
			for i := 0; i < 3; i++ {
				held = append(held, receive(t, ch))
			}
			expectNone(t, ch, "a 4th message with 3 unacked and MaxInFlight 3")
			held[0].Ack()
			receive(t, ch).Ack()
			for _, m := range held[1:] {
				m.Ack()
			}
		})
	}
}

func TestDuplicateIDStoredOnce(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			publish(t, b, "deliver.dedupe", "same", "same", "other")
			ch, err := b.Consume(ctx, "deliver.dedupe", ConsumeOptions{Durable: "dedupe"})
			if err != nil {
				t.Fatal(err)
			}
			got := receiveIDs(t, ch, 2, nil)
			expectNone(t, ch, "duplicate delivered")
			if got["same"] != 1 || got["other"] != 1 {
				t.Errorf("got %v", got)
			}
		})
	}
}

// TestDuplicateWindowExpires: an id is remembered for its stream's window
// only; published again after it, the message is stored again.
func TestDuplicateWindowExpires(t *testing.T) {
	saved := dedupWindows["DELIVER"]
	dedupWindows["DELIVER"] = 200 * time.Millisecond // before the buses provision their streams
	t.Cleanup(func() { dedupWindows["DELIVER"] = saved })
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			publish(t, b, "deliver.expiry", "a", "a")
			time.Sleep(400 * time.Millisecond)
			publish(t, b, "deliver.expiry", "a", "b")
			ch, err := b.Consume(ctx, "deliver.expiry", ConsumeOptions{Durable: "expiry"})
			if err != nil {
				t.Fatal(err)
			}
			got := receiveIDs(t, ch, 3, nil)
			expectNone(t, ch, "unexpected 4th message")
			if got["a"] != 2 || got["b"] != 1 {
				t.Errorf("got %v, want a twice (once per window) and b once", got)
			}
		})
	}
}

// TestFreshIDNotRemembered publishes a message marked FreshIDKey twice: the
// bus does not remember fresh ids, so both are stored, and each arrives
// with its UUID and without the mark; an unmarked id is still stored once.
func TestFreshIDNotRemembered(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			freshMsg := func() *message.Message {
				m := message.NewMessage("new-id", []byte(`{}`))
				m.Metadata.Set(FreshIDKey, "1")
				m.Metadata.Set(EventIDKey, "new-id")
				return m
			}
			for range 2 {
				if err := b.Publish("events.fresh", freshMsg()); err != nil {
					t.Fatal(err)
				}
			}
			publish(t, b, "events.fresh", "kept", "kept")
			ch, err := b.Consume(ctx, "events.fresh", ConsumeOptions{Durable: "fresh"})
			if err != nil {
				t.Fatal(err)
			}
			got := receiveIDs(t, ch, 3, func(m *message.Message) {
				if v := m.Metadata.Get(FreshIDKey); v != "" {
					t.Errorf("%s arrived with %s=%q", m.UUID, FreshIDKey, v)
				}
				if m.UUID == "new-id" && m.Metadata.Get(EventIDKey) != "new-id" {
					t.Errorf("metadata lost: %v", m.Metadata)
				}
			})
			expectNone(t, ch, "unexpected 4th message")
			if got["new-id"] != 2 || got["kept"] != 1 {
				t.Errorf("got %v, want new-id twice and kept once", got)
			}
		})
	}
}

// TestPublishAll publishes to several topics at once: each message reaches
// its own topic with its metadata, and a repeat of one is stored once.
func TestPublishAll(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := func(topic, id string) Outgoing {
				return Outgoing{Topic: topic, UUID: id, Payload: []byte(`{}`), Metadata: []string{RuleKey, "r-" + id}}
			}
			for range 2 {
				if err := b.PublishAll([]Outgoing{out("deliver.all-a", "e1:a"), out("deliver.all-b", "e1:b"), out("deliver.all-a", "e2:a")}); err != nil {
					t.Fatal(err)
				}
			}
			for topic, want := range map[string][]string{"deliver.all-a": {"e1:a", "e2:a"}, "deliver.all-b": {"e1:b"}} {
				ch, err := b.Consume(ctx, topic, ConsumeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range want {
					m := receive(t, ch)
					if m.UUID != id || m.Metadata.Get(RuleKey) != "r-"+id {
						t.Errorf("%s: got %s (rule %q), want %s", topic, m.UUID, m.Metadata.Get(RuleKey), id)
					}
					m.Ack()
				}
				select {
				case m := <-ch:
					t.Errorf("%s: unexpected %s", topic, m.UUID)
				case <-time.After(300 * time.Millisecond):
				}
			}
			if err := b.PublishAll([]Outgoing{out("deliver.all-a", "x"), out("nowhere", "y")}); err == nil {
				t.Error("PublishAll to a topic no stream covers: no error")
			}
		})
	}
}

// TestEmbeddedSurvivesRestart checks that an acknowledged publish is on
// disk: a new server on the same directory delivers it.
func TestEmbeddedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, "events.default", "e1", "e2")
	b.Close()

	b2 := newEmbedded(t, dir)
	ch, err := b2.Consume(context.Background(), "events.default", ConsumeOptions{Durable: "router"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		m := receive(t, ch)
		seen[m.UUID] = true
		m.Ack()
	}
	if !seen["e1"] || !seen["e2"] {
		t.Errorf("after restart got %v", seen)
	}
}

// TestUnackedComeBack checks that messages a stopped subscriber held
// unanswered are delivered again to the next one.
func TestUnackedComeBack(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			publish(t, b, "deliver.crash", "c1")
			ctx, cancel := context.WithCancel(context.Background())
			ch, err := b.Consume(ctx, "deliver.crash", ConsumeOptions{Durable: "crash", AckWait: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			m := receive(t, ch)
			cancel()
			m.Nack() // what a stopping worker does with what it holds
			ch2, err := b.Consume(context.Background(), "deliver.crash", ConsumeOptions{Durable: "crash", AckWait: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			m2 := receive(t, ch2)
			if m2.UUID != "c1" {
				t.Errorf("got %s", m2.UUID)
			}
			m2.Ack()
		})
	}
}

func TestConcurrentPublish(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						id := fmt.Sprintf("g%d-%d", g, i)
						if err := b.Publish("events.load", message.NewMessage(id, []byte("x"))); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			ch, err := b.Consume(context.Background(), "events.load", ConsumeOptions{Durable: "load", MaxInFlight: 64})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for len(seen) < 400 {
				m := receive(t, ch)
				seen[m.UUID] = true
				m.Ack()
			}
		})
	}
}

// TestWildcardTopic checks that "events.>" receives every bus's events and
// says which topic each came from.
func TestWildcardTopic(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			publish(t, b, "events.orders", "o1")
			publish(t, b, "events.default", "d1")
			ch, err := b.Consume(context.Background(), "events.>", ConsumeOptions{Durable: "router"})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for i := 0; i < 2; i++ {
				m := receive(t, ch)
				got[m.UUID] = m.Metadata.Get(TopicKey)
				m.Ack()
			}
			if got["o1"] != "events.orders" || got["d1"] != "events.default" {
				t.Errorf("topics: %v", got)
			}
		})
	}
}

// TestStore lists, deletes and purges kept messages without consuming them.
func TestStore(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			st := b.(Store)
			publish(t, b, "dlq.c", "a", "b", "c")
			publish(t, b, "dlq.other", "x")
			ctx := context.Background()
			kept, total, err := st.List(ctx, "dlq.c", 2)
			if err != nil {
				t.Fatal(err)
			}
			if total != 3 || len(kept) != 2 || kept[0].UUID != "a" || string(kept[1].Payload) != `{"id":"b"}` || kept[0].Seq == 0 {
				t.Fatalf("list: total %d, %+v", total, kept)
			}
			if err := st.Delete(ctx, "dlq.c", kept[0].Seq); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "dlq.other", kept[1].Seq); err == nil {
				t.Error("deleted a message through the wrong topic")
			}
			kept, total, _ = st.List(ctx, "dlq.c", 10)
			if total != 2 || len(kept) != 2 || kept[0].UUID != "b" {
				t.Fatalf("after delete: total %d, %+v", total, kept)
			}
			if n, err := st.Purge(ctx, "dlq.c"); err != nil || n != 2 {
				t.Fatalf("purge = %d, %v", n, err)
			}
			if _, total, _ = st.List(ctx, "dlq.c", 10); total != 0 {
				t.Errorf("after purge: %d", total)
			}
			if _, total, _ = st.List(ctx, "dlq.other", 10); total != 1 {
				t.Errorf("purge touched another topic: %d", total)
			}
		})
	}
}

// TestDLQMaxAge: with DLQMaxAge set, dead letters older than it leave the
// DLQ by themselves; a restart with another age applies it to the stream.
func TestDLQMaxAge(t *testing.T) {
	dir := t.TempDir()
	open := func(age time.Duration) *JetStream {
		b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir}, JetStreamOptions{DLQMaxAge: age})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open(0)
	publish(t, b, "dlq.c", "kept")
	b.Close()
	b = open(time.Second)
	defer b.Close()
	publish(t, b, "dlq.c", "old")
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, total, err := b.List(context.Background(), "dlq.c", 10)
		if err != nil {
			t.Fatal(err)
		}
		if total == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters still kept 15s after their max age of 1s", total)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEmbeddedClientAuth checks that the embedded server's client port
// wants the configured token.
func TestEmbeddedClientAuth(t *testing.T) {
	b, srv, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Token: "s3cret"}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := srv.ClientURL()
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("connected without the token")
	}
	nc, err := nats.Connect(url, nats.Token("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// TestHeaderValuesApart checks that headers sharing one backing array stay
// apart when one of them grows.
func TestHeaderValuesApart(t *testing.T) {
	om := newOutMsg("deliver.x", nil, 2)
	om.setHeader("A", "1")
	om.setHeader("B", "2")
	h := om.Header
	h.Add("A", "3")
	if got := h.Values("A"); len(got) != 2 || got[0] != "1" || got[1] != "3" {
		t.Errorf("A = %q", got)
	}
	if got := h.Values("B"); len(got) != 1 || got[0] != "2" {
		t.Errorf("B = %q, want [2]", got)
	}
}

// TestPublishRefused checks that a JetStream publish the broker refuses
// (no stream takes the subject any more) fails at once, naming its topic,
// and that the bus then publishes again; and that publishing nothing
// returns at once.
func TestPublishRefused(t *testing.T) {
	b := newEmbedded(t, t.TempDir())
	ctx := context.Background()
	start := time.Now()
	if err := b.PublishAll(nil); err != nil || time.Since(start) > time.Second {
		t.Fatalf("PublishAll(nil): %v after %s", err, time.Since(start))
	}
	if err := b.JetStreamContext().DeleteStream(ctx, "DLQ"); err != nil {
		t.Fatal(err)
	}
	err := b.PublishAll([]Outgoing{
		{Topic: "deliver.ok", UUID: "a", Payload: []byte(`{}`)},
		{Topic: "dlq.gone", UUID: "b", Payload: []byte(`{}`)},
	})
	if err == nil || !strings.Contains(err.Error(), "publish to dlq.gone") || time.Since(start) > 5*time.Second {
		t.Fatalf("publish to a deleted stream: %v after %s", err, time.Since(start))
	}
	if err := b.Publish("deliver.ok", message.NewMessage("c", []byte(`{}`))); err != nil {
		t.Fatalf("publish after a refusal: %v", err)
	}
	b.pubMu.Lock()
	left := len(b.waiting)
	b.pubMu.Unlock()
	if left != 0 {
		t.Errorf("%d messages still waited for", left)
	}
}

// TestPublishAllSaysWhichFailed checks that when some messages of a
// PublishAll are stored and another is not, the error says which: here the
// second is larger than the server takes.
func TestPublishAllSaysWhichFailed(t *testing.T) {
	for name, mk := range backends(t) {
		if name == "memory" {
			continue // no size limit; all or nothing
		}
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			huge := make([]byte, b.NATS().MaxPayload()+1)
			err := b.PublishAll([]Outgoing{
				{Topic: "deliver.small", UUID: "s1", Payload: []byte(`{}`)},
				{Topic: "deliver.huge", UUID: "h1", Payload: huge},
				{Topic: "deliver.small", UUID: "s2", Payload: []byte(`{}`)},
			})
			var pe *PublishError
			if !errors.As(err, &pe) || len(pe.Errs) != 3 || pe.Errs[0] != nil || pe.Errs[1] == nil || pe.Errs[2] == nil {
				t.Fatalf("err = %v, want a PublishError with only the first stored", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, err := b.Consume(ctx, "deliver.small", ConsumeOptions{Durable: "small"})
			if err != nil {
				t.Fatal(err)
			}
			m := receive(t, ch)
			m.Ack()
			if m.UUID != "s1" {
				t.Errorf("stored %s, want s1", m.UUID)
			}
			expectNone(t, ch, "s2, which was never sent")
		})
	}
}

// TestDataDirTakesOneServer checks that a second embedded server on a data
// directory in use is refused, saying so, and that the directory is free
// again once the first bus closes.
func TestDataDirTakesOneServer(t *testing.T) {
	dir := t.TempDir()
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir}, JetStreamOptions{}); err == nil || !strings.Contains(err.Error(), "in use by another routerd") {
		t.Fatalf("second server on %s: err = %v, want it refused", dir, err)
	}
	b.Close()
	newEmbedded(t, dir)
}

// TestEmbeddedSaysWhyItCannotStart checks that a client port in use is
// reported at once, with the server's own reason.
func TestEmbeddedSaysWhyItCannotStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	_, _, err = OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), Listen: l.Addr().String()}, JetStreamOptions{})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v, want the port named in use", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s to say so", took)
	}
}

// TestSeal checks that a tag holds for its topic and payload alone, under
// its key alone, and that the embedded bus keeps its key across restarts,
// in the data directory, where NATS clients cannot read it.
func TestSeal(t *testing.T) {
	s := NewSeal([]byte("key one"))
	tag := s.Tag("events.default", []byte("payload"))
	if !s.Valid("events.default", []byte("payload"), tag) {
		t.Fatal("a tag does not hold for its own payload")
	}
	for what, ok := range map[string]bool{
		"other payload": s.Valid("events.default", []byte("payload!"), tag),
		"other topic":   s.Valid("events.other", []byte("payload"), tag),
		"other key":     NewSeal([]byte("key two")).Valid("events.default", []byte("payload"), tag),
		"header 1":      s.Valid("events.default", []byte("payload"), "1"),
		"no tag":        s.Valid("events.default", []byte("payload"), ""),
		"nil seal":      (*Seal)(nil).Valid("events.default", []byte("payload"), tag),
	} {
		if ok {
			t.Errorf("%s: tag taken as valid", what)
		}
	}
	dir := t.TempDir()
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tag = b.Seal().Tag("events.default", []byte("payload"))
	b.Close()
	if fi, err := os.Stat(filepath.Join(dir, "seal.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seal.key: %v %v, want a file readable by its owner alone", fi, err)
	}
	if again := newEmbedded(t, dir); !again.Seal().Valid("events.default", []byte("payload"), tag) {
		t.Error("the seal's key changed across a restart")
	}
	// Nodes sharing a NATS system share the key through the bucket.
	ext := newExternal(t)
	other, err := NewJetStream(context.Background(), ext.NATS(), JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !other.Seal().Valid("events.x", []byte("p"), ext.Seal().Tag("events.x", []byte("p"))) {
		t.Error("two buses on one NATS system have different seals")
	}
}

// TestHandedBackNotCounted checks that messages a subscription held and
// gave back unseen when it stopped (a consumer restarted by a reload) are
// not counted as delivered: a consumer's attempts are that count.
func TestHandedBackNotCounted(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			publish(t, b, "deliver.handback", "m1", "m2", "m3")
			ctx, cancel := context.WithCancel(context.Background())
			ch, err := b.Consume(ctx, "deliver.handback", ConsumeOptions{Durable: "handback", MaxInFlight: 4, DirectAnswers: true})
			if err != nil {
				t.Fatal(err)
			}
			first := receive(t, ch)
			time.Sleep(100 * time.Millisecond) // the others reach the subscription
			cancel()
			NackAfter(first, time.Millisecond)
			ch2, err := b.Consume(context.Background(), "deliver.handback", ConsumeOptions{Durable: "handback", MaxInFlight: 4, DirectAnswers: true, AckWait: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				m := receive(t, ch2)
				want := 1
				if m.UUID == first.UUID {
					want = 2
				}
				if got := Delivered(m); got != want {
					t.Errorf("%s: delivered %d, want %d", m.UUID, got, want)
				}
				Ack(m)
			}
		})
	}
}

// slowElection is a JetStream whose first CreateOrUpdateConsumer calls
// time out, as they do while a cluster's streams elect their leaders.
type slowElection struct {
	jetstream.JetStream
	timeouts, calls atomic.Int32
}

func (s *slowElection) CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	if s.calls.Add(1) <= s.timeouts.Load() {
		return nil, fmt.Errorf("test: %w", context.DeadlineExceeded)
	}
	return s.JetStream.CreateOrUpdateConsumer(ctx, stream, cfg)
}

// TestConsumeWaitsOutAnElection checks that a cluster node (Wait) asks
// again for a consumer that JetStream did not answer for in time, and
// that a single node does not, and fails at once. It asks through a bus
// value of its own over the running bus's JetStream, so that nothing
// running reads the slow one.
func TestConsumeWaitsOutAnElection(t *testing.T) {
	b := newEmbedded(t, t.TempDir())
	slow := &slowElection{JetStream: b.js}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := jetstream.ConsumerConfig{Durable: "elected", FilterSubject: "deliver.elected", AckPolicy: jetstream.AckExplicitPolicy}

	for _, wait := range []bool{false, true} {
		slow.timeouts.Store(2)
		slow.calls.Store(0)
		tb := &JetStream{js: slow, opts: JetStreamOptions{Wait: wait}, log: b.log, stop: make(chan struct{})}
		_, err := tb.createConsumer(ctx, "DELIVER", cfg)
		switch {
		case !wait && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("without Wait: err = %v, want the time-out at once", err)
		case !wait && slow.calls.Load() != 1:
			t.Errorf("without Wait: %d calls, want 1", slow.calls.Load())
		case wait && err != nil:
			t.Errorf("with Wait: %v", err)
		case wait && slow.calls.Load() != 3:
			t.Errorf("with Wait: %d calls, want 3 (two timed out)", slow.calls.Load())
		}
	}
}
