package router

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
)

// fullFor is a memory bus on which one topic has no room for a number of
// publishes. It stores every other message it is given, even one it
// stored moments before: as DELIVER does once its de-duplication window
// (5 s) has passed, which a retry waiting for room can outlast.
type fullFor struct {
	*bus.Memory
	topic string

	mu      sync.Mutex
	refuse  int            // publishes to topic still refused
	stored  map[string]int // deliveries stored, by topic
	refused int
}

func (f *fullFor) PublishAll(out []bus.Outgoing) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(out))
	failed := false
	for i, o := range out {
		if o.Topic == f.topic && f.refuse > 0 {
			f.refuse--
			f.refused++
			errs[i] = fmt.Errorf("bus: publish to %s: %w", o.Topic, bus.ErrStorageFull)
			failed = true
			continue
		}
		f.stored[o.Topic]++
	}
	if failed {
		return &bus.PublishError{Errs: errs}
	}
	return nil
}

func (f *fullFor) counts() (map[string]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := map[string]int{}
	for k, v := range f.stored {
		c[k] = v
	}
	return c, f.refused
}

// TestRetryQueuesOnlyWhatFailed checks that an event whose delivery to one
// consumer finds no room, while those to the others are stored, is routed
// again for that consumer alone: the others get it once, however long the
// retries last.
func TestRetryQueuesOnlyWhatFailed(t *testing.T) {
	mem := bus.NewMemory()
	defer mem.Close()
	b := &fullFor{Memory: mem, topic: bus.DeliverTopic("inventory"), refuse: 2, stored: map[string]int{}}
	r := New(b, orderRoutes(t), Options{})
	run(t, b, r)
	publishEnvelope(t, mem, "default", event.Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(`{"total":5}`)})

	deadline := time.Now().Add(10 * time.Second) // retries after 1 s, then 2 s
	for {
		stored, refused := b.counts()
		if stored[b.topic] == 1 {
			if refused != 2 {
				t.Errorf("%d publishes to %s refused, want 2", refused, b.topic)
			}
			for _, c := range []string{"notification", "analytics"} {
				if n := stored[bus.DeliverTopic(c)]; n != 1 {
					t.Errorf("%s's delivery stored %d times, want once", c, n)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inventory's delivery never stored: %v", stored)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The event is done with: nothing waits on the bus, nothing is kept.
	time.Sleep(50 * time.Millisecond)
	if n := mem.Len(bus.EventsTopic("default")); n != 0 {
		t.Errorf("%d events still on the bus", n)
	}
	if r.partial.any() {
		t.Error("the router still remembers the event's stored deliveries")
	}
}

func TestRetryDelay(t *testing.T) {
	for attempt, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		if got := retryDelay(attempt); got != want {
			t.Errorf("retryDelay(%d) = %s, want %s", attempt, got, want)
		}
	}
}

// TestMaxBacklog checks that once a consumer's queue holds its
// max_backlog, the router puts that consumer's new events in its DLQ,
// each a dead letter that says why, while the other consumers get every
// event; and that the queue takes events again once it has room.
func TestMaxBacklog(t *testing.T) {
	b := bus.NewMemory()
	defer b.Close()
	routes, err := NewRoutes(orderRules, map[string]Queue{"inventory": {MaxBacklog: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	dead := map[string]int{}
	run(t, b, New(b, routes, Options{BacklogEvery: 20 * time.Millisecond, DeadLettered: func(consumer, reason string) {
		mu.Lock()
		dead[consumer+" "+reason]++
		mu.Unlock()
	}}))
	notification := bus.DeliverTopic("notification")
	send := func(total int) string {
		t.Helper()
		before := b.Len(notification)
		id := publishEnvelope(t, b, "default", event.Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(fmt.Sprintf(`{"total":%d}`, total))})
		for deadline := time.Now().Add(5 * time.Second); b.Len(notification) == before; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("event %d not routed", total)
			}
		}
		return id
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, send(i))
	}
	if n := b.Len(bus.DeliverTopic("inventory")); n != 2 {
		t.Errorf("inventory's queue holds %d events, want its max_backlog, 2", n)
	}
	if n := b.Len(notification); n != 5 {
		t.Errorf("notification's queue holds %d events, want all 5", n)
	}
	recs := take(t, b, bus.DLQTopic("inventory"), 3)
	for i, m := range recs {
		var dl event.DeadLetter
		if err := json.Unmarshal(m.Payload, &dl); err != nil {
			t.Fatal(err)
		}
		var env event.Envelope
		json.Unmarshal(dl.Event, &env)
		if dl.Reason != "max_backlog" || dl.ErrorCode != "BacklogFull" || dl.Consumer != "inventory" || dl.Rule != "order-created" ||
			dl.ErrorMessage != "the queue of consumer inventory holds its max_backlog of 2 events: the event was not queued for it" ||
			dl.Attempts != 0 || dl.Ingested.IsZero() || env.ID != ids[2+i] || m.Metadata.Get(bus.EventIDKey) != env.ID {
			t.Errorf("dead letter %d: %s", i, m.Payload)
		}
		if strings.Contains(string(m.Payload), "first_attempt") {
			t.Errorf("an event never tried has a first attempt: %s", m.Payload)
		}
	}
	mu.Lock()
	if dead["inventory max_backlog"] != 3 || len(dead) != 1 {
		t.Errorf("dead letters counted: %v", dead)
	}
	mu.Unlock()

	take(t, b, bus.DeliverTopic("inventory"), 2) // the consumer is back
	time.Sleep(100 * time.Millisecond)           // and the queue counted again
	id := send(5)
	if got := take(t, b, bus.DeliverTopic("inventory"), 1)[0]; got.Metadata.Get(bus.EventIDKey) != id {
		t.Errorf("after room came back, inventory got %s, want %s", got.Metadata.Get(bus.EventIDKey), id)
	}
}
