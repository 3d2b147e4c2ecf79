package bus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLowDisk(t *testing.T) {
	const floor = 1000
	for _, c := range []struct {
		free, floor int64
		was, want   bool
	}{
		{free: 5000, floor: floor},
		{free: 1000, floor: floor},
		{free: 999, floor: floor, want: true},
		{free: 0, floor: floor, want: true},
		{free: 1050, floor: floor, was: true, want: true}, // not 10% over the floor yet
		{free: 1099, floor: floor, was: true, want: true},
		{free: 1100, floor: floor, was: true},
		{free: 0, floor: 0},            // off
		{free: 0, floor: 0, was: true}, // turned off
	} {
		if got := lowDisk(c.free, c.floor, c.was); got != c.want {
			t.Errorf("lowDisk(%d, %d, %v) = %v, want %v", c.free, c.floor, c.was, got, c.want)
		}
	}
}

func TestDefaultMinFreeDisk(t *testing.T) {
	dir := t.TempDir()
	size, ok := diskSize(dir)
	if !ok {
		if _, ok := DefaultMinFreeDisk(dir); ok {
			t.Error("DefaultMinFreeDisk known where the disk's size is not")
		}
		t.Skip("the disk's size cannot be told here")
	}
	got, ok := DefaultMinFreeDisk(dir + "/not/made/yet")
	if want := min(1<<30, size/20); !ok || got != want {
		t.Errorf("DefaultMinFreeDisk = %d, %v on a disk of %d; want %d", got, ok, size, want)
	}
}

// TestFreeDiskGuard runs the bus on a disk whose free space the test
// sets: below bus.nats.min_free_disk, new events are refused from the bus
// (ErrStorageFull, saying why) and from NATS publishers (JetStream's
// 10077), while deliveries and dead letters are still stored; they are
// taken again once the disk has 10% more than the floor free.
func TestFreeDiskGuard(t *testing.T) {
	const floor = 100 << 20
	var free atomic.Int64
	free.Store(10 << 30)
	b, srv, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), MaxStore: 64 << 20, MinFreeDisk: floor, Listen: "127.0.0.1:0"},
		JetStreamOptions{storageEvery: 20 * time.Millisecond, diskFree: func() (int64, bool) { return free.Load(), true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	client := natsPublisher(t, srv)
	event := func() error {
		return b.PublishAll([]Outgoing{{Topic: "events.default", UUID: "e", Payload: []byte(`{}`), FreshID: true}})
	}
	if err := event(); err != nil {
		t.Fatalf("event with room on the disk: %v", err)
	}
	if err := publishEntry(client, 0); err != nil {
		t.Fatalf("NATS publish with room on the disk: %v", err)
	}
	st, err := b.Storage(context.Background())
	if err != nil || !st.Disk || st.DiskFree != 10<<30 || st.MinFreeDisk != floor || st.DiskLow {
		t.Errorf("Storage() = %+v, %v; want the disk's free space and floor, not low", st, err)
	}
	diskLow := func() bool {
		st, err := b.Storage(context.Background())
		return err == nil && st.DiskLow
	}

	free.Store(floor - 1)
	waitFor(t, "new events refused below the floor", func() bool { return errors.Is(event(), ErrStorageFull) })
	if err := event(); err == nil || !strings.Contains(err.Error(), "publish to events.default: bus storage is full: new events wait until the disk of the store has room again") {
		t.Errorf("refusal says %v", err)
	}
	waitFor(t, "NATS publishes refused below the floor", func() bool { return publishEntry(client, 1) != nil })
	if !diskLow() {
		t.Error("Storage().DiskLow false while new events are refused below the floor")
	}
	if err := b.PublishAll([]Outgoing{{Topic: "dlq.slow", UUID: "d", Payload: []byte(`{}`)}, {Topic: "deliver.other", UUID: "o", Payload: []byte(`{}`)}}); err != nil {
		t.Errorf("deliveries and dead letters refused while the disk is low: %v", err)
	}

	free.Store(floor + floor/20) // over the floor, not 10% over it
	time.Sleep(200 * time.Millisecond)
	if err := event(); !errors.Is(err, ErrStorageFull) {
		t.Errorf("new events taken at 5%% over the floor, after refusing them below it: %v", err)
	}
	if !diskLow() {
		t.Error("Storage().DiskLow false at 5% over the floor, where new events are still refused")
	}

	free.Store(floor + floor/10)
	waitFor(t, "new events taken again", func() bool { return event() == nil })
	if diskLow() {
		t.Error("Storage().DiskLow true once new events are taken again")
	}
	waitFor(t, "NATS publishes taken again", func() bool { return publishEntry(client, 2) == nil })
}

// TestFreeDiskGuardOff checks that a negative MinFreeDisk turns the guard
// off: a disk with nothing free refuses nothing (JetStream would).
func TestFreeDiskGuardOff(t *testing.T) {
	b, _, err := OpenEmbedded(context.Background(), EmbeddedOptions{DataDir: t.TempDir(), MaxStore: 64 << 20, MinFreeDisk: -1},
		JetStreamOptions{storageEvery: 20 * time.Millisecond, diskFree: func() (int64, bool) { return 0, true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	time.Sleep(100 * time.Millisecond)
	if err := b.PublishAll([]Outgoing{{Topic: "events.default", UUID: "e", Payload: []byte(`{}`)}}); err != nil {
		t.Errorf("guard off: %v", err)
	}
	if st, err := b.Storage(context.Background()); err != nil || st.MinFreeDisk != 0 {
		t.Errorf("Storage() = %+v, %v; want no floor", st, err)
	}
}

// waitFor waits up to 5 s for ok.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s within %s", what, time.Since(start).Round(time.Millisecond))
}

// TestDiskFloorAboveDiskWarns checks that a min_free_disk no less than the
// whole disk, which would refuse every event, is said at start.
func TestDiskFloorAboveDiskWarns(t *testing.T) {
	dir := t.TempDir()
	if _, ok := diskSize(dir); !ok {
		t.Skip("the disk's size cannot be told here")
	}
	for _, c := range []struct {
		floor int64
		warn  bool
	}{{1 << 20, false}, {1 << 61, true}} {
		var out bytes.Buffer
		logDiskFloor(slog.New(slog.NewTextHandler(&out, nil)), EmbeddedOptions{DataDir: dir, MinFreeDisk: c.floor}, c.floor)
		if got := strings.Contains(out.String(), "no less than the whole of data_dir's disk"); got != c.warn {
			t.Errorf("floor %d: warned %v, want %v; log:\n%s", c.floor, got, c.warn, out.String())
		}
	}
}
