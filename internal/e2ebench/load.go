package e2ebench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sendFunc sends events seq0 … seq0+n-1 stamped with sent, and reports
// how many the system acknowledged (durably stored).
type sendFunc func(ctx context.Context, seq0 int64, n int, sent time.Time) (accepted int, err error)

// loadSpec is how one phase sends.
type loadSpec struct {
	senders int
	batch   int
	// rate is events per second, scheduled open loop; 0 sends as fast as
	// the system acknowledges (closed loop, every sender one batch in
	// flight).
	rate float64
	// warmup is sent but not measured; window is measured.
	warmup, window time.Duration
	// maxEvents stops a closed-loop phase early (tests); 0: no cap.
	maxEvents int64
	// backlog, in closed loop, bounds the events sent and not yet
	// delivered everywhere: senders wait for deliveries, so the phase
	// runs at the rate the whole pipeline sustains, not at the rate ingest
	// alone accepts. 0: unbounded (ingest as fast as it acknowledges).
	backlog int
	// onWindow is called as the measured window starts (true) and ends.
	onWindow func(start bool)
}

// loadResult is what the senders saw, plus the tracker's count of events
// delivered during the measured window.
type loadResult struct {
	sent, accepted, failed   int64
	windowAccepted           int64
	windowDelivered          int64
	window                   time.Duration
	windowCPU                time.Duration // process CPU time over the window
	windowAlloc, windowGCs   uint64        // heap bytes allocated and GC cycles over the window
	maxLag                   time.Duration // rate-limited: worst lateness of a send
	firstError               string
	sendersStart, sendersEnd time.Time
}

// runLoad drives one phase's senders. Sequence numbers come from seqs, so
// every event of a run has its own. In-flight requests are never
// cancelled when the phase ends (their events may already be stored);
// senders just stop taking new batches.
func runLoad(ctx context.Context, spec loadSpec, seqs *atomic.Int64, tr *tracker, p *phaseStats, newSend func() sendFunc) loadResult {
	var (
		res                    loadResult
		sent, accepted, failed atomic.Int64
		maxLag                 atomic.Int64
		stop                   atomic.Bool
		stopCh                 = make(chan struct{})
		errOnce                sync.Once
	)
	credits := tr.setBacklog(p, spec.backlog)
	first := seqs.Load()
	total := spec.warmup + spec.window

	var tokens chan time.Time
	if spec.rate > 0 {
		// Open loop: batches are due at fixed times whatever the system
		// does, and carry their due time as their send time, so a system
		// that falls behind shows it in latency (no coordinated omission).
		tokens = make(chan time.Time, 4096)
		interval := time.Duration(float64(time.Second) * float64(spec.batch) / spec.rate)
		go func() {
			defer close(tokens)
			start := time.Now()
			for i := 0; ; i++ {
				due := start.Add(time.Duration(i) * interval)
				if due.Sub(start) >= total || stop.Load() {
					return
				}
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				select {
				case tokens <- due:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	res.sendersStart = time.Now()
	var wg sync.WaitGroup
	for range spec.senders {
		send := newSend()
		wg.Go(func() {
			for {
				var at time.Time
				if tokens != nil {
					var ok bool
					select {
					case at, ok = <-tokens:
					case <-ctx.Done():
					}
					if !ok {
						return
					}
					lag := int64(time.Since(at))
					for {
						cur := maxLag.Load()
						if lag <= cur || maxLag.CompareAndSwap(cur, lag) {
							break
						}
					}
				} else {
					if stop.Load() || ctx.Err() != nil {
						return
					}
					if credits != nil && !acquire(ctx, credits, spec.batch, stopCh) {
						return
					}
					at = time.Now()
				}
				seq0 := seqs.Add(int64(spec.batch)) - int64(spec.batch)
				if spec.maxEvents > 0 && seq0-first >= spec.maxEvents {
					return
				}
				n, err := send(ctx, seq0, spec.batch, at)
				sent.Add(int64(spec.batch))
				accepted.Add(int64(n))
				if err != nil {
					release(credits, spec.batch-n) // never to be delivered
					failed.Add(int64(spec.batch - n))
					errOnce.Do(func() { res.firstError = err.Error() })
					if ctx.Err() != nil {
						return
					}
					time.Sleep(10 * time.Millisecond) // do not spin on a refusing server
				}
			}
		})
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()

	// A closed loop ends early when its event cap is reached; an open
	// loop lasts its whole schedule, however few batches it holds.
	early := sendersDone
	if tokens != nil {
		early = nil
	}
	wait := func(d time.Duration) {
		if d <= 0 {
			return
		}
		select {
		case <-time.After(d):
		case <-early:
		case <-ctx.Done():
		}
	}
	wait(spec.warmup)
	a0, d0, t0, c0 := accepted.Load(), tr.completed(p), time.Now(), cpuTime()
	m0, g0 := heapAllocs()
	if spec.onWindow != nil {
		spec.onWindow(true)
	}
	wait(spec.window)
	a1, d1, t1, c1 := accepted.Load(), tr.completed(p), time.Now(), cpuTime()
	m1, g1 := heapAllocs()
	if spec.onWindow != nil {
		spec.onWindow(false)
	}
	stop.Store(true)
	close(stopCh)
	<-sendersDone
	res.sendersEnd = time.Now()

	res.sent, res.accepted, res.failed = sent.Load(), accepted.Load(), failed.Load()
	res.windowAccepted, res.windowDelivered, res.window, res.windowCPU = a1-a0, d1-d0, t1.Sub(t0), c1-c0
	res.windowAlloc, res.windowGCs = m1-m0, g1-g0
	res.maxLag = time.Duration(maxLag.Load())
	return res
}

// acquire takes n credits, one per event, or gives back what it took and
// reports false when the phase stops first.
func acquire(ctx context.Context, credits chan struct{}, n int, stop <-chan struct{}) bool {
	for i := range n {
		select {
		case <-credits:
		case <-stop:
			release(credits, i)
			return false
		case <-ctx.Done():
			release(credits, i)
			return false
		}
	}
	return true
}

// release gives back n credits.
func release(credits chan struct{}, n int) {
	for range n {
		select {
		case credits <- struct{}{}:
		default:
		}
	}
}
