package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/testkit"
)

// orderConfig writes a routerd config for the order flow with file sinks
// in dir and returns its path. extra is appended to the consumers section.
func orderConfig(t *testing.T, dir, busType string, extraConsumers string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
http:
  listen: 127.0.0.1:0
bus:
  type: %s
  data_dir: %s
  nats:
    listen: ""
rules:
  - name: order-created
    pattern: {source: [orders.service], detail-type: [OrderCreated]}
    targets: [inventory, notification, analytics]
  - name: order-created-vip
    pattern: {source: [orders.service], detail-type: [OrderCreated], detail: {total: [{numeric: [">=", 1000]}]}}
    targets: [vip-alerts]
consumers:
  inventory:
    sink: {type: file, path: %s/inventory.jsonl}
  notification:
    sink: {type: file, path: %s/notification.jsonl}
  analytics:
    sink: {type: file, path: %s/analytics.jsonl}
  vip-alerts:
    sink: {type: file, path: %s/vip.jsonl}
%s`, busType, filepath.Join(dir, "data"), dir, dir, dir, dir, extraConsumers)
	path := filepath.Join(dir, "routerd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func startApp(t *testing.T, path string) *App {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := New(cfg, Options{})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return a
}

// putEvents sends a PutEvents request as the AWS SDK would.
func putEvents(t *testing.T, addr string, entries ...map[string]any) []string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"Entries": entries})
	req, _ := http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	status, b := send(t, req)
	if status != 200 {
		t.Fatalf("PutEvents: %d %s", status, b)
	}
	var out struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range out.Entries {
		ids = append(ids, e.EventId)
	}
	return ids
}

// send does req and returns the answer's status and body.
func send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// order is a PutEvents entry for an OrderCreated event that satisfies the
// example's order schema.
func order(total int) map[string]any {
	return map[string]any{
		"Source": "orders.service", "DetailType": "OrderCreated",
		"Detail": fmt.Sprintf(`{"orderId":"o-%d","customerId":"7d5c8f3e-2b1a-4c6d-9e8f-0a1b2c3d4e5f",`+
			`"items":[{"productId":"p-1","quantity":2}],`+
			`"shippingAddress":{"street":"1 Main St","city":"Springfield","country":"US","postalCode":"12345"},"total":%d}`, total, total),
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestOrderFlow runs the example's flow end to end on each bus: events in
// over HTTP, consumers' files filled as the rules say, metrics shown.
func TestOrderFlow(t *testing.T) {
	for _, busType := range []string{config.BusNATSEmbedded, config.BusMemory} {
		t.Run(busType, func(t *testing.T) {
			dir := t.TempDir()
			a := startApp(t, orderConfig(t, dir, busType, ""))
			ids := putEvents(t, a.Addr(), order(1250), order(20), map[string]any{
				"Source": "payments", "DetailType": "PaymentDone", "Detail": `{}`,
			})
			if len(ids) != 3 || ids[0] == "" {
				t.Fatalf("ids = %v", ids)
			}
			for _, f := range []string{"inventory", "notification", "analytics"} {
				path := filepath.Join(dir, f+".jsonl")
				waitFor(t, f, 10*time.Second, func() bool { return len(testkit.ReadIDs(t, path)) == 2 })
				got := testkit.ReadIDs(t, path)
				if !(contains(got, ids[0]) && contains(got, ids[1])) {
					t.Errorf("%s got %v, want %v", f, got, ids[:2])
				}
			}
			vip := filepath.Join(dir, "vip.jsonl")
			waitFor(t, "vip", 10*time.Second, func() bool { return len(testkit.ReadIDs(t, vip)) == 1 })
			if got := testkit.ReadIDs(t, vip); got[0] != ids[0] {
				t.Errorf("vip got %v, want %s", got, ids[0])
			}
			wants := []string{
				`eventrouter_invocations_total{consumer="vip-alerts",result="success"} 1`,
				`eventrouter_invocations_total{consumer="inventory",result="success"} 2`,
				`eventrouter_ingest_events_total{result="accepted",source="putevents"} 3`,
				`eventrouter_matched_events_total{bus="default"} 2`,
				`eventrouter_rule_triggered_total{bus="default",rule="order-created-vip"} 1`,
				`eventrouter_config_last_reload_successful 1`,
				`eventrouter_ingestion_to_invocation_seconds_count{consumer="analytics"} 2`,
				`eventrouter_throttled_requests_total{source="putevents"} 0`,
			}
			// A delivery is counted once the sink has returned, a moment
			// after its line is in the file.
			var missing []string
			deadline := time.Now().Add(5 * time.Second)
			for {
				m := metricsText(t, a.Addr())
				missing = slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(m, w) })
				if len(missing) == 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, want := range missing {
				t.Errorf("metrics lack %s", want)
			}
		})
	}
}

// TestLargestEventDelivered sends an entry of EventBridge's largest size,
// 1 MiB by its size rule: it is accepted and reaches its consumers, whose
// messages carry headers besides the envelope, and so does the order
// after it.
func TestLargestEventDelivered(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, orderConfig(t, dir, config.BusNATSEmbedded, ""))
	const source, detailType = "orders.service", "OrderCreated"
	frame := `{"total":5,"pad":""}`
	pad := strings.Repeat("x", 1<<20-len(source)-len(detailType)-len(frame))
	big := map[string]any{"Source": source, "DetailType": detailType, "Detail": `{"total":5,"pad":"` + pad + `"}`}
	ids := putEvents(t, a.Addr(), big, order(20))
	if len(ids) != 2 || ids[0] == "" || ids[1] == "" {
		t.Fatalf("ids = %v, want both accepted", ids)
	}
	path := filepath.Join(dir, "inventory.jsonl")
	waitFor(t, "both events in inventory", 20*time.Second, func() bool { return len(testkit.ReadIDs(t, path)) == 2 })
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestOutage takes a consumer's endpoint down and up again: everything
// arrives. With an endpoint failing for good, everything ends in the DLQ
// with the error recorded.
func TestOutage(t *testing.T) {
	dir := t.TempDir()
	var up atomic.Bool
	var received atomic.Int32
	seen := make(chan string, 100)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		received.Add(1)
		seen <- r.Header.Get("Idempotency-Key")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer flaky.Close()
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer gone.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer dead.Close()

	extra := fmt.Sprintf(`  flaky:
    sink: {type: http, url: %s}
    retry: {initial_backoff: 20ms, max_backoff: 100ms}
  gone:
    sink: {type: http, url: %s}
  dead:
    sink: {type: http, url: %s}
    retry: {max_attempts: 3, initial_backoff: 10ms, max_backoff: 20ms}
`, flaky.URL, gone.URL, dead.URL)
	path := orderConfig(t, dir, config.BusNATSEmbedded, extra)
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("targets: [inventory, notification, analytics]"), []byte("targets: [inventory, notification, analytics, flaky, gone, dead]"), 1)
	os.WriteFile(path, b, 0o644)
	a := startApp(t, path)

	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, putEvents(t, a.Addr(), order(i))...)
	}
	time.Sleep(300 * time.Millisecond) // several failed attempts
	up.Store(true)
	got := map[string]bool{}
	timeout := time.After(15 * time.Second)
	for len(got) < len(ids) {
		select {
		case id := <-seen:
			got[id] = true
		case <-timeout:
			t.Fatalf("flaky endpoint got %d of %d events after recovery", len(got), len(ids))
		}
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("event %s never reached the recovered endpoint", id)
		}
	}

	for _, c := range []struct {
		consumer, reason, code string
		attempts               int
	}{{"gone", "permanent_error", "HTTP_404", 1}, {"dead", "max_attempts", "HTTP_500", 3}} {
		recs := readDLQ(t, a.Bus(), c.consumer, len(ids))
		for _, r := range recs {
			if r.Reason != c.reason || r.Attempts != c.attempts || r.ErrorCode != c.code || r.ErrorMessage == "" || r.Rule != "order-created" {
				t.Errorf("%s DLQ record: %+v", c.consumer, r)
			}
		}
	}
}

func readDLQ(t *testing.T, b bus.Bus, consumer string, n int) []event.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Consume(ctx, bus.DLQTopic(consumer), bus.ConsumeOptions{Durable: "test-" + consumer})
	if err != nil {
		t.Fatal(err)
	}
	var out []event.DeadLetter
	timeout := time.After(15 * time.Second)
	for len(out) < n {
		select {
		case m := <-ch:
			var d event.DeadLetter
			if err := json.Unmarshal(m.Payload, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
			m.Ack()
		case <-timeout:
			t.Fatalf("%s: %d DLQ records, want %d", consumer, len(out), n)
		}
	}
	return out
}

// TestReload swaps rules and consumers in; a broken config is refused and
// the running one stays.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := orderConfig(t, dir, config.BusMemory, "")
	a := startApp(t, path)

	b, _ := os.ReadFile(path)
	next := bytes.Replace(b, []byte("targets: [vip-alerts]"), []byte("targets: [vip-alerts, audit]"), 1)
	next = append(next, []byte(fmt.Sprintf("  audit:\n    sink: {type: file, path: %s/audit.jsonl}\n", dir))...)
	os.WriteFile(path, next, 0o644)
	if err := a.ReloadFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := putEvents(t, a.Addr(), order(5000))
	waitFor(t, "audit consumer", 10*time.Second, func() bool { return len(testkit.ReadIDs(t, filepath.Join(dir, "audit.jsonl"))) == 1 })
	if got := testkit.ReadIDs(t, filepath.Join(dir, "audit.jsonl")); got[0] != ids[0] {
		t.Errorf("audit got %v", got)
	}

	bad := bytes.Replace(next, []byte(`">=", 1000`), []byte(`">=", "many"`), 1)
	os.WriteFile(path, bad, 0o644)
	if err := a.ReloadFile(context.Background()); err == nil || !strings.Contains(err.Error(), "rules[1].pattern") {
		t.Fatalf("bad reload error = %v, want one naming rules[1].pattern", err)
	}
	if m := metricsText(t, a.Addr()); !strings.Contains(m, "eventrouter_config_last_reload_successful 0") {
		t.Error("reload gauge not 0 after a failed reload")
	}
	// A file emptied by mistake would drop every rule if taken as the defaults.
	os.WriteFile(path, []byte("# emptied by mistake\n"), 0o644)
	if err := a.ReloadFile(context.Background()); err == nil || !strings.Contains(err.Error(), "holds no settings") {
		t.Fatalf("empty file reload error = %v, want one saying it holds no settings", err)
	}
	ids = putEvents(t, a.Addr(), order(7000))
	waitFor(t, "old config still routes", 10*time.Second, func() bool { return len(testkit.ReadIDs(t, filepath.Join(dir, "audit.jsonl"))) == 2 })
}

// TestSNSSignatureSettings checks that http.sns reaches POST /v1/s3, on
// start and on reload: signatures checked by default, cert_hosts trusted,
// verify_signatures: false turning the check off, topics limiting the
// topics taken. No certificate is ever
// fetched from beyond this machine.
func TestSNSSignatureSettings(t *testing.T) {
	dir := t.TempDir()
	path := orderConfig(t, dir, config.BusMemory, "")
	a := startApp(t, path)
	record := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventTime":"2026-11-28T06:21:54.318Z","eventName":"ObjectCreated:Put",` +
		`"s3":{"bucket":{"name":"photos"},"object":{"key":"uploads/cat.jpg","size":1024,"sequencer":"0055AED6DCD90281E5"}}}]}`
	envelope := func(signature, certURL string) string {
		b, _ := json.Marshal(map[string]string{
			"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:photos",
			"Timestamp": "2026-11-28T06:21:54.512Z", "Message": record,
			"SignatureVersion": "2", "Signature": signature, "SigningCertURL": certURL,
		})
		return string(b)
	}
	post := func(body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/v1/s3", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
		req.Header.Set("X-Amz-Sns-Message-Type", "Notification")
		status, b := send(t, req)
		return status, string(b)
	}
	original, _ := os.ReadFile(path)
	reload := func(sns string) {
		t.Helper()
		b := bytes.Replace(original, []byte("  listen: 127.0.0.1:0\n"), []byte("  listen: 127.0.0.1:0\n  sns: "+sns+"\n"), 1)
		os.WriteFile(path, b, 0o644)
		if err := a.ReloadFile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Port 1 on this machine: nothing listens, so a fetch fails at once.
	local := envelope("c2ln", "https://127.0.0.1:1/SimpleNotificationService-x.pem")

	if code, body := post(envelope("", "")); code != 403 || !strings.Contains(body, "SNS signature: the message has no Signature") {
		t.Errorf("unsigned, by default: %d %s", code, body)
	}
	if code, body := post(local); code != 403 || !strings.Contains(body, `host \"127.0.0.1\" is not an SNS host`) {
		t.Errorf("certificate on an untrusted host: %d %s", code, body)
	}
	reload("{cert_hosts: [127.0.0.1]}")
	if code, body := post(local); code != 503 || !strings.Contains(body, "SNS signature: cannot get the signing certificate from 127.0.0.1:1") {
		t.Errorf("certificate on a cert_hosts host: %d %s", code, body)
	}
	reload("{verify_signatures: false}")
	if code, body := post(envelope("", "")); code != 200 {
		t.Errorf("unsigned, verify_signatures false: %d %s", code, body)
	}
	reload(`{verify_signatures: false, topics: ["arn:aws:sns:eu-west-1:123456789012:orders"]}`)
	if code, body := post(envelope("", "")); code != 403 || !strings.Contains(body, "is not in http.sns.topics") {
		t.Errorf("a topic not in topics: %d %s", code, body)
	}
}

// TestUncheckedSNSWarned: with SNS signatures off and no http.auth, the
// start says that anyone can send notifications; with http.auth, it does not.
func TestUncheckedSNSWarned(t *testing.T) {
	const warning = "SNS signatures are not checked"
	for _, withAuth := range []bool{false, true} {
		dir := t.TempDir()
		path := orderConfig(t, dir, config.BusMemory, "")
		b, _ := os.ReadFile(path)
		http := "  listen: 127.0.0.1:0\n  sns: {verify_signatures: false}\n"
		if withAuth {
			http += "  auth: {api_keys: [{name: ci, sha256: " + strings.Repeat("ab", 32) + ", scopes: [ingest]}]}\n"
		}
		os.WriteFile(path, bytes.Replace(b, []byte("  listen: 127.0.0.1:0\n"), []byte(http), 1), 0o644)
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		var logs testkit.Buffer
		a := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		a.Stop(context.Background())
		if got := strings.Contains(logs.String(), warning); got == withAuth {
			t.Errorf("with http.auth %v: warned %v:\n%s", withAuth, got, logs.String())
		}
	}
}

// TestReadyAndHealth checks the probes.
func TestReadyAndHealth(t *testing.T) {
	a := startApp(t, orderConfig(t, t.TempDir(), config.BusMemory, ""))
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + a.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d", p, resp.StatusCode)
		}
	}
}

// TestExampleConfigStarts starts routerd on config.example.yaml as the
// README tells a newcomer to, in a scratch directory.
func TestExampleConfigStarts(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	t.Chdir(dir)
	defer os.Chdir(wd)
	if err := os.WriteFile("config.example.yaml", src, 0o644); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(wd, "../schemas/order-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("schemas", 0o755)
	if err := os.WriteFile("schemas/order-created.json", schema, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Bus.NATS.Listen = "127.0.0.1:0"
	a := New(cfg, Options{})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := putEvents(t, a.Addr(), order(1500))
	// The example's schema refuses an order without its customer and items.
	resp, err := http.Post("http://"+a.Addr()+"/v1/events", "application/json", strings.NewReader(
		`{"source":"orders.service","detail-type":"OrderCreated","detail":{"orderId":"o-2","total":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "customerId: required") {
		t.Errorf("invalid order: %d %s", resp.StatusCode, body)
	}
	waitFor(t, "an order in every consumer", 10*time.Second, func() bool {
		m := metricsText(t, a.Addr())
		return strings.Count(m, `result="success"} 1`) >= 4
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_ = ids
}

// TestDLQAdmin lists dead letters, replays them once the endpoint is fixed,
// and purges another consumer's.
func TestDLQAdmin(t *testing.T) {
	dir := t.TempDir()
	var fixed atomic.Bool
	got := make(chan string, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			http.Error(w, "no such hook", http.StatusNotFound)
			return
		}
		got <- r.Header.Get("Idempotency-Key")
	}))
	defer hook.Close()
	extra := fmt.Sprintf("  hook:\n    sink: {type: http, url: %s}\n", hook.URL)
	path := orderConfig(t, dir, config.BusNATSEmbedded, extra)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("targets: [vip-alerts]"), []byte("targets: [vip-alerts, hook]"), 1), 0o644)
	a := startApp(t, path)
	ids := putEvents(t, a.Addr(), order(1000), order(2000), order(3000))

	var list DLQList
	waitFor(t, "3 dead letters", 15*time.Second, func() bool {
		list = DLQList{}
		adminCall(t, "GET", "http://"+a.Addr()+"/admin/dlq/hook", &list)
		return list.Total == 3
	})
	var rec event.DeadLetter
	if err := json.Unmarshal(list.Entries[0].Record, &rec); err != nil || rec.ErrorCode != "HTTP_404" || rec.Consumer != "hook" {
		t.Fatalf("record %s (%v)", list.Entries[0].Record, err)
	}
	if m := metricsText(t, a.Addr()); !strings.Contains(m, `eventrouter_dlq_depth_events{consumer="hook"} 3`) ||
		!strings.Contains(m, `eventrouter_consumer_backlog_events{consumer="hook"} 0`) {
		t.Error("metrics lack the DLQ depth 3 and backlog 0 of consumer hook")
	}

	fixed.Store(true)
	var rep struct{ Replayed int }
	adminCall(t, "POST", "http://"+a.Addr()+"/admin/dlq/hook/replay", &rep)
	if rep.Replayed != 3 {
		t.Fatalf("replayed %d", rep.Replayed)
	}
	seen := map[string]bool{}
	for len(seen) < 3 {
		select {
		case id := <-got:
			seen[id] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("replayed events arrived: %v", seen)
		}
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("event %s not replayed (Idempotency-Key keeps the event id)", id)
		}
	}
	list = DLQList{}
	adminCall(t, "GET", "http://"+a.Addr()+"/admin/dlq/hook", &list)
	if list.Total != 0 {
		t.Errorf("DLQ holds %d after replay", list.Total)
	}
	var purge struct{ Purged int }
	adminCall(t, "DELETE", "http://"+a.Addr()+"/admin/dlq/inventory", &purge)
	if resp, _ := http.Get("http://" + a.Addr() + "/admin/dlq/nobody"); resp == nil || resp.StatusCode != 404 {
		t.Error("unknown consumer not 404")
	}
}

func adminCall(t *testing.T, method, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// TestAuthAndReloadedKeys checks the front door with API keys: ingest and
// admin scopes, and a key added by reload.
func TestAuthAndReloadedKeys(t *testing.T) {
	dir := t.TempDir()
	sum := func(k string) string { h := sha256.Sum256([]byte(k)); return hex.EncodeToString(h[:]) }
	auth := fmt.Sprintf(`
  auth:
    api_keys:
      - {name: shop, sha256: %q, scopes: [ingest]}
      - {name: ops, sha256: %q, scopes: [admin]}
`, sum("shop-key"), sum("ops-key"))
	path := orderConfig(t, dir, config.BusMemory, "")
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("  listen: 127.0.0.1:0\n"), []byte("  listen: 127.0.0.1:0"+auth), 1)
	os.WriteFile(path, b, 0o644)
	a := startApp(t, path)

	post := func(key string) int {
		req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/v1/events", strings.NewReader(`{"source":"s","detail-type":"d","detail":{}}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	admin := func(key string) int {
		req, _ := http.NewRequest("GET", "http://"+a.Addr()+"/admin/dlq/inventory", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != 401 {
		t.Errorf("no key: %d", got)
	}
	if got := post("wrong"); got != 401 {
		t.Errorf("wrong key: %d", got)
	}
	if got := post("shop-key"); got != 200 {
		t.Errorf("ingest key: %d", got)
	}
	if got := admin("shop-key"); got != 403 {
		t.Errorf("ingest key on admin: %d", got)
	}
	if got := admin("ops-key"); got != 200 {
		t.Errorf("admin key on admin: %d", got)
	}
	if resp, err := http.Get("http://" + a.Addr() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz needs no key: %v", resp)
	}

	b = bytes.Replace(b, []byte("scopes: [ingest]}"), []byte("scopes: [ingest]}\n      - {name: new, sha256: \""+sum("new-key")+"\", scopes: [ingest]}"), 1)
	os.WriteFile(path, b, 0o644)
	if err := a.ReloadFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := post("new-key"); got != 200 {
		t.Errorf("key added by reload: %d", got)
	}
}

// TestTLS serves HTTPS when http.tls names a certificate and key.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	cert := srv.TLS.Certificates[0]
	srv.Close()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600)
	path := orderConfig(t, dir, config.BusMemory, "")
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("  listen: 127.0.0.1:0\n"), []byte(fmt.Sprintf("  listen: 127.0.0.1:0\n  tls: {cert_file: %s/tls.crt, key_file: %s/tls.key}\n", dir, dir)), 1)
	os.WriteFile(path, b, 0o644)
	a := startApp(t, path)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + a.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("https readyz: %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := http.Get("http://" + a.Addr() + "/readyz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP served on a TLS listener")
	}
}

// TestDLQOfRemovedConsumer checks that the dead letters of a consumer a
// reload removed can still be listed and purged, and that replaying them,
// with nowhere to go, is refused in words.
func TestDLQOfRemovedConsumer(t *testing.T) {
	dir := t.TempDir()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound) // straight to the DLQ
	}))
	defer hook.Close()
	path := orderConfig(t, dir, config.BusMemory, fmt.Sprintf("  hook:\n    sink: {type: http, url: %s}\n", hook.URL))
	withHook, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(withHook, []byte("targets: [vip-alerts]"), []byte("targets: [vip-alerts, hook]"), 1), 0o644)
	a := startApp(t, path)
	putEvents(t, a.Addr(), order(1000))
	url := "http://" + a.Addr() + "/admin/dlq/hook"
	var list DLQList
	waitFor(t, "a dead letter", 10*time.Second, func() bool {
		list = DLQList{}
		adminCall(t, "GET", url, &list)
		return list.Total == 1
	})

	os.WriteFile(path, withHook[:bytes.Index(withHook, []byte("  hook:"))], 0o644)
	if err := a.ReloadFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	list = DLQList{}
	adminCall(t, "GET", url, &list)
	if list.Total != 1 || len(list.Entries) != 1 {
		t.Fatalf("removed consumer's DLQ lists %+v, want its dead letter", list)
	}
	resp, err := http.Post(url+"/replay", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "no longer configured") {
		t.Errorf("replay of a removed consumer: %d %s", resp.StatusCode, body)
	}
	var purge struct{ Purged int }
	adminCall(t, "DELETE", url, &purge)
	if purge.Purged != 1 {
		t.Errorf("purged %d, want 1", purge.Purged)
	}
	for _, u := range []string{url, "http://" + a.Addr() + "/admin/dlq/a.*"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", u, resp.Status)
		}
	}
}
