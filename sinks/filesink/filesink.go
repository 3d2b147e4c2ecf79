// Package filesink appends events to a file as JSON Lines, one envelope per
// line, and returns from Send only once the line is on disk (fsync).
//
// fsync costs milliseconds, and a consumer runs many deliveries at once, so
// the sink commits in groups: concurrent Sends append their lines to one
// pending batch, and a single writer goroutine writes each batch with one
// write and one fsync, then wakes every Send in it. Under load the batch
// grows and the cost per event falls; alone, a Send pays one fsync as
// before (see BenchmarkSend). Commits of one file also begin at least
// commit_interval apart (DefaultCommitInterval, 2 ms): a line that comes
// right after a commit waits up to that long for company. So a lone caller
// sending one line after another gets about 1/commit_interval lines a
// second; routerd's consumers hand the sink the events at hand together
// (SendBatch) and are not held back.
//
// The file is opened with O_APPEND, so other writers (or a second sink
// during a reload, or the sink of another routerd on the same machine)
// never overwrite it, and each batch is written under the file's lock, so
// that a failed write cut back off never takes another sink's lines with
// it. It is reopened when it is renamed or removed, so logrotate's default
// "create" mode works.
package filesink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
)

// Type is the sink's name in config (consumers.<name>.sink.type).
const Type = "file"

// Config is the file sink's keys.
type Config struct {
	Path string `json:"path"`
	// CommitInterval spaces commits under load (see Sink); 0 commits as
	// soon as the last one is done. Default DefaultCommitInterval.
	CommitInterval *sinks.Duration `json:"commit_interval"`
}

// DefaultCommitInterval is the least time between the starts of two
// commits of one file while lines keep coming. With several files and the
// bus syncing on one disk, committing the moment the last sync returns
// keeps the disk busy with syncs of a line or two, and their queue sets the
// latency: in three pairs of end-to-end runs at 1,200 events/s, 2 ms
// between commits gave a latency-phase p99 of 23, 49 and 78 ms against 42,
// 64 and 160 ms, and peaks of 4,056–4,403 events/s against 2,608–2,881.
const DefaultCommitInterval = 2 * time.Millisecond

// Sink appends events to one file.
type Sink struct {
	path     string
	interval time.Duration // see Config.CommitInterval

	mu      sync.Mutex
	pending *batch // lines waiting for the writer; nil when none
	spare   []byte // a committed batch's buffer, for the next batch to fill
	closed  bool

	wake   chan struct{} // tells the writer there is a batch; capacity 1
	exited chan struct{} // closed when the writer has stopped

	f       *os.File // owned by the writer goroutine once New returns
	commits int      // batches synced, for tests; owned by the writer
}

var _ sinks.Sink = (*Sink)(nil)

// batch is the lines one write and one fsync commit together.
type batch struct {
	buf  []byte
	done chan struct{} // closed when err is set
	err  error
}

// Validate checks a file sink's keys, and that New could open the file,
// without creating or opening anything (see creatable).
func Validate(spec sinks.Spec) error {
	c, err := parse(spec)
	if err != nil {
		return err
	}
	if err := creatable(c.Path); err != nil {
		return fmt.Errorf("filesink: %w", &sinks.KeyError{Key: "path", Err: err})
	}
	return nil
}

// creatable reports why path could not be opened for appending, or be
// created with its missing directories, as far as looking can tell: the
// path or a part of it is not what it must be, or the nearest directory
// that exists refuses new entries (permission, a read-only or pseudo file
// system). It creates nothing, so a validated config leaves no trace.
func creatable(path string) error {
	// A part that is missing, or a file where a directory should be, means
	// look further up.
	absent := func(err error) bool { return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) }
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case err == nil:
		if err := canWrite(path); err != nil {
			return fmt.Errorf("cannot append to %w", err)
		}
		return nil
	case !absent(err):
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot create %s: %s is not a directory", path, dir)
		case err == nil:
			if err := canCreateIn(dir); err != nil {
				return fmt.Errorf("cannot create %s: %w", path, err)
			}
			return nil
		case !absent(err):
			return fmt.Errorf("cannot create %s: %w", path, err)
		case filepath.Dir(dir) == dir:
			return nil
		}
	}
}

func parse(spec sinks.Spec) (Config, error) {
	var c Config
	if err := sinks.Decode(spec, &c); err != nil {
		return c, fmt.Errorf("filesink: %w", err)
	}
	if c.Path == "" {
		return c, errors.New(`filesink: missing required key "path"`)
	}
	if c.CommitInterval != nil && (*c.CommitInterval < 0 || time.Duration(*c.CommitInterval) > time.Second) {
		return c, fmt.Errorf("filesink: %w", sinks.KeyErr("commit_interval", "must be 0 to 1s, got %v", time.Duration(*c.CommitInterval)))
	}
	c.Path = filepath.Clean(c.Path)
	return c, nil
}

// New opens (creating it and its directories if need be) the file for
// appending, so a path the router cannot write fails at start, not at the
// first event.
func New(name string, spec sinks.Spec, deps sinks.Deps) (sinks.Sink, error) {
	c, err := parse(spec)
	if err != nil {
		return nil, err
	}
	f, err := open(c.Path)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		path:     c.Path,
		interval: DefaultCommitInterval,
		f:        f,
		wake:     make(chan struct{}, 1),
		exited:   make(chan struct{}),
	}
	if c.CommitInterval != nil {
		s.interval = time.Duration(*c.CommitInterval)
	}
	go s.writer()
	return s, nil
}

func open(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("filesink: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filesink: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// A new file's name lives in its directory: sync that too, or a
		// power cut can lose the file with every line acknowledged in it.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return f, nil
}

// Send appends the event as one line and waits until it is synced. If ctx
// ends first Send returns its error, and the line may still be written:
// at least once, never silently dropped.
func (s *Sink) Send(ctx context.Context, d event.Delivery) error {
	if errs := s.SendBatch(ctx, []event.Delivery{d}); errs != nil {
		return errs[0]
	}
	return nil
}

var _ sinks.BatchSender = (*Sink)(nil)

// SendBatch appends the events, one line each, in the same commit, and
// waits until they are synced. An event that is not JSON fails alone.
func (s *Sink) SendBatch(ctx context.Context, ds []event.Delivery) []error {
	var errs []error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make([]error, len(ds))
		}
		errs[i] = err
	}
	if err := ctx.Err(); err != nil {
		for i := range ds {
			fail(i, ctxError(err))
		}
		return errs
	}
	var room [32][]byte // a consumer's batch (consumers.maxBatch): no allocation
	lines := room[:0]
	if len(ds) > len(room) {
		lines = make([][]byte, 0, len(ds))
	}
	lines = lines[:len(ds)]
	for i, d := range ds {
		ev := d.Event
		if !json.Valid(ev) {
			fail(i, sinks.Permanent(sinks.NewError("INVALID_EVENT", fmt.Sprintf("filesink: event %s is not valid JSON", d.ID), nil)))
			continue
		}
		if bytes.ContainsAny(ev, "\r\n") {
			// JSON Lines needs one line per record; newlines outside strings
			// are whitespace, so compacting removes them all.
			var c bytes.Buffer
			_ = json.Compact(&c, ev)
			ev = c.Bytes()
		}
		lines[i] = ev
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		for i := range ds {
			fail(i, ErrClosed)
		}
		return errs
	}
	b := s.pending
	if b == nil {
		b = &batch{buf: s.spare, done: make(chan struct{})}
		s.spare = nil
		s.pending = b
	}
	added := false
	for _, ev := range lines {
		if ev != nil {
			b.buf = append(b.buf, ev...)
			b.buf = append(b.buf, '\n')
			added = true
		}
	}
	s.mu.Unlock()
	if !added {
		return errs
	}

	select {
	case s.wake <- struct{}{}:
	default: // the writer is already told
	}
	var err error
	select {
	case <-b.done:
		err = b.err
	case <-ctx.Done():
		err = ctxError(ctx.Err())
	}
	if err != nil {
		for i, ev := range lines {
			if ev != nil {
				fail(i, err)
			}
		}
	}
	return errs
}

// Close waits for lines already accepted to be committed, then closes the
// file.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.exited
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("filesink: %w", err)
	}
	return nil
}

// writer commits batches one after another until the sink is closed and
// nothing is pending.
func (s *Sink) writer() {
	defer close(s.exited)
	var last time.Time // when the last commit began
	var free []byte    // the buffer of the batch committed last
	for {
		<-s.wake
		for {
			// A line that finds the last commit begun less than interval
			// ago waits for the rest of it, gathering company.
			if wait := s.interval - time.Since(last); wait > 0 {
				time.Sleep(wait)
			}
			s.mu.Lock()
			b, closed := s.pending, s.closed
			s.pending = nil
			if free != nil && s.spare == nil {
				// Two buffers take turns, so that under load batches stop
				// allocating: one fills while the other is written.
				s.spare, free = free[:0], nil
			}
			s.mu.Unlock()
			if b == nil {
				if closed {
					return
				}
				break
			}
			last = time.Now()
			b.err = s.commit(b.buf)
			close(b.done)
			if cap(b.buf) <= maxSpare {
				free, b.buf = b.buf, nil
			}
		}
	}
}

// maxSpare bounds the buffer kept for reuse, so that one burst's batch is
// not held for ever.
const maxSpare = 1 << 20

// commit writes buf and syncs it. A short write is cut back off, so a
// failed batch never leaves half a line for the next one to follow. Other
// writers may append to the file too (the sink of another routerd on the
// same file, or the one that replaces this sink on a reload): the write
// and its cutting back hold the file's lock (lockFile), so that what is cut
// off is this write's alone, never lines another sink appended meanwhile.
func (s *Sink) commit(buf []byte) error {
	if err := s.current(); err != nil {
		return sinks.NewError("FILE_OPEN_ERROR", err.Error(), err)
	}
	if err := lockFile(s.f); err != nil {
		return sinks.NewError("FILE_LOCK_ERROR", "filesink: lock: "+err.Error(), err)
	}
	// Where this write begins: the end, as O_APPEND writes.
	size, err := s.f.Seek(0, io.SeekEnd)
	if err == nil {
		var n int
		if n, err = writeFile(s.f, buf); err != nil && n > 0 {
			_ = s.f.Truncate(size)
		}
	}
	unlockFile(s.f)
	if err != nil {
		return sinks.NewError("FILE_WRITE_ERROR", "filesink: "+err.Error(), err)
	}
	if err := s.f.Sync(); err != nil {
		return sinks.NewError("FILE_SYNC_ERROR", "filesink: "+err.Error(), err)
	}
	s.commits++
	return nil
}

// writeFile writes to the file (tests make it fail half-way).
var writeFile = (*os.File).Write

// current opens the path anew when the open file is no longer the one it
// names (rotated away or removed).
func (s *Sink) current() error {
	cur, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("filesink: %w", err)
	}
	onDisk, err := os.Stat(s.path)
	if err == nil && os.SameFile(cur, onDisk) {
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("filesink: %w", err)
	}
	f, err := open(s.path)
	if err != nil {
		return err
	}
	s.f.Close()
	s.f = f
	return nil
}

// ctxError says why Send gave up waiting; the caller may retry.
func ctxError(err error) error {
	code := "CANCELED"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "TIMEOUT"
	}
	return sinks.NewError(code, "filesink: send: "+err.Error(), err)
}

// ErrClosed is returned by Send after Close. It is retryable: the event
// goes back to the queue for the sink that replaces this one.
var ErrClosed error = sinks.NewError("SINK_CLOSED", "filesink: sink is closed", nil)

// Error is a failed delivery with a code for the dead-letter queue.
type Error = sinks.Error
