package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/event"
)

// downstream is an HTTP consumer's endpoint that answers 503 while down
// and records the events it takes.
type downstream struct {
	*httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  map[string]int // by Idempotency-Key
}

func newDownstream(t *testing.T) *downstream {
	d := &downstream{got: map[string]int{}}
	d.down.Store(true)
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		d.mu.Lock()
		d.got[r.Header.Get("Idempotency-Key")]++
		d.mu.Unlock()
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *downstream) has(ids []string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if d.got[id] == 0 {
			return false
		}
	}
	return true
}

// storeConfig writes the config of a routerd whose bus store is held to
// maxStore, with rule "all" sending source shop's events to the HTTP
// consumer inventory (at url) and the file consumer notification (in dir).
func storeConfig(t *testing.T, dir, maxStore, url, inventory string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
http: {listen: "127.0.0.1:0"}
bus:
  data_dir: %s
  nats: {listen: "", max_store: %s}
rules:
  - {name: all, pattern: {source: [shop]}, targets: [inventory, notification]}
consumers:
  inventory:
    sink: {type: http, url: %q}
    retry: {initial_backoff: 50ms, max_backoff: 200ms}
%s
  notification:
    sink: {type: file, path: %s}
`, filepath.Join(dir, "data"), maxStore, url, inventory, filepath.Join(dir, "notification.jsonl"))
	path := filepath.Join(dir, "routerd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// putShop sends one PutEvents entry from source shop with a detail of
// about size bytes; it returns the answer's status, Retry-After, the
// event id (if accepted) and the body.
func putShop(t *testing.T, addr string, size int) (int, string, string, string) {
	t.Helper()
	detail := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", size))
	body, _ := json.Marshal(map[string]any{"Entries": []map[string]any{{"Source": "shop", "DetailType": "Sold", "Detail": detail}}})
	req, _ := http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	var out struct{ Entries []struct{ EventId string } }
	json.Unmarshal(buf.Bytes(), &out)
	id := ""
	if len(out.Entries) == 1 {
		id = out.Entries[0].EventId
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), id, buf.String()
}

// fileIDs counts the event ids in a file sink's JSON Lines.
func fileIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	f, err := os.Open(path)
	if err != nil {
		return ids
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var env struct{ ID string }
		if json.Unmarshal(sc.Bytes(), &env) == nil {
			ids[env.ID]++
		}
	}
	return ids
}

// TestStorageFull fills a 2 MB store with the queue of a consumer that is
// down, up to 85%, then sends events as fast as it can: ingest answers
// 503 saying so, with Retry-After, and the metrics show the store near its
// bound; the other consumer gets every event accepted, once, the last
// ones included, from the room kept for them; and when the consumer is
// back, everything reaches it and ingest takes events again.
func TestStorageFull(t *testing.T) {
	dir := t.TempDir()
	inv := newDownstream(t)
	a := startApp(t, storeConfig(t, dir, "2MB", inv.URL, ""))
	var accepted []string
	for range 10 {
		status, _, id, body := putShop(t, a.Addr(), 1<<10)
		if status != http.StatusOK || id == "" {
			t.Fatalf("%d %s", status, body)
		}
		accepted = append(accepted, id)
	}
	// The consumer's queue grows to 85% of the store.
	pad := []byte(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	for i := 0; i < 2<<20*85/100/len(pad); i++ {
		if err := a.Bus().Publish(bus.DeliverTopic("inventory"), message.NewMessage(fmt.Sprint("backlog-", i), pad)); err != nil {
			t.Fatalf("backlog %d: %v", i, err)
		}
	}
	var status int
	var retryAfter, body string
	for {
		var id string
		status, retryAfter, id, body = putShop(t, a.Addr(), 4<<10)
		if status != http.StatusOK || id == "" {
			break
		}
		if accepted = append(accepted, id); len(accepted) > 1000 {
			t.Fatal("1000 events of 4 KB in a 2 MB store, and no refusal")
		}
	}
	if status != http.StatusServiceUnavailable || retryAfter != "5" ||
		!strings.Contains(body, `"message":"the event bus's storage is full and nothing was accepted; retry later"`) {
		t.Fatalf("a full store answered %d (Retry-After %q) %s", status, retryAfter, body)
	}
	m := metricsText(t, a.Addr())
	var used, limit float64
	fmt.Sscan(metricValue(m, "eventrouter_bus_storage_used_bytes"), &used)
	fmt.Sscan(metricValue(m, "eventrouter_bus_storage_limit_bytes"), &limit)
	// Ingest stops at 90%: the rest is for the deliveries of the events
	// accepted, and dead letters.
	if limit != 2<<20 || used < limit*8/10 || used > limit*95/100 {
		t.Errorf("metrics say %v of %v bytes stored, want 80%% to 95%% of 2 MB", used, limit)
	}

	notification := filepath.Join(dir, "notification.jsonl")
	waitFor(t, "notification to get every accepted event", 10*time.Second, func() bool {
		return len(fileIDs(t, notification)) >= len(accepted)
	})
	inv.down.Store(false)
	waitFor(t, "inventory, back, to get every accepted event", 15*time.Second, func() bool { return inv.has(accepted) })
	waitFor(t, "ingest to take events again", 10*time.Second, func() bool {
		status, _, _, _ := putShop(t, a.Addr(), 1<<10)
		return status == http.StatusOK
	})
	got := fileIDs(t, notification)
	for _, id := range accepted {
		if got[id] != 1 {
			t.Errorf("notification got event %s %d times, want once", id, got[id])
		}
	}
}

// TestMaxBacklogEndToEnd bounds the queue of a consumer that is down: its
// overflow goes to its dead-letter queue, counted, while the other
// consumer gets everything and ingest refuses nothing; replayed once the
// consumer is back, the overflow reaches it.
func TestMaxBacklogEndToEnd(t *testing.T) {
	dir := t.TempDir()
	inv := newDownstream(t)
	a := startApp(t, storeConfig(t, dir, "64MB", inv.URL, "    max_backlog: 5"))
	var ids []string
	for i := 0; i < 15; i++ {
		status, _, id, body := putShop(t, a.Addr(), 100)
		if status != http.StatusOK || id == "" {
			t.Fatalf("event %d: %d %s", i, status, body)
		}
		ids = append(ids, id)
		time.Sleep(150 * time.Millisecond) // the router counts the queue every second
	}
	notification := filepath.Join(dir, "notification.jsonl")
	waitFor(t, "notification to get all 15 events", 10*time.Second, func() bool { return len(fileIDs(t, notification)) == 15 })
	var list DLQList
	waitFor(t, "inventory's overflow in its DLQ", 10*time.Second, func() bool {
		list = DLQList{}
		adminCall(t, "GET", "http://"+a.Addr()+"/admin/dlq/inventory", &list)
		return list.Total >= 15-5-3 // the count lags by up to a second of events
	})
	if list.Total > 10 {
		t.Errorf("%d of 15 events dead-lettered with max_backlog 5", list.Total)
	}
	var rec event.DeadLetter
	json.Unmarshal(list.Entries[0].Record, &rec)
	if rec.Reason != "max_backlog" || rec.ErrorCode != "BacklogFull" {
		t.Errorf("dead letter %s", list.Entries[0].Record)
	}
	if m := metricsText(t, a.Addr()); !strings.Contains(m, fmt.Sprintf(`eventrouter_dlq_events_total{consumer="inventory",reason="max_backlog"} %d`, list.Total)) {
		t.Errorf("metrics do not count %d max_backlog dead letters:\n%s", list.Total, grepLines(m, "eventrouter_dlq_events_total"))
	}

	inv.down.Store(false)
	var rep struct{ Replayed int }
	adminCall(t, "POST", "http://"+a.Addr()+"/admin/dlq/inventory/replay", &rep)
	if rep.Replayed != list.Total {
		t.Errorf("replayed %d of %d", rep.Replayed, list.Total)
	}
	waitFor(t, "inventory to get all 15 events", 15*time.Second, func() bool { return inv.has(ids) })
}

// metricValue is the value of the series written exactly as name (with
// its labels, if any) in a Prometheus exposition.
func metricValue(text, name string) string {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func grepLines(text, substr string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, substr) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

// TestDiskMetrics checks that bus.nats.min_free_disk reaches the bus, and
// that the disk's free space, the floor and the guard's state are
// exported next to the store's use.
func TestDiskMetrics(t *testing.T) {
	for _, c := range []struct {
		set  string
		want func(floor float64) bool
		low  string // eventrouter_bus_storage_disk_low: "" when absent
	}{
		{"", func(f float64) bool { return f > 0 && f <= 1<<30 }, "0"}, // the default: 1GB or 5% of the disk
		{", min_free_disk: 1MB", func(f float64) bool { return f == 1<<20 }, "0"},
		{", min_free_disk: 0", func(f float64) bool { return f == -1 }, ""}, // off: absent
	} {
		dir := t.TempDir()
		inv := newDownstream(t)
		a := startApp(t, storeConfig(t, dir, "64MB"+c.set, inv.URL, ""))
		m := metricsText(t, a.Addr())
		free, floor := -1.0, -1.0
		fmt.Sscan(metricValue(m, "eventrouter_bus_storage_disk_free_bytes"), &free)
		fmt.Sscan(metricValue(m, "eventrouter_bus_storage_disk_min_free_bytes"), &floor)
		low := metricValue(m, "eventrouter_bus_storage_disk_low")
		if free <= 0 || !c.want(floor) || low != c.low {
			t.Errorf("min_free_disk%q: metrics say %v bytes free, floor %v, low %q:\n%s", c.set, free, floor, low, grepLines(m, "eventrouter_bus_storage_disk"))
		}
	}
}

func TestMinFreeDiskOption(t *testing.T) {
	for in, want := range map[config.ByteSize]int64{config.DefaultMinFreeDisk: 0, 0: -1, 1 << 30: 1 << 30} {
		if got := minFreeDisk(in); got != want {
			t.Errorf("minFreeDisk(%d) = %d, want %d", in, got, want)
		}
	}
}
