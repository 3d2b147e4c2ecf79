// Package consumers delivers events: one consumer is a durable queue on the
// bus (deliver.<name>), a bounded set of workers, a retry policy and a
// dead-letter queue around a sink. Consumers share nothing, so a slow or
// failing one never delays another; a retry waits on the broker, not in a
// worker.
package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/every"
	"github.com/eventrouter/eventrouter/sinks"
)

// Bus is what a consumer needs of the message bus.
type Bus interface {
	Publish(topic string, msgs ...*message.Message) error
	Consume(ctx context.Context, topic string, opts bus.ConsumeOptions) (<-chan *message.Message, error)
}

// Policy is a consumer's delivery policy.
type Policy struct {
	// MaxAttempts bounds the deliveries of one event (EventBridge: 185).
	MaxAttempts int
	// MaxEventAge bounds how long after ingestion an event is still tried
	// (EventBridge: 24h).
	MaxEventAge time.Duration
	// InitialBackoff and MaxBackoff shape the exponential backoff with
	// jitter between attempts.
	InitialBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt. Unset, it is a second beyond the sink's
	// own timeout when it has one (sinks.Timeouter), else 5 s.
	Timeout time.Duration
	// Concurrency bounds the attempts in progress at once.
	Concurrency int
	// DLQ keeps events that cannot be delivered in dlq.<name>; without it
	// they are dropped, with an error log and a metric.
	DLQ bool
}

func (p *Policy) defaults() {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 185
	}
	if p.MaxEventAge <= 0 {
		p.MaxEventAge = 24 * time.Hour
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 5 * time.Minute
	}
	if p.Timeout <= 0 {
		p.Timeout = 5 * time.Second
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 16
	}
}

// Consumer delivers the events queued for one consumer through its sink.
type Consumer struct {
	name   string
	sink   sinks.Sink
	batch  sinks.BatchSender // sink, when it takes batches; else nil
	policy Policy
	bus    Bus
	m      *Metrics
	log    *slog.Logger
	now    func() time.Time

	cancel context.CancelFunc
	done   chan struct{}

	firstMu  sync.Mutex
	firstTry map[string]time.Time // bus.QueuedID → its first attempt, while retried (rememberFirst)

	// A destination that is down fails every event, thousands a second:
	// the retry and dead-letter lines are written at most once a second
	// each, saying how many were left out (the metrics count them all).
	retryLog, deadLog every.Limiter
}

// Options carry what every consumer shares.
type Options struct {
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time // nil: time.Now
}

// New prepares a consumer; Start begins delivering.
func New(name string, sink sinks.Sink, p Policy, b Bus, o Options) *Consumer {
	if t, ok := sink.(sinks.Timeouter); ok && p.Timeout <= 0 && t.Timeout() > 0 {
		p.Timeout = t.Timeout() + time.Second
	}
	p.defaults()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Metrics.init(name)
	batch, _ := sink.(sinks.BatchSender)
	return &Consumer{name: name, sink: sink, batch: batch, policy: p, bus: b, m: o.Metrics, log: o.Logger.With("consumer", name), now: o.Now,
		retryLog: every.Limiter{Period: time.Second}, deadLog: every.Limiter{Period: time.Second}}
}

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Start subscribes to the consumer's queue and starts its workers.
func (c *Consumer) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	// As many events wait at hand as there are workers, so that a worker
	// that finishes starts the next attempt at once instead of after a
	// round trip to the broker; only Concurrency attempts run. A sink that
	// takes batches gets up to maxBatch events per attempt.
	inFlight := 2 * c.policy.Concurrency
	if c.batch != nil {
		inFlight = (maxBatch + 1) * c.policy.Concurrency
	}
	ch, err := c.bus.Consume(ctx, bus.DeliverTopic(c.name), bus.ConsumeOptions{
		Durable:     "deliver-" + c.name,
		MaxInFlight: inFlight,
		// A message waits at most one attempt for a worker, then takes one;
		// past this the broker assumes the worker died and delivers the
		// event again.
		AckWait:       2*c.policy.Timeout + 10*time.Second,
		DirectAnswers: true, // answer and deadLetter use bus.Ack and bus.NackAfter
	})
	if err != nil {
		cancel()
		return fmt.Errorf("consumer %s: %w", c.name, err)
	}
	c.cancel = cancel
	c.done = make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < c.policy.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w attempt
			batch := make([]*message.Message, 0, maxBatch)
			for m := range ch {
				batch = append(batch[:0], m)
				if c.batch != nil {
					batch = collect(ch, batch)
				}
				c.handle(&w, batch)
			}
		}()
	}
	go func() { wg.Wait(); close(c.done) }()
	return nil
}

// Stop stops taking events and waits, until ctx ends, for the attempts in
// progress; whatever is not finished goes back to the queue.
func (c *Consumer) Stop(ctx context.Context) error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("consumer %s: stop: %w", c.name, ctx.Err())
	}
}

// maxBatch is the most events one attempt hands a sink that takes batches
// (sinks.BatchSender). Under a backlog, a file consumer then commits up to
// maxBatch events per worker with one fsync instead of one: it catches up
// at once after a slow disk moment, where one event per fsync per worker
// would fall further behind.
const maxBatch = 32

// collect adds to batch the events already at hand, up to its capacity,
// without waiting for more. The bus hands events over one at a time, so
// when none is ready the worker yields once to let it.
//
// The yield looks like a cost (a yielded worker waits at the back of the
// run queue), but every variant without it measured worse end to end: no
// yield, a buffered hand-off, a queue that wakes one worker per batch, and
// a yield only once a second event is at hand all halved the peak and
// doubled the p99 (BENCHMARKS.md). Events then reach a file sink one by
// one, its commits find less company, and more fsyncs per event slow the
// disk that the bus writes to as well.
func collect(ch <-chan *message.Message, batch []*message.Message) []*message.Message {
	yielded := false
	for len(batch) < cap(batch) {
		select {
		case m, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, m)
			yielded = false
			continue
		default:
		}
		if yielded {
			break
		}
		runtime.Gosched()
		yielded = true
	}
	return batch
}

// attempt is a worker's scratch space for handle, reused attempt after
// attempt.
type attempt struct {
	ds       []event.Delivery
	ingested []time.Time
}

// handle makes one delivery attempt for each event (one sink call for them
// all when the sink takes batches) and answers the bus for each: ack on
// success or after dead-lettering, nack with a delay to retry.
func (c *Consumer) handle(w *attempt, ms []*message.Message) {
	now := c.now()
	w.ds, w.ingested = w.ds[:0], w.ingested[:0]
	for _, m := range ms {
		t, err := time.Parse(time.RFC3339Nano, m.Metadata.Get(bus.IngestedKey))
		if err != nil {
			t = bus.Stored(m)
		}
		w.ingested = append(w.ingested, t)
		w.ds = append(w.ds, event.Delivery{Event: m.Payload, ID: m.Metadata.Get(bus.EventIDKey), Rule: m.Metadata.Get(bus.RuleKey), Consumer: c.name, Attempt: bus.Delivered(m)})
	}
	ds := w.ds

	ctx, cancel := context.WithTimeout(context.Background(), c.policy.Timeout)
	var errs []error
	if c.batch != nil && len(ds) > 1 {
		errs = c.batch.SendBatch(ctx, ds)
	} else if err := c.sink.Send(ctx, ds[0]); err != nil {
		errs = []error{err}
	}
	// Only an attempt cut short by the consumer's own timeout says so; a
	// sink's timeout names itself.
	expired := ctx.Err() != nil
	cancel()
	took := c.now().Sub(now)
	for i, m := range ms {
		var err error
		if errs != nil {
			err = errs[i]
		}
		if err != nil && expired && errors.Is(err, context.DeadlineExceeded) && !sinks.IsPermanent(err) {
			err = fmt.Errorf("timed out after %s: %w", c.policy.Timeout, err)
		}
		c.answer(m, ds[i], err, w.ingested[i], now, took)
	}
}

// answer records one attempt's outcome and answers the bus for its event.
func (c *Consumer) answer(m *message.Message, d event.Delivery, err error, ingested, now time.Time, took time.Duration) {
	c.m.attempt(c.name, took)
	id, rule, attempt := d.ID, d.Rule, d.Attempt
	if err == nil {
		c.m.success(c.name, c.now().Sub(ingested))
		// Guarded: the arguments alone cost allocations on every delivery
		// even when debug logging is off.
		if c.log.Enabled(context.Background(), slog.LevelDebug) {
			c.log.Debug("delivered", "event_id", id, "rule", rule, "attempt", attempt, "took", took)
		}
		if attempt > 1 {
			c.forgetFirst(m)
		}
		bus.Ack(m)
		return
	}
	// Only failures pay for a logger carrying the delivery's identity.
	log := c.log.With("event_id", id, "rule", rule, "attempt", attempt)
	reason := ""
	age := c.now().Sub(ingested)
	switch {
	case sinks.IsPermanent(err):
		reason = "permanent_error"
	case attempt >= c.policy.MaxAttempts:
		reason = "max_attempts"
	case age >= c.policy.MaxEventAge:
		reason = "max_event_age"
	}
	if reason == "" {
		delay := c.backoff(attempt)
		if after, ok := sinks.RetryDelay(err); ok && after > delay {
			delay = after
		}
		if left := c.policy.MaxEventAge - age; delay > left {
			delay = max(left, 0)
		}
		c.m.retry(c.name)
		if attempt == 1 {
			c.rememberFirst(m, now)
		}
		if ok, skipped := c.retryLog.Allow(now); ok {
			log.Info("delivery failed; will retry", every.WithSkipped([]any{"err", err, "retry_in", delay}, skipped)...)
		}
		bus.NackAfter(m, delay)
		return
	}
	c.m.failed(c.name)
	c.deadLetter(m, d, err, reason, ingested, now, log)
}

// backoff is the wait before attempt+1: exponential from InitialBackoff,
// doubling, capped at MaxBackoff, with ±50% jitter.
func (c *Consumer) backoff(attempt int) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     c.policy.InitialBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.policy.MaxBackoff,
	}
	var d time.Duration
	for i := 0; i < attempt; i++ {
		d = b.NextBackOff()
	}
	return d
}

func (c *Consumer) deadLetter(m *message.Message, d event.Delivery, cause error, reason string, ingested, last time.Time, log *slog.Logger) {
	code := sinks.CodeOf(cause)
	if !c.policy.DLQ {
		c.m.dlq(c.name, "dropped_"+reason)
		if ok, skipped := c.deadLog.Allow(last); ok {
			log.Error("delivery failed for good and the consumer has no DLQ: event dropped", every.WithSkipped([]any{"err", cause, "reason", reason, "error_code", code}, skipped)...)
		}
		c.forgetFirst(m)
		bus.Ack(m)
		return
	}
	first := c.firstOf(m)
	switch {
	case d.Attempt <= 1:
		first = last
	case first.IsZero():
		// Retried since before a restart: when the event was queued is
		// the best bound left.
		if first = bus.Stored(m); first.IsZero() || first.After(last) {
			first = last
		}
	}
	payload := event.DeadLetter{
		Event: json.RawMessage(d.Event), Rule: d.Rule, Consumer: c.name,
		ErrorCode: code, ErrorMessage: truncate(cause.Error(), 2048), Reason: reason,
		Attempts: d.Attempt, FirstAttempt: first.UTC(), LastAttempt: last.UTC(), Ingested: ingested.UTC(),
	}.Marshal()
	// The DLQ remembers ids for a while (the bus's de-duplication window).
	// This one names the queued delivery, its message id and when it was
	// queued, so that a crash between this write and the ack below stores
	// it once, while the same event failing again later (replayed, or sent
	// again under the client's id) is a dead letter of its own.
	dm := message.NewMessage(bus.QueuedID(m), payload)
	dm.Metadata.Set(bus.EventIDKey, d.ID)
	dm.Metadata.Set(bus.RuleKey, d.Rule)
	if err := c.bus.Publish(bus.DLQTopic(c.name), dm); err != nil {
		log.Warn("cannot write to the DLQ; the event stays queued", "err", err)
		bus.NackAfter(m, 5*time.Second)
		return
	}
	c.m.dlq(c.name, reason)
	if ok, skipped := c.deadLog.Allow(last); ok {
		log.Warn("event dead-lettered", every.WithSkipped([]any{"err", cause, "reason", reason, "error_code", code}, skipped)...)
	}
	c.forgetFirst(m)
	bus.Ack(m)
}

// firstTry keeps the time of a delivery's first attempt while it is
// retried, for its dead letter: under a backlog that attempt can come long
// after the event was queued. It lives in memory; a restart loses it.
func (c *Consumer) rememberFirst(m *message.Message, at time.Time) {
	c.firstMu.Lock()
	defer c.firstMu.Unlock()
	if c.firstTry == nil {
		c.firstTry = map[string]time.Time{}
	}
	c.firstTry[bus.QueuedID(m)] = at
}

func (c *Consumer) firstOf(m *message.Message) time.Time {
	c.firstMu.Lock()
	defer c.firstMu.Unlock()
	return c.firstTry[bus.QueuedID(m)]
}

func (c *Consumer) forgetFirst(m *message.Message) {
	c.firstMu.Lock()
	defer c.firstMu.Unlock()
	delete(c.firstTry, bus.QueuedID(m))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
