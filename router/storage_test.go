package router

import (
	"encoding/json"
	"fmt"
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
