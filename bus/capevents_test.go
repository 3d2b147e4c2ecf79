package bus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsPublisher is a plain NATS client of the embedded server, as a
// program that publishes entries to events.<bus> is: not the bus.
func natsPublisher(t *testing.T, srv *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// publishEntry publishes an entry to events.default as a NATS client does.
func publishEntry(js jetstream.JetStream, i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.Publish(ctx, "events.default", fmt.Appendf(nil, `{"source":"nats.client","detail-type":"T","detail":{"n":%d}}`, i))
	return err
}

// eventsStream returns EVENTS' config and how many messages it holds.
func eventsStream(t *testing.T, b *JetStream) (jetstream.StreamConfig, uint64) {
	t.Helper()
	s, err := b.js.Stream(context.Background(), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	return info.Config, info.State.Msgs
}

// offline runs f on a JetStream client of a server started on dir without
// the bus, as a crashed routerd left it.
func offline(t *testing.T, dir string, f func(jetstream.JetStream)) {
	t.Helper()
	nc, srv, err := StartEmbedded(EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	f(js)
}

// TestNATSPublishersRefusedWhenFull fills a store held to 1 MiB past
// IngestShare with deliveries: a plain NATS client's publish to
// events.default is then refused by JetStream (10077, ErrStorageFull once
// the bus wraps it) while deliveries and dead letters are still stored in
// the room kept for them, and the event it published before is kept. Once
// a consumer makes room, the client's publishes are taken again. Closing
// the bus lifts the bound, and so does a start with room after a crash
// while it refused.
func TestNATSPublishersRefusedWhenFull(t *testing.T) {
	const limit = 1 << 20
	dir := t.TempDir()
	var srv *server.Server
	open := func(maxStore int64) *JetStream {
		b, s, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: dir, MaxStore: maxStore, Listen: "127.0.0.1:0"},
			JetStreamOptions{storageEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		srv = s
		return b
	}
	b := open(limit)
	defer func() { b.Close() }()
	client := natsPublisher(t, srv)
	accepted := uint64(1) // events in EVENTS: nothing routes them here
	if err := publishEntry(client, 0); err != nil {
		t.Fatalf("publish with an empty store: %v", err)
	}
	if cfg, _ := eventsStream(t, b); cfg.Discard != jetstream.DiscardNew || cfg.MaxBytes != -1 {
		t.Fatalf("EVENTS provisioned with discard %v, max bytes %d; want discard new, no bound", cfg.Discard, cfg.MaxBytes)
	}

	payload := []byte(`{"pad":"` + strings.Repeat("x", 30<<10) + `"}`)
	for i := 0; i*len(payload) < limit*92/100; i++ {
		if err := b.PublishAll([]Outgoing{{Topic: "deliver.slow", UUID: fmt.Sprint("m", i), Payload: payload}}); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	start := time.Now()
	var err error
	for err = publishEntry(client, 1); err == nil; err = publishEntry(client, 1) {
		accepted++ // until the next measure finds the store full
		if time.Since(start) > 5*time.Second {
			t.Fatal("a NATS client's events still taken at 92% of the bound")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("NATS publish refused %s after the store passed the share: %v", time.Since(start).Round(time.Millisecond), err)
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != jsStoreFailed || !errors.Is(publishError("events.default", err), ErrStorageFull) {
		t.Fatalf("NATS publish at a full store: %v; want JetStream's 10077 maximum bytes exceeded, which the bus takes for ErrStorageFull", err)
	}
	for i := range 20 { // a tester's 20 large events: none is stored
		if err := publishEntry(client, 100+i); err == nil {
			t.Fatalf("NATS publish %d taken at a full store", i)
		}
	}
	cfg, msgs := eventsStream(t, b)
	if cfg.MaxBytes != eventsCapBytes || cfg.Discard != jetstream.DiscardNew || msgs != accepted {
		t.Errorf("EVENTS while full: max bytes %d, discard %v, %d messages; want %d, discard new, the %d events accepted before",
			cfg.MaxBytes, cfg.Discard, msgs, eventsCapBytes, accepted)
	}
	if nodes := markedNodes(cfg.Metadata); len(nodes) != 1 || nodes[0] != "routerd" {
		t.Errorf("EVENTS marked by %v, want [routerd]", nodes)
	}
	// The room kept: deliveries and dead letters of accepted events.
	if err := b.PublishAll([]Outgoing{{Topic: "dlq.slow", UUID: "d", Payload: payload}, {Topic: "deliver.other", UUID: "o", Payload: []byte(`{}`)}}); err != nil {
		t.Errorf("the room kept for deliveries and dead letters refused them: %v", err)
	}

	// Closed, the bus lifts the bound: its server stops with it. After a
	// crash while refusing (the bound set again here, the bus not
	// running), a start with room lifts it.
	b.Close()
	offline(t, dir, func(js jetstream.JetStream) {
		s, err := js.Stream(context.Background(), "EVENTS")
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if cfg.MaxBytes != -1 || len(markedNodes(cfg.Metadata)) != 0 {
			t.Errorf("EVENTS after the bus closed: max bytes %d, metadata %v; want no bound, no marks", cfg.MaxBytes, cfg.Metadata)
		}
		cfg.MaxBytes, cfg.Metadata = eventsCapBytes, map[string]string{capMark + "routerd": time.Now().UTC().Format(time.RFC3339)}
		if _, err := js.UpdateStream(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	})
	b = open(4 * limit)
	client = natsPublisher(t, srv)
	start = time.Now()
	for err = publishEntry(client, 2); err != nil; err = publishEntry(client, 2) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("NATS publishes still refused after a restart with room: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	accepted++
	t.Logf("after a restart with room, NATS publish taken within %s", time.Since(start).Round(time.Millisecond))
	if cfg, msgs := eventsStream(t, b); cfg.MaxBytes != -1 || len(markedNodes(cfg.Metadata)) != 0 || msgs != accepted {
		t.Errorf("EVENTS after restart: max bytes %d, metadata %v, %d messages; want no bound, no marks, %d", cfg.MaxBytes, cfg.Metadata, msgs, accepted)
	}

	// Full again at the old bound, then a consumer makes room.
	b.Close()
	b = open(limit)
	client = natsPublisher(t, srv)
	start = time.Now()
	for err = publishEntry(client, 3); err == nil; err = publishEntry(client, 3) {
		accepted++
		if time.Since(start) > 5*time.Second {
			t.Fatal("NATS publishes taken after a restart at a full store")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Consume(ctx, "deliver.slow", ConsumeOptions{Durable: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		receive(t, ch).Ack()
	}
	start = time.Now()
	for err = publishEntry(client, 4); err != nil; err = publishEntry(client, 4) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("NATS publishes still refused with room: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	accepted++
	t.Logf("room made: NATS publish taken after %s", time.Since(start).Round(time.Millisecond))
	if cfg, msgs := eventsStream(t, b); cfg.MaxBytes != -1 || msgs != accepted {
		t.Errorf("EVENTS after room came back: max bytes %d, %d messages; want no bound and the %d events accepted", cfg.MaxBytes, msgs, accepted)
	}
}

func TestCapMarks(t *testing.T) {
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	sys := map[string]string{"_nats.ver": "2.15.3"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(sys)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name    string
		md      map[string]string
		want    bool
		out     map[string]string
		changed bool
	}{
		{"nothing to do", sys, false, sys, false},
		{"mark", sys, true, with(capMark+"a", at(0)), true},
		{"fresh mark kept", with(capMark+"a", at(-10*time.Second)), true, with(capMark+"a", at(-10*time.Second)), false},
		{"old mark renewed", with(capMark+"a", at(-capRenew)), true, with(capMark+"a", at(0)), true},
		{"mark from the future renewed", with(capMark+"a", at(time.Hour)), true, with(capMark+"a", at(0)), true},
		{"unmark", with(capMark+"a", at(-time.Second)), false, sys, true},
		{"unmark a broken mark", with(capMark+"a", "x"), false, sys, true},
		{"another node's mark stays", with(capMark+"b", at(-time.Minute)), false, with(capMark+"b", at(-time.Minute)), false},
		{"another node's stale mark goes", with(capMark+"b", at(-capStale)), true, with(capMark+"a", at(0)), true},
		{"another node's broken mark goes", with(capMark+"b", ""), false, sys, true},
	} {
		before := maps.Clone(c.md)
		out, changed := capMarks(c.md, "a", c.want, now)
		if !maps.Equal(out, c.out) || changed != c.changed {
			t.Errorf("%s: capMarks = %v, %v; want %v, %v", c.name, out, changed, c.out, c.changed)
		}
		if !maps.Equal(c.md, before) {
			t.Errorf("%s: capMarks changed its argument", c.name)
		}
	}
}

// TestClusterRefusal runs three nodes whose disks the test empties and
// fills: one node low on disk bounds EVENTS for every node, a second
// marks it too, and the bound holds until the last node with a low disk
// has room: nodes do not undo each other's refusal.
func TestClusterRefusal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	const floor = 100 << 20
	opts := clusterOptions(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := make([]*JetStream, len(opts))
	srvs := make([]*server.Server, len(opts))
	free := make([]atomic.Int64, len(opts))
	errs := make(chan error, len(opts))
	for i, o := range opts {
		free[i].Store(10 << 30)
		o.MinFreeDisk = floor
		go func() {
			b, srv, err := OpenEmbedded(ctx, o, JetStreamOptions{Replicas: 3, storageEvery: 50 * time.Millisecond,
				diskFree: func() (int64, bool) { return free[i].Load(), true }})
			if err == nil {
				t.Cleanup(func() { b.Close() })
			}
			nodes[i], srvs[i] = b, srv
			errs <- err
		}()
	}
	for range opts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	client := natsPublisher(t, srvs[2])
	marks := func() []string {
		cfg, _ := eventsStream(t, nodes[2])
		return markedNodes(cfg.Metadata)
	}
	waitFor(t, "a NATS publish taken", func() bool { return publishEntry(client, 0) == nil })

	free[0].Store(floor - 1)
	waitFor(t, "node 2's NATS client refused while node 0's disk is low", func() bool { return publishEntry(client, 1) != nil })
	if m := marks(); len(m) != 1 || m[0] != srvs[0].Name() {
		t.Errorf("EVENTS marked by %v, want node 0 (%s)", m, srvs[0].Name())
	}
	free[1].Store(floor - 1)
	waitFor(t, "node 1's mark", func() bool { return len(marks()) == 2 })
	free[0].Store(10 << 30)
	waitFor(t, "node 0's mark gone", func() bool { m := marks(); return len(m) == 1 && m[0] == srvs[1].Name() })
	time.Sleep(capCheckEvery + time.Second) // every node checks the stream once more
	if err := publishEntry(client, 2); err == nil {
		t.Fatal("NATS publish taken while node 1's disk is low")
	}
	free[1].Store(10 << 30)
	waitFor(t, "NATS publishes taken once every disk has room", func() bool { return publishEntry(client, 3) == nil })
	if cfg, _ := eventsStream(t, nodes[0]); cfg.MaxBytes != -1 || len(markedNodes(cfg.Metadata)) != 0 {
		t.Errorf("EVENTS at the end: max bytes %d, metadata %v", cfg.MaxBytes, cfg.Metadata)
	}
}
