// Package sinktest is the conformance suite every sink passes, as each
// watermill backend runs tests.TestPubSub: one place says what "a sink
// delivers" means, so a new sink cannot quietly mean something weaker.
package sinktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
)

// Received reads back what the destination has received so far, in any
// order. Event must hold the delivered envelope bytes. ID, Rule, Consumer
// and Attempt are checked only when the destination carries them (ID is
// not empty).
type Received func() []event.Delivery

// NewFunc builds a fresh sink with its own destination for one subtest.
// Cleanup is the caller's business (t.Cleanup); the suite closes the sink.
type NewFunc func(t *testing.T) (sinks.Sink, Received)

// Timeout bounds how long the suite waits for deliveries to show up at an
// asynchronous destination (a NATS subscriber, say).
var Timeout = 5 * time.Second

// Run runs the conformance suite against the sinks newSink builds.
func Run(t *testing.T, newSink NewFunc) {
	t.Helper()
	t.Run("SingleDeliveryIntact", func(t *testing.T) { testSingle(t, newSink) })
	t.Run("ConcurrentExactlyOnce", func(t *testing.T) { testConcurrent(t, newSink) })
	t.Run("CloseIdempotent", func(t *testing.T) { testCloseIdempotent(t, newSink) })
	t.Run("SendAfterClose", func(t *testing.T) { testSendAfterClose(t, newSink) })
	t.Run("CloseDuringSends", func(t *testing.T) { testCloseDuringSends(t, newSink) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, newSink) })
}

// Delivery returns a delivery of a realistic envelope numbered n. Its
// detail holds characters that careless encoders escape or mangle
// (<, >, &, non-ASCII, an escaped newline), so "bytes equal" means something.
func Delivery(n int) event.Delivery {
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	env := event.Envelope{
		Version:    "0",
		ID:         id,
		DetailType: "OrderCreated",
		Source:     "orders.service",
		Account:    "000000000000",
		Time:       "2026-11-28T06:21:54Z",
		Region:     "local",
		Resources:  []string{"arn:aws:s3:::orders"},
		Detail:     []byte(fmt.Sprintf(`{"order":%d,"note":"a<b & c>d","city":"Zürich","lines":"1\n2","total":12.50}`, n)),
	}
	b, err := env.Marshal()
	if err != nil {
		panic(err)
	}
	return event.Delivery{Event: b, ID: id, Rule: "order-created", Consumer: "inventory", Attempt: 1 + n%3}
}

func testSingle(t *testing.T, newSink NewFunc) {
	s, received := newSink(t)
	defer s.Close()
	d := Delivery(1)
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := waitFor(t, received, 1)
	if len(got) != 1 {
		t.Fatalf("destination received %d deliveries, want 1", len(got))
	}
	checkSame(t, d, got[0])
}

func testConcurrent(t *testing.T, newSink NewFunc) {
	const goroutines, total = 16, 200
	s, received := newSink(t)
	defer s.Close()
	want := make(map[string]event.Delivery, total)
	for i := range total {
		d := Delivery(i)
		want[string(d.Event)] = d
	}
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for g := range goroutines {
		wg.Go(func() {
			for i := g; i < total; i += goroutines {
				if err := s.Send(context.Background(), Delivery(i)); err != nil {
					errs <- fmt.Errorf("Send %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := waitFor(t, received, total)
	seen := make(map[string]bool, total)
	for _, r := range got {
		d, ok := want[string(r.Event)]
		if !ok {
			t.Errorf("destination received an event nobody sent: %.200s", r.Event)
			continue
		}
		if seen[string(r.Event)] {
			t.Errorf("event %s received twice", d.ID)
		}
		seen[string(r.Event)] = true
		checkSame(t, d, r)
	}
	if len(seen) != total {
		t.Errorf("destination received %d distinct events, want %d", len(seen), total)
	}
}

func testCloseIdempotent(t *testing.T, newSink NewFunc) {
	s, _ := newSink(t)
	if err := s.Send(context.Background(), Delivery(1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func testSendAfterClose(t *testing.T, newSink NewFunc) {
	s, received := newSink(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Send(context.Background(), Delivery(1)); err == nil {
		t.Fatal("Send after Close returned nil, want an error")
	}
	// Give an asynchronous destination a moment to show a wrong delivery.
	time.Sleep(20 * time.Millisecond)
	if got := received(); len(got) != 0 {
		t.Fatalf("destination received %d deliveries after Close, want 0", len(got))
	}
}

// testCloseDuringSends checks the promise consumers rely on at shutdown:
// whatever Send said nil to has arrived, whatever the race with Close.
func testCloseDuringSends(t *testing.T, newSink NewFunc) {
	const goroutines, each = 8, 25
	s, received := newSink(t)
	var (
		mu sync.Mutex
		ok []event.Delivery
		wg sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				d := Delivery(g*each + i)
				if s.Send(context.Background(), d) == nil {
					mu.Lock()
					ok = append(ok, d)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	got := waitFor(t, received, len(ok))
	have := make(map[string]bool, len(got))
	for _, r := range got {
		have[string(r.Event)] = true
	}
	for _, d := range ok {
		if !have[string(d.Event)] {
			t.Errorf("Send of %s returned nil but the destination does not have it", d.ID)
		}
	}
}

func testCanceled(t *testing.T, newSink NewFunc) {
	s, _ := newSink(t)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := s.Send(ctx, Delivery(1))
	if el := time.Since(start); el > time.Second {
		t.Errorf("Send with a canceled context took %v", el)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a canceled context = %v, want an error wrapping context.Canceled", err)
	}
	if sinks.IsPermanent(err) {
		t.Errorf("a canceled Send must stay retryable, got a permanent error: %v", err)
	}
}

// waitFor polls received until it holds at least n deliveries or Timeout
// passes, and returns what it last read.
func waitFor(t *testing.T, received Received, n int) []event.Delivery {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		got := received()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func checkSame(t *testing.T, want, got event.Delivery) {
	t.Helper()
	if !bytes.Equal(got.Event, want.Event) {
		t.Errorf("event bytes differ:\n got %s\nwant %s", got.Event, want.Event)
	}
	if got.ID == "" {
		return
	}
	if got.ID != want.ID || got.Rule != want.Rule || got.Consumer != want.Consumer || got.Attempt != want.Attempt {
		t.Errorf("metadata: got id=%q rule=%q consumer=%q attempt=%d, want id=%q rule=%q consumer=%q attempt=%d",
			got.ID, got.Rule, got.Consumer, got.Attempt, want.ID, want.Rule, want.Consumer, want.Attempt)
	}
}
