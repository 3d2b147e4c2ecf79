package filesink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/sinktest"
)

func newSink(t testing.TB, path string) *Sink {
	t.Helper()
	s, err := New("archive", sinks.Spec{"path": path}, sinks.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Sink)
}

// readLines returns the file's lines; a missing file has none.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("file does not end with a newline: %q", b[max(0, len(b)-40):])
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 2<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sinks.Sink, sinktest.Received) {
		path := filepath.Join(t.TempDir(), "events.jsonl")
		return newSink(t, path), func() []event.Delivery {
			var got []event.Delivery
			for _, l := range readLines(t, path) {
				got = append(got, event.Delivery{Event: l})
			}
			return got
		}
	})
}

func TestLinesAreJSONAndSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "events.jsonl")
	s := newSink(t, path)
	for i := range 3 {
		if err := s.Send(context.Background(), sinktest.Delivery(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o600 != 0o600 || perm&0o133 != 0 {
		t.Errorf("file mode %v, want 0644 less the umask", perm)
	}

	s = newSink(t, path)
	if err := s.Send(context.Background(), sinktest.Delivery(3)); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 4 {
		t.Fatalf("%d lines after reopen, want 4 (appended, not truncated)", len(lines))
	}
	for i, l := range lines {
		var env event.Envelope
		if err := json.Unmarshal(l, &env); err != nil {
			t.Errorf("line %d is not JSON: %v", i+1, err)
		}
		if !bytes.Equal(l, sinktest.Delivery(i).Event) {
			t.Errorf("line %d = %s, want %s", i+1, l, sinktest.Delivery(i).Event)
		}
	}
}

func TestMultilineEventBecomesOneLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := newSink(t, path)
	d := sinktest.Delivery(1)
	var pretty bytes.Buffer
	json.Indent(&pretty, d.Event, "", "  ")
	d.Event = pretty.Bytes()
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 1 || !bytes.Equal(lines[0], sinktest.Delivery(1).Event) {
		t.Fatalf("got %q, want the compact envelope on one line", lines)
	}
}

func TestInvalidEventIsPermanent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := newSink(t, path)
	err := s.Send(context.Background(), event.Delivery{Event: []byte(`{"id":`), ID: "x"})
	if !sinks.IsPermanent(err) || sinks.CodeOf(err) != "INVALID_EVENT" {
		t.Fatalf("err = %v, want permanent INVALID_EVENT", err)
	}
	if n := len(readLines(t, path)); n != 0 {
		t.Fatalf("%d lines written, want 0", n)
	}
}

// A batch is one commit; an event in it that is not JSON fails alone.
func TestSendBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := newSink(t, path)
	ds := []event.Delivery{
		{Event: []byte(`{"id":"a"}`), ID: "a"},
		{Event: []byte(`{"id":`), ID: "bad"},
		{Event: []byte("{\"id\":\n\"c\"}"), ID: "c"},
	}
	errs := s.SendBatch(context.Background(), ds)
	if len(errs) != 3 || errs[0] != nil || errs[2] != nil || sinks.CodeOf(errs[1]) != "INVALID_EVENT" || !sinks.IsPermanent(errs[1]) {
		t.Fatalf("errs = %v, want only the second to fail, permanently", errs)
	}
	lines := readLines(t, path)
	if len(lines) != 2 || string(lines[0]) != `{"id":"a"}` || string(lines[1]) != `{"id":"c"}` {
		t.Fatalf("lines %q", lines)
	}
	if s.commits != 1 {
		t.Errorf("%d commits for one batch, want 1", s.commits)
	}
	if errs := s.SendBatch(context.Background(), ds[:1]); errs != nil {
		t.Errorf("a good batch: %v", errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if errs := s.SendBatch(ctx, ds[:1]); len(errs) != 1 || errs[0] == nil || sinks.IsPermanent(errs[0]) {
		t.Errorf("cancelled batch: %v, want a retryable error", errs)
	}
}

func TestReopensAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	s := newSink(t, path)
	if err := s.Send(context.Background(), sinktest.Delivery(1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), sinktest.Delivery(2)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), sinktest.Delivery(3)); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path+".1")); n != 1 {
		t.Errorf("rotated file has %d lines, want 1", n)
	}
	lines := readLines(t, path)
	if len(lines) != 1 || !bytes.Equal(lines[0], sinktest.Delivery(3).Event) {
		t.Errorf("new file has %q, want event 3 alone", lines)
	}
}

// TestGroupCommit checks that concurrent Sends share fsyncs.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := newSink(t, path)
	const n = 400
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := g; i < n; i += 64 {
				if err := s.Send(context.Background(), sinktest.Delivery(i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	if got := len(readLines(t, path)); got != n {
		t.Fatalf("%d lines, want %d", got, n)
	}
	if s.commits >= n {
		t.Errorf("%d fsyncs for %d concurrent sends: no group commit", s.commits, n)
	}
	t.Logf("%d sends, %d fsyncs", n, s.commits)
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	for _, tc := range []struct {
		spec sinks.Spec
		want string
	}{
		{sinks.Spec{}, `missing required key "path"`},
		{sinks.Spec{"path": ""}, `missing required key "path"`},
		{sinks.Spec{"path": "x", "mode": "0600"}, `unknown key "mode"`},
		{sinks.Spec{"path": 5}, "key path: expected string"},
		{sinks.Spec{"path": filepath.Join(blocker, "events.jsonl")}, "not a directory"},
		{sinks.Spec{"path": dir}, "is a directory"},
		{sinks.Spec{"path": "x", "commit_interval": "-1ms"}, "commit_interval: must be 0 to 1s"},
		{sinks.Spec{"path": "x", "commit_interval": "2s"}, "commit_interval: must be 0 to 1s"},
		{sinks.Spec{"path": "x", "commit_interval": "soon"}, "commit_interval"},
	} {
		_, err := New("c", tc.spec, sinks.Deps{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
	// Validate refuses what New would, and creates nothing.
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(blocker, "events.jsonl"), "is not a directory"},
		{filepath.Join(blocker, "sub", "events.jsonl"), "not a directory"},
		{dir, "is a directory"},
		{"/proc/nonexist/x.jsonl", "/proc: a pseudo file system"},
	} {
		if strings.HasPrefix(tc.path, "/proc/") && runtime.GOOS != "linux" {
			continue
		}
		if err := Validate(sinks.Spec{"path": tc.path}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%s) = %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
	later := filepath.Join(dir, "later", "events.jsonl")
	if err := Validate(sinks.Spec{"path": later}); err != nil {
		t.Errorf("Validate(%s): %v", later, err)
	}
	if _, err := os.Stat(filepath.Dir(later)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Validate created %s (%v)", filepath.Dir(later), err)
	}
	for spec, want := range map[string]time.Duration{"": DefaultCommitInterval, "0s": 0, "5ms": 5 * time.Millisecond} {
		sp := sinks.Spec{"path": filepath.Join(dir, "ok.jsonl")}
		if spec != "" {
			sp["commit_interval"] = spec
		}
		s, err := New("c", sp, sinks.Deps{})
		if err != nil {
			t.Fatalf("New(%v): %v", sp, err)
		}
		if got := s.(*Sink).interval; got != want {
			t.Errorf("commit_interval %q: interval %v, want %v", spec, got, want)
		}
		s.Close()
	}
}

// naive is the obvious file sink, for comparison: every Send writes and
// fsyncs under one mutex.
type naive struct {
	mu sync.Mutex
	f  *os.File
}

func (n *naive) Send(_ context.Context, d event.Delivery) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.f.Write(append(d.Event, '\n')); err != nil {
		return err
	}
	return n.f.Sync()
}

// BenchmarkSend measures the file sink against the naive one with 1, 16
// and 64 concurrent senders (a consumer's concurrency).
func BenchmarkSend(b *testing.B) {
	d := sinktest.Delivery(1)
	for _, senders := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("group/senders=%d", senders), func(b *testing.B) {
			s := newSink(b, filepath.Join(b.TempDir(), "events.jsonl"))
			run(b, senders, func() error { return s.Send(context.Background(), d) })
		})
		b.Run(fmt.Sprintf("naive/senders=%d", senders), func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "events.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			n := &naive{f: f}
			run(b, senders, func() error { return n.Send(context.Background(), d) })
		})
	}
}

func run(b *testing.B, senders int, send func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := g; i < b.N; i += senders {
				if err := send(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFailedWriteCutsOnlyItsOwn has a write fail half-way (a full disk)
// while another sink appends to the same file, as the sinks of routerd
// nodes sharing an output path do, or the old and new sink of a reload:
// cutting the half-written batch back off must keep the other sink's
// line (it cut the file back to its size before the failed write, and with
// it whatever the other sink had appended and acknowledged meanwhile).
func TestFailedWriteCutsOnlyItsOwn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.jsonl")
	a, b := newSink(t, path), newSink(t, path)
	other := make(chan error, 1)
	saved := writeFile
	defer func() { writeFile = saved }()
	writeFile = func(f *os.File, p []byte) (int, error) {
		if !bytes.Contains(p, []byte(`"a-1"`)) {
			return saved(f, p)
		}
		// Meanwhile the other sink appends its line; while this write holds
		// the file, it waits for it.
		go func() {
			other <- b.Send(context.Background(), event.Delivery{ID: "b-1", Event: []byte(`{"id":"b-1"}`)})
		}()
		select {
		case err := <-other:
			other <- err
		case <-time.After(300 * time.Millisecond):
		}
		n, _ := saved(f, p[:len(p)/2])
		return n, errors.New("no space left on device")
	}
	if err := a.Send(context.Background(), event.Delivery{ID: "a-1", Event: []byte(`{"id":"a-1"}`)}); err == nil {
		t.Fatal("the failed write was reported as done")
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 1 || string(lines[0]) != `{"id":"b-1"}` {
		t.Errorf("file holds %q, want the other sink's line alone", lines)
	}
}
