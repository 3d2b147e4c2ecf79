package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStorageFull fills an embedded server held to 1 MiB: the publish it
// refuses fails at once with ErrStorageFull, naming the topic; messages
// stored before stay; and once a consumer has taken some, there is room
// again.
func TestStorageFull(t *testing.T) {
	const limit = 1 << 20
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), MaxStore: limit}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	payload := []byte(`{"pad":"` + strings.Repeat("x", 60<<10) + `"}`)
	stored := 0
	var refused error
	for i := 0; i < 2*limit/len(payload) && refused == nil; i++ {
		start := time.Now()
		refused = b.PublishAll([]Outgoing{{Topic: "deliver.slow", UUID: fmt.Sprint("m", i), Payload: payload}})
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("publish %d took %s", i, took)
		}
		if refused == nil {
			stored++
		}
	}
	if !errors.Is(refused, ErrStorageFull) || !strings.Contains(refused.Error(), "publish to deliver.slow: bus storage is full") {
		t.Fatalf("after %d stored, publish error %v; want ErrStorageFull naming the topic", stored, refused)
	}
	if stored < limit/len(payload)-1 {
		t.Errorf("refused after %d messages of %d bytes, limit %d", stored, len(payload), limit)
	}
	st, err := b.Storage(context.Background())
	if err != nil || st.Limit != limit || st.Used < limit-int64(len(payload)) {
		t.Errorf("Storage() = %+v, %v; want about %d of %d used", st, err, limit, limit)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Consume(ctx, "deliver.slow", ConsumeOptions{Durable: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		receive(t, ch).Ack()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.PublishAll([]Outgoing{{Topic: "deliver.slow", UUID: "after", Payload: payload}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after three messages were taken: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDefaultMaxStore checks that an embedded server started without a
// bound gets half the room of its data directory, not NATS's three
// quarters of it.
func TestDefaultMaxStore(t *testing.T) {
	dir := t.TempDir()
	want, ok := DefaultMaxStore(dir)
	if !ok {
		t.Skip("free disk space cannot be told here")
	}
	b := newEmbedded(t, dir)
	free, _ := diskFree(dir)
	st, err := b.Storage(context.Background())
	if err != nil || st.Limit <= 0 || st.Limit > free/2+free/10 || st.Limit < want-want/10 {
		t.Errorf("Storage() = %+v, %v with %d free; DefaultMaxStore said %d", st, err, free, want)
	}
	if got, _ := DefaultMaxStore(dir + "/not/made/yet"); got <= 0 {
		t.Errorf("DefaultMaxStore of a directory not made yet = %d", got)
	}
}

func TestStorageFullErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		full bool
	}{
		{&jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10002, Description: "resource limits exceeded for account"}, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum bytes exceeded"}, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "write: input/output error"}, false},
		{&jetstream.APIError{Code: 400, ErrorCode: 10054, Description: "message size exceeds maximum allowed"}, false},
		{errors.New("nats: timeout"), false},
	} {
		err := publishError("deliver.x", c.err)
		if errors.Is(err, ErrStorageFull) != c.full || !errors.Is(err, c.err) {
			t.Errorf("%v: wrapped as %v, storage full %v", c.err, err, !c.full)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		512: "512B", 1024: "1KB", 1536: "1.5KB", 10 << 30: "10GB", 48<<20 + 1: "48MB", 3 << 60: "3EB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestNewEventsRefusedFirst checks that past IngestShare of its bound the
// bus refuses new events while it still stores deliveries and dead
// letters, and takes new events again once there is room.
func TestNewEventsRefusedFirst(t *testing.T) {
	const limit = 1 << 20
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), MaxStore: limit}, JetStreamOptions{storageEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	payload := []byte(`{"pad":"` + strings.Repeat("x", 30<<10) + `"}`)
	for i := 0; i*len(payload) < limit*95/100; i++ {
		if err := b.PublishAll([]Outgoing{{Topic: "deliver.slow", UUID: fmt.Sprint("m", i), Payload: payload}}); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	event := func() error {
		return b.PublishAll([]Outgoing{{Topic: "events.default", UUID: "e", Payload: []byte(`{}`), FreshID: true}})
	}
	deadline := time.Now().Add(5 * time.Second)
	for err := event(); !errors.Is(err, ErrStorageFull); err = event() {
		if time.Now().After(deadline) {
			t.Fatalf("new events still taken at 95%% of the bound: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := event(); err == nil || !strings.Contains(err.Error(), "publish to events.default: bus storage is full: new events wait until it holds less than 90% of its bound") {
		t.Errorf("refusal says %v", err)
	}
	if err := b.PublishAll([]Outgoing{{Topic: "dlq.slow", UUID: "d", Payload: payload}, {Topic: "deliver.other", UUID: "o", Payload: []byte(`{}`)}}); err != nil {
		t.Errorf("the room kept for deliveries and dead letters refused them: %v", err)
	}
	if _, err := b.Purge(context.Background(), "deliver.slow"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for err := event(); err != nil; err = event() {
		if time.Now().After(deadline) {
			t.Fatalf("new events still refused with room: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterStorage checks that each node of a cluster measures what it
// stores itself, its replica of every stream included, against its own
// bound: what bus.nats.max_store holds for.
func TestClusterStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	opts := clusterOptions(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := make([]*JetStream, len(opts))
	errs := make(chan error, len(opts))
	for i, o := range opts {
		go func() {
			b, err := openNode(ctx, t, o, 3)
			nodes[i] = b
			errs <- err
		}()
	}
	for range opts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	payload := []byte(`{"pad":"` + strings.Repeat("x", 100<<10) + `"}`)
	for i := range 10 {
		if err := nodes[0].PublishAll([]Outgoing{{Topic: "deliver.slow", UUID: fmt.Sprint("m", i), Payload: payload}}); err != nil {
			t.Fatal(err)
		}
	}
	const stored = 10 * 100 << 10
	for i, b := range nodes {
		var st Storage
		deadline := time.Now().Add(10 * time.Second)
		for { // replicas catch up
			var err error
			if st, err = b.Storage(ctx); err != nil {
				t.Fatal(err)
			}
			if st.Used >= stored || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		info, err := b.js.AccountInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Used < stored || st.Used > stored*12/10 || st.Limit <= 0 {
			t.Errorf("node %d: Storage() = %+v, want about %d used (the account counts %d)", i, st, stored, info.Store)
		}
		t.Logf("node %d: server %d bytes, account %d bytes", i, st.Used, info.Store)
	}
}
