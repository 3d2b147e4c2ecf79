// Package testkit holds the helpers that the tests of several packages
// share: loopback addresses with a free port, a buffer safe to read while
// another goroutine or process writes to it, the event ids a file sink
// wrote, and a CA for cluster TLS.
package testkit

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"sync"
	"testing"
)

// FreeAddr returns a loopback address whose port was free a moment ago,
// for a listener that must be known before it opens (a cluster's routes,
// a child process's config).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return FreeAddrs(t, 1)[0]
}

// FreeAddrs returns n distinct such addresses.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs
}

// Buffer collects what is written to it (a log, a process's output) and
// may be read meanwhile.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ReadIDs returns the event ids in a file sink's JSON Lines file, up to its
// last complete line: a sink may be writing the next one (a large event,
// or a batch, is more than one write). Any complete line that is not an
// event fails the test.
func ReadIDs(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range bytes.Lines(b) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break // still being written
		}
		var e struct{ ID string }
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: torn or invalid line %.200q: %v", path, line, err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}
