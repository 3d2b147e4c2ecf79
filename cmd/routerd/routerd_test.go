package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/testkit"
)

// binary is routerd built once for the tests that run it as a process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "routerd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "routerd")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeConfig(t *testing.T, dir, addr string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
http:
  listen: %s
bus:
  type: nats-embedded
  data_dir: %s/data
  nats: {listen: ""}
rules:
  - name: order-created
    pattern: {source: [orders.service], detail-type: [OrderCreated]}
    targets: [inventory, notification, analytics]
  - name: order-created-vip
    pattern: {source: [orders.service], detail-type: [OrderCreated], detail: {total: [{numeric: [">=", 1000]}]}}
    targets: [vip-alerts]
consumers:
  inventory: {sink: {type: file, path: %s/out/inventory.jsonl}}
  notification: {sink: {type: file, path: %s/out/notification.jsonl}}
  analytics: {sink: {type: file, path: %s/out/analytics.jsonl}}
  vip-alerts: {sink: {type: file, path: %s/out/vip.jsonl}}
`, addr, dir, dir, dir, dir, dir)
	path := filepath.Join(dir, "routerd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// daemon is one routerd process.
type daemon struct {
	cmd  *exec.Cmd
	log  *testkit.Buffer
	done chan error
}

func startDaemon(t *testing.T, cfg, addr string) *daemon {
	t.Helper()
	d := spawn(t, cfg)
	d.waitReady(t, addr, 30*time.Second)
	return d
}

// spawn starts routerd on cfg, killed when the test ends if still running.
func spawn(t *testing.T, cfg string) *daemon {
	t.Helper()
	log := &testkit.Buffer{}
	cmd := exec.Command(binary, "--config", cfg)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// waitReady waits up to timeout for d's /readyz at addr to answer 200.
func (d *daemon) waitReady(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-d.done:
			t.Fatalf("routerd exited during start: %v\n%s", err, d.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("routerd not ready after %s\n%s", timeout, d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sender sends PutEvents batches, to each of addrs in turn, and remembers
// every event id routerd acknowledged, with whether it is a VIP order.
type sender struct {
	addrs []string
	mu    sync.Mutex
	acked map[string]bool // id → vip
	n     int
}

func (s *sender) send() error {
	var entries []map[string]any
	addr := s.addrs[s.n/10%len(s.addrs)]
	for i := 0; i < 10; i++ {
		s.n++
		total := (s.n * 37) % 2000
		entries = append(entries, map[string]any{
			"Source": "orders.service", "DetailType": "OrderCreated",
			"Detail": fmt.Sprintf(`{"orderId":"o-%d","total":%d}`, s.n, total),
		})
	}
	body, _ := json.Marshal(map[string]any{"Entries": entries})
	req, _ := http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	var out struct {
		FailedEntryCount int
		Entries          []struct{ EventId string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range out.Entries {
		if e.EventId != "" {
			var d struct{ Total int }
			json.Unmarshal([]byte(entries[i]["Detail"].(string)), &d)
			s.acked[e.EventId] = d.Total >= 1000
		}
	}
	return nil
}

// keepSending sends batches in the background until the returned stop is
// called, which returns how many requests failed.
func (s *sender) keepSending() (stop func() (failed int)) {
	done := make(chan struct{})
	failures := make(chan int)
	go func() {
		failed := 0
		for {
			select {
			case <-done:
				failures <- failed
				return
			default:
			}
			if err := s.send(); err != nil {
				failed++
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	return func() int {
		close(done)
		return <-failures
	}
}

// countIDs counts the event ids in a file sink's file, up to its last
// complete line.
func countIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, id := range testkit.ReadIDs(t, path) {
		out[id]++
	}
	return out
}

// consumerFiles are the files of the consumers of writeConfig's order flow
// (under out/), each with whether only VIP orders reach it.
var consumerFiles = map[string]bool{"inventory": false, "notification": false, "analytics": false, "vip": true}

// waitDelivered waits until every acknowledged event is in the file of
// each consumer its rules name, in the out/ folder of any of dirs (the
// nodes of a cluster each write their own), and returns each consumer's
// duplicates. log gives routerd's output for a failure.
func waitDelivered(t *testing.T, acked map[string]bool, timeout time.Duration, log func() string, dirs ...string) map[string]int {
	t.Helper()
	dups := map[string]int{}
	deadline := time.Now().Add(timeout)
	for name, vipOnly := range consumerFiles {
		for {
			got := map[string]int{}
			for _, dir := range dirs {
				for id, n := range countIDs(t, filepath.Join(dir, "out", name+".jsonl")) {
					got[id] += n
				}
			}
			var missing []string
			for id, vip := range acked {
				if (!vipOnly || vip) && got[id] == 0 {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				for _, n := range got {
					dups[name] += n - 1
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d acknowledged events never delivered, e.g. %s\nlog:\n%s", name, len(missing), missing[0], tail(log(), 3000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return dups
}

// TestKill9LosesNothing sends events, kills routerd with SIGKILL while it
// works, restarts it on the same data directory and checks that every event
// acknowledged to the client reached every consumer whose rule matched.
// Duplicates are allowed (at-least-once) and reported.
func TestKill9LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts routerd processes")
	}
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	cfg := writeConfig(t, dir, addr)
	s := &sender{addrs: []string{addr}, acked: map[string]bool{}}

	d := startDaemon(t, cfg, addr)
	stop := s.keepSending() // through the crash
	time.Sleep(700 * time.Millisecond)
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	s.mu.Lock()
	before := len(s.acked)
	s.mu.Unlock()

	d = startDaemon(t, cfg, addr)
	time.Sleep(500 * time.Millisecond)
	sendErrs := stop()
	s.mu.Lock()
	acked := s.acked
	s.mu.Unlock()
	if before == 0 || len(acked) <= before {
		t.Fatalf("sent %d events before the kill and %d in all: not a meaningful run", before, len(acked))
	}
	t.Logf("%d events acknowledged (%d before the kill); %d requests failed around it", len(acked), before, sendErrs)

	for name, dups := range waitDelivered(t, acked, 90*time.Second, d.log.String, dir) {
		t.Logf("%s: all expected events delivered, %d duplicates", name, dups)
	}

	// A clean stop on SIGTERM.
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("routerd exited with %v on SIGTERM\n%s", err, tail(d.log.String(), 2000))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("routerd did not stop within 30s of SIGTERM")
	}
}

// TestSIGHUPReloads edits the config of a running routerd and sends SIGHUP.
func TestSIGHUPReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts routerd processes")
	}
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	cfg := writeConfig(t, dir, addr)
	d := startDaemon(t, cfg, addr)
	waitLog(t, d, `msg="routerd started" config=`+cfg)

	b, _ := os.ReadFile(cfg)
	b = bytes.Replace(b, []byte("targets: [vip-alerts]"), []byte("targets: [vip-alerts, audit]"), 1)
	b = append(b, []byte(fmt.Sprintf("  audit: {sink: {type: file, path: %s/out/audit.jsonl}}\n", dir))...)
	os.WriteFile(cfg, b, 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, d, "configuration reloaded")

	s := &sender{addrs: []string{addr}, acked: map[string]bool{}}
	for len(s.acked) < 10 || !anyVIP(s.acked) {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "out", "audit.jsonl")
	deadline := time.Now().Add(20 * time.Second)
	for len(countIDs(t, path)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("audit consumer added by SIGHUP got nothing\n%s", tail(d.log.String(), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}

	os.WriteFile(cfg, []byte("rules: [{name: x}]\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, d, "reload failed; keeping the running configuration")
}

func anyVIP(m map[string]bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

func waitLog(t *testing.T, d *daemon, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", text, tail(d.log.String(), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestBadConfigExits2 checks that an invalid config is refused at start
// with the key path.
func TestBadConfigExits2(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte("rules:\n  - name: r\n    pattern: {a: [{numeric: [\">\", 5, \"<\", 1]}]}\n    targets: [nobody]\n"), 0o644)
	cmd := exec.Command(binary, "--config", path)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2\n%s", err, out)
	}
	for _, want := range []string{"rules[0].pattern", "rules[0].targets[0]"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestUsage checks the command line: a config path given without --config
// is refused rather than ignored, and --help is not an error.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routerd.yaml")
	os.WriteFile(path, []byte("bus: {type: memory}\nhttp: {listen: 127.0.0.1:0}\n"), 0o644)
	// Should routerd start on the defaults instead, it is killed after 10s.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("routerd %s: exit = %v, want 2\n%s", path, err, out)
	}
	if !strings.Contains(string(out), "unexpected argument") || !strings.Contains(string(out), "--config FILE") {
		t.Errorf("positional argument: output lacks the reason and usage:\n%s", out)
	}
	out, err = exec.Command(binary, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "usage: routerd") {
		t.Errorf("routerd --help: %v\n%s", err, out)
	}
}

// TestSinkAndSchemaErrorsExit2 checks that problems found by the sinks and
// schemas are config errors like the others: all of them, in file order,
// after the file's name, on stderr, exit 2, before the bus is opened.
func TestSinkAndSchemaErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`
bus: {type: nats-embedded, data_dir: %s/data, nats: {listen: ""}}
schemas:
  - {source: a, detail-type: b, schema_file: missing.json}
consumers:
  c3: {sink: {type: nats}}
  c1: {sink: {type: http}}
  c2: {sink: {type: file, path: %s/blocker/x.jsonl}}
`, dir, dir)), 0o644)
	os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644)
	cmd := exec.Command(binary, "--config", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	var order []string
	for line := range strings.Lines(stderr.String()) {
		if p, _, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(p, "routerd") {
			order = append(order, p)
		}
	}
	want := []string{"schemas[0]", "consumers.c1.sink", "consumers.c2.sink.path", "consumers.c3.sink"}
	if !strings.HasPrefix(stderr.String(), "routerd: config: "+path+": 4 problems:\n") || fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("stderr lists %v, want the file then %v:\n%s", order, want, &stderr)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout: %s", &stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the bus was opened (data_dir exists: %v)", err)
	}
}
