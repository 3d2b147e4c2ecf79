package e2ebench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// tracker tails the consumers' JSON Lines files as they grow and turns
// every line into a delivery: which event (detail.seq), to which consumer
// (the file), and how long after it was sent (now − detail.sent_ns). It is
// the end of the end-to-end measurement: an event counts as delivered when
// its line is in every file its rules route it to, as a reader of those
// files would see it.
//
// Its memory is one byte per event (which consumers have it) in fixed
// chunks, and fixed-size histograms, so it does not disturb the soak
// phase's heap series.
type tracker struct {
	files  []*tailFile
	expect func(seq int64) uint8 // the consumers (bits) event seq must reach

	mu      sync.Mutex
	seen    [][]uint8 // seq → consumer bits seen, in chunks of chunkSize
	phases  []*phaseStats
	dups    int64 // lines for a (seq, consumer) already seen
	strange int64 // lines without a sequence number, or unexpected ones

	stop chan struct{}
	done chan struct{}
	err  error
}

const chunkSize = 1 << 16

// tailFile is one consumer's file.
type tailFile struct {
	consumer string
	bit      uint8
	path     string
	f        *os.File
	partial  []byte
	lines    int64
}

// phaseStats collect the deliveries of one phase's events (a range of
// sequence numbers starting at start).
type phaseStats struct {
	start      int64
	delivery   hist    // per (event, consumer): sent → line in that file
	complete   hist    // per event: sent → line in the last of its files
	byConsumer [8]hist // delivery, by the consumer's tracker bit
	deliveries int64
	completed  int64
	lastDone   time.Time
	began      time.Time
	timeline   []second // deliveries by the second of the phase they landed in
	// credits, when set, gets one token back per event complete: the
	// senders' bound on events in flight (see loadSpec.backlog).
	credits chan struct{}
}

// second is one second of a phase's deliveries: when a tail comes, it shows
// whether it was one stall or spread out.
type second struct {
	Deliveries int64   `json:"deliveries"`
	MaxMs      float64 `json:"max_ms"`
	Over50Ms   int64   `json:"over_50ms"`
}

// setBacklog bounds phase p's events in flight to n (0: unbounded) and
// returns the credits senders take from; nil when unbounded.
func (t *tracker) setBacklog(p *phaseStats, n int) chan struct{} {
	if n <= 0 {
		return nil
	}
	c := make(chan struct{}, n)
	for range n {
		c <- struct{}{}
	}
	t.mu.Lock()
	p.credits = c
	t.mu.Unlock()
	return c
}

func newTracker(files map[string]string, order []string, expect func(int64) uint8) *tracker {
	t := &tracker{expect: expect, stop: make(chan struct{}), done: make(chan struct{})}
	for i, name := range order {
		t.files = append(t.files, &tailFile{consumer: name, bit: 1 << i, path: files[name]})
	}
	return t
}

// start runs the tailer until close.
func (t *tracker) start() { go t.run() }

func (t *tracker) run() {
	defer close(t.done)
	buf := make([]byte, 1<<20)
	for {
		progressed, err := t.pass(buf)
		if err != nil {
			t.err = err
			return
		}
		if progressed {
			continue
		}
		select {
		case <-t.stop:
			// One last pass for lines written just before.
			if _, err := t.pass(buf); err != nil {
				t.err = err
			}
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// pass reads whatever the files gained since the last pass.
func (t *tracker) pass(buf []byte) (bool, error) {
	progressed := false
	for _, tf := range t.files {
		if tf.f == nil {
			f, err := os.Open(tf.path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return false, err
			}
			tf.f = f
		}
		n, err := tf.f.Read(buf)
		if n > 0 {
			progressed = true
			t.consume(tf, buf[:n], time.Now())
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
	}
	return progressed, nil
}

// consume splits a chunk into lines; a line cut at the end of the chunk
// waits for the rest.
func (t *tracker) consume(tf *tailFile, chunk []byte, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			tf.partial = append(tf.partial, chunk...)
			return
		}
		line := chunk[:i]
		if len(tf.partial) > 0 {
			tf.partial = append(tf.partial, line...)
			line = tf.partial
		}
		t.record(tf, line, now)
		tf.partial = tf.partial[:0]
		chunk = chunk[i+1:]
	}
}

// record counts one delivered line. t.mu is held.
func (t *tracker) record(tf *tailFile, line []byte, now time.Time) {
	tf.lines++
	r := gjson.GetManyBytes(line, "detail.seq", "detail.sent_ns")
	if !r[0].Exists() || !r[1].Exists() {
		t.strange++
		return
	}
	seq, sent := r[0].Int(), r[1].Int()
	want := t.expect(seq)
	if seq < 0 || want&tf.bit == 0 {
		t.strange++
		return
	}
	c := seq / chunkSize
	for int64(len(t.seen)) <= c {
		t.seen = append(t.seen, make([]uint8, chunkSize))
	}
	got := &t.seen[c][seq%chunkSize]
	if *got&tf.bit != 0 {
		t.dups++
		return
	}
	*got |= tf.bit
	p := t.phaseOf(seq)
	if p == nil {
		t.strange++
		return
	}
	lat := time.Duration(now.UnixNano() - sent)
	p.delivery.add(lat)
	p.byConsumer[bits.TrailingZeros8(tf.bit)].add(lat)
	p.deliveries++
	if sec := int(now.Sub(p.began) / time.Second); sec >= 0 && sec < 3600 {
		for len(p.timeline) <= sec {
			p.timeline = append(p.timeline, second{})
		}
		ts := &p.timeline[sec]
		ts.Deliveries++
		ts.MaxMs = max(ts.MaxMs, float64(lat)/float64(time.Millisecond))
		if lat > 50*time.Millisecond {
			ts.Over50Ms++
		}
	}
	if *got == want {
		p.complete.add(lat)
		p.completed++
		p.lastDone = now
		if p.credits != nil {
			select {
			case p.credits <- struct{}{}:
			default:
			}
		}
	}
}

// phaseOf is the phase event seq was sent in. t.mu is held.
func (t *tracker) phaseOf(seq int64) *phaseStats {
	for i := len(t.phases) - 1; i >= 0; i-- {
		if seq >= t.phases[i].start {
			return t.phases[i]
		}
	}
	return nil
}

// beginPhase starts counting events from sequence number start on.
func (t *tracker) beginPhase(start int64) *phaseStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &phaseStats{start: start, began: time.Now()}
	t.phases = append(t.phases, p)
	return p
}

// reserve allocates the per-event state for events up to seq ahead of
// time, so the soak phase's heap series shows routerd, not the tracker.
func (t *tracker) reserve(seq int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	need := int(seq/chunkSize) + 1
	if cap(t.seen) < need {
		grown := make([][]uint8, len(t.seen), need)
		copy(grown, t.seen)
		t.seen = grown
	}
	for len(t.seen) < need {
		t.seen = append(t.seen, make([]uint8, chunkSize))
	}
}

// snapshot returns a copy of the phase's counts taken under the lock.
func (t *tracker) snapshot(p *phaseStats) phaseStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := *p
	s.timeline = slices.Clone(p.timeline)
	return s
}

// completed is the number of the phase's events delivered everywhere.
func (t *tracker) completed(p *phaseStats) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return p.completed
}

// waitDelivered waits until the phase has n events complete, the timeout
// passes or ctx ends; it returns the number complete.
func (t *tracker) waitDelivered(ctx context.Context, p *phaseStats, n int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	for {
		done := t.completed(p)
		if done >= n || time.Now().After(deadline) || ctx.Err() != nil {
			return done
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// consumers returns the consumers' names by tracker bit.
func (t *tracker) consumers() []string {
	var names []string
	for _, tf := range t.files {
		names = append(names, tf.consumer)
	}
	return names
}

// lines returns the lines read from each consumer's file.
func (t *tracker) lines() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int64{}
	for _, tf := range t.files {
		out[tf.consumer] = tf.lines
	}
	return out
}

// close stops the tailer after a last pass over the files.
func (t *tracker) close() error {
	close(t.stop)
	<-t.done
	for _, tf := range t.files {
		if tf.f != nil {
			tf.f.Close()
		}
	}
	return t.err
}

// hist is a latency histogram with buckets 2% apart from 1µs to about
// 20 minutes: quantiles are within 2% and it never grows.
type hist struct {
	counts [histBuckets]uint32
	n      int64
	sum    time.Duration
	max    time.Duration
}

const histBuckets = 1100

var histBase = math.Log(1.02)

func (h *hist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	if d > time.Microsecond {
		i = min(int(math.Log(float64(d)/float64(time.Microsecond))/histBase)+1, histBuckets-1)
	}
	h.counts[i]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// quantile returns the upper edge of the bucket holding quantile q
// (rounded up: at most 2% pessimistic), capped at the maximum seen.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var cum int64
	for i, c := range h.counts {
		cum += int64(c)
		if cum >= rank {
			edge := time.Duration(float64(time.Microsecond) * math.Exp(float64(i)*histBase))
			return min(edge, h.max)
		}
	}
	return h.max
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
