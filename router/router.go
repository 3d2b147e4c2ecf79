// Package router is the routing stage: it takes each accepted event from
// events.<bus>, matches it once against the bus's rules and publishes one
// message per matched consumer to that consumer's own queue,
// deliver.<consumer>, before acknowledging the event. Every hop is durable,
// so a crash anywhere repeats work but loses nothing.
package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/every"
	"github.com/eventrouter/eventrouter/rules"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Bus is what the router needs of the message bus.
type Bus interface {
	Publish(topic string, msgs ...*message.Message) error
	PublishAll(out []bus.Outgoing) error
	Consume(ctx context.Context, topic string, opts bus.ConsumeOptions) (<-chan *message.Message, error)
	Seal() *bus.Seal
}

// Rule is one routing rule: a pattern on a bus and the consumers it feeds.
type Rule struct {
	Name    string
	Bus     string
	Pattern *rules.Pattern
	Targets []string
}

// Routes is an immutable routing table, built whole and swapped in whole on
// reload.
type Routes struct {
	buses map[string]*busRoutes
}

type busRoutes struct {
	table     *rules.Table
	targets   map[string][]target // rule name → consumers
	consumers int                 // distinct consumers of the bus's rules
}

// target is a consumer of a rule, with its queue's topic made once per table
// instead of once per delivery, and its number on the bus (0, 1, …) for a
// worker's scratch.seen.
type target struct {
	consumer, topic string
	id              int
	maxBacklog      int // Queue.MaxBacklog
}

// Queue is what the router knows of a consumer's queue.
type Queue struct {
	// MaxBacklog bounds the events the queue holds: past it, the
	// consumer's new events go to its DLQ (reason max_backlog). 0: no
	// bound.
	MaxBacklog int
}

// NewRoutes builds the table. Rules without a bus are on the default bus.
// queues holds the settings of the consumers' queues that have any.
func NewRoutes(rs []Rule, queues map[string]Queue) (*Routes, error) {
	byBus := map[string][]Rule{}
	for _, r := range rs {
		if r.Bus == "" {
			r.Bus = event.DefaultBus
		}
		byBus[r.Bus] = append(byBus[r.Bus], r)
	}
	routes := &Routes{buses: map[string]*busRoutes{}}
	for name, list := range byBus {
		br := &busRoutes{targets: map[string][]target{}}
		ids := map[string]int{}
		var trs []rules.Rule
		for _, r := range list {
			trs = append(trs, rules.Rule{Name: r.Name, Pattern: r.Pattern})
			ts := make([]target, len(r.Targets))
			for i, c := range r.Targets {
				id, ok := ids[c]
				if !ok {
					id = len(ids)
					ids[c] = id
				}
				ts[i] = target{consumer: c, topic: bus.DeliverTopic(c), id: id, maxBacklog: queues[c].MaxBacklog}
			}
			br.targets[r.Name] = ts
		}
		br.consumers = len(ids)
		t, err := rules.NewTable(trs)
		if err != nil {
			return nil, fmt.Errorf("router: bus %s: %w", name, err)
		}
		br.table = t
		routes.buses[name] = br
	}
	return routes, nil
}

// HasBus reports whether events may be sent to the bus: the default bus
// always exists, others once a rule names them.
func (r *Routes) HasBus(name string) bool {
	if name == event.DefaultBus {
		return true
	}
	_, ok := r.buses[name]
	return ok
}

// Options tune a Router.
type Options struct {
	// Workers is how many events are routed at once (default 64).
	Workers int
	// Stamp gives raw entries published to NATS their account and region.
	Stamp event.Stamp
	// Ingest counts raw NATS entries as eventrouter_ingest_events_total
	// with source "nats"; nil skips counting.
	Ingest  *prometheus.CounterVec
	Metrics *Metrics
	Logger  *slog.Logger
	// Schemas checks raw NATS entries' detail as ingest checks HTTP ones;
	// nil checks nothing.
	Schemas interface {
		Validate(source, detailType string, detail []byte) *event.EntryError
	}
	// MaxEventBytes refuses raw NATS entries whose envelope is larger than
	// the bus carries (bus.MaxEventBytes); 0 takes any size.
	MaxEventBytes int
	// DeadLettered counts an event put in a consumer's DLQ because its
	// queue was at its max_backlog (consumers.Metrics.DeadLettered); nil
	// counts nothing.
	DeadLettered func(consumer, reason string)
	// BacklogEvery is how often the queues with a max_backlog are counted
	// (default 1 s).
	BacklogEvery time.Duration
}

// Router moves events from their bus to the consumers' queues.
type Router struct {
	bus    Bus
	routes atomic.Pointer[Routes]
	opts   Options
	log    *slog.Logger

	partial  partials
	retryLog every.Limiter // "cannot queue deliveries", which a full bus repeats for every event
	backlogs backlogs
}

// New returns a router over b with the given routes.
func New(b Bus, routes *Routes, opts Options) *Router {
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BacklogEvery <= 0 {
		opts.BacklogEvery = time.Second
	}
	r := &Router{bus: b, opts: opts, log: opts.Logger, retryLog: every.Limiter{Period: 10 * time.Second}}
	r.routes.Store(routes)
	return r
}

// Swap installs a new routing table; events routed from now on use it.
func (r *Router) Swap(routes *Routes) { r.routes.Store(routes) }

// Routes returns the table in use.
func (r *Router) Routes() *Routes { return r.routes.Load() }

// RejectedTopic holds raw NATS entries that could not be made into events,
// with the reason, so that nothing acknowledged is dropped silently.
var RejectedTopic = bus.DLQTopic("_rejected")

// Run routes events until ctx ends, then waits for the events in hand.
func (r *Router) Run(ctx context.Context) error {
	ch, err := r.bus.Consume(ctx, bus.EventsPrefix+">", bus.ConsumeOptions{
		Durable:     "router",
		MaxInFlight: r.opts.Workers,
		// Routing one event takes milliseconds; after a crash, events the
		// dead process held come back this much later.
		AckWait:       10 * time.Second,
		DirectAnswers: true, // every path below answers with bus.Ack or bus.NackAfter
	})
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	var wg sync.WaitGroup
	if c, ok := r.bus.(counter); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.countBacklogs(ctx, c)
		}()
	}
	for i := 0; i < r.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s scratch
			for m := range ch {
				r.handle(m, &s)
			}
		}()
	}
	wg.Wait()
	return nil
}

// scratch is a routing worker's space for handle, reused event after
// event so that routing one allocates only the messages it sends.
type scratch struct {
	matches []string
	groups  []group // the event's consumers, in order of first match
	seen    []int   // target id → 1 + its group's index; 0: none yet
	out     []bus.Outgoing
	meta    []string // the deliveries' metadata; the bus copies it
}

// group is one consumer of an event and the rules that chose it.
type group struct {
	target
	rules []string
}

// group gathers the matched rules by consumer into s.groups.
func (s *scratch) group(br *busRoutes) {
	if len(s.seen) < br.consumers {
		s.seen = make([]int, br.consumers)
	}
	gs := s.groups[:0]
	for _, rule := range s.matches {
		for _, t := range br.targets[rule] {
			i := s.seen[t.id] - 1
			if i < 0 {
				i = len(gs)
				s.seen[t.id] = i + 1
				if i < cap(gs) {
					gs = gs[:i+1] // keep the group's rules array
				} else {
					gs = append(gs, group{})
				}
				gs[i].target, gs[i].rules = t, gs[i].rules[:0]
			}
			gs[i].rules = append(gs[i].rules, rule)
		}
	}
	for _, g := range gs {
		s.seen[g.id] = 0
	}
	s.groups = gs
}

// handle routes one event and answers the bus.
func (r *Router) handle(m *message.Message, s *scratch) {
	topic := m.Metadata.Get(bus.TopicKey)
	busName := strings.TrimPrefix(topic, bus.EventsPrefix)
	ingested := bus.Stored(m)
	env, id := []byte(m.Payload), m.UUID
	if tag := m.Metadata.Get(bus.EnvelopeKey); !r.bus.Seal().Valid(topic, m.Payload, tag) {
		var ok bool
		if env, id, ok = r.normalizeRaw(m, busName, ingested, tag); !ok {
			return
		}
	}
	routes := r.routes.Load()
	br := routes.buses[busName]
	if br == nil {
		r.ack(m) // no rule on this bus: like EventBridge, the event ends here
		return
	}
	s.matches = br.table.AppendMatches(s.matches[:0], env)
	if len(s.matches) == 0 {
		r.ack(m)
		return
	}

	// One message per consumer, naming every rule that chose it; to the
	// consumer's DLQ when its queue is at its max_backlog.
	s.group(br)
	at := ingested.UTC().Format(time.RFC3339Nano)
	out, meta := s.out[:0], slices.Grow(s.meta[:0], 6*len(s.groups))
	bounded := false // some queue has a max_backlog: count what is stored
	for _, g := range s.groups {
		n := len(meta)
		rules := strings.Join(g.rules, ",")
		bounded = bounded || g.maxBacklog > 0
		if g.maxBacklog > 0 && r.backlogs.full(g.topic, g.maxBacklog) {
			meta = append(meta, bus.EventIDKey, id, bus.RuleKey, rules)
			out = append(out, bus.Outgoing{Topic: bus.DLQTopic(g.consumer), UUID: id + ":" + g.consumer,
				Payload: overflow(env, g, rules, ingested), Metadata: meta[n:len(meta):len(meta)]})
			continue
		}
		meta = append(meta, bus.EventIDKey, id, bus.RuleKey, rules, bus.IngestedKey, at)
		out = append(out, bus.Outgoing{Topic: g.topic, UUID: id + ":" + g.consumer, Payload: env, Metadata: meta[n:len(meta):len(meta)]})
	}
	// A retry queues only the deliveries not stored before.
	if r.partial.any() {
		out = r.partial.skip(bus.QueuedID(m), out)
	}
	// All at once: the event waits one round trip to the bus, not one per
	// consumer.
	err := r.bus.PublishAll(out)
	if err != nil {
		r.partial.add(bus.QueuedID(m), out, err, time.Now())
	}
	if bounded {
		r.counted(out, err)
	}
	clear(out) // hold nothing past its hand-off
	clear(meta)
	s.out, s.meta = out[:0], meta[:0]
	if err != nil {
		delay := retryDelay(bus.Delivered(m))
		if ok, skipped := r.retryLog.Allow(time.Now()); ok {
			msg := "router: cannot queue deliveries; event will be retried"
			if errors.Is(err, bus.ErrStorageFull) {
				msg = "router: the bus's storage is full; events wait on the bus and are queued for their consumers once there is room"
			}
			r.log.Warn(msg, every.WithSkipped([]any{"event_id", id, "retry_in", delay, "err", err}, skipped)...)
		}
		bus.NackAfter(m, delay)
		return
	}
	// Counted once queued, so that an event retried is counted once.
	r.opts.Metrics.matched(busName, s.matches)
	r.ack(m)
}

// counted adds the deliveries of out that PublishAll (whose error is err)
// stored to the counts of their bounded queues, and counts and says the
// events sent to a DLQ instead.
func (r *Router) counted(out []bus.Outgoing, err error) {
	var pe *bus.PublishError
	if err != nil && (!errors.As(err, &pe) || len(pe.Errs) != len(out)) {
		return // none stored
	}
	for i, o := range out {
		if pe != nil && pe.Errs[i] != nil {
			continue
		}
		if consumer, ok := strings.CutPrefix(o.Topic, bus.DLQPrefix); ok {
			r.overflowed(consumer)
		} else {
			r.backlogs.queued(o.Topic)
		}
	}
}

// overflowed counts and says an event sent to consumer's DLQ for its
// max_backlog, saying it at most every 10 s per consumer.
func (r *Router) overflowed(consumer string) {
	if r.opts.DeadLettered != nil {
		r.opts.DeadLettered(consumer, reasonMaxBacklog)
	}
	if ok, skipped := r.backlogs.logLimiter(consumer).Allow(time.Now()); ok {
		r.log.Warn("router: the consumer's queue is at its max_backlog; its new events go to its dead-letter queue",
			every.WithSkipped([]any{"consumer", consumer}, skipped)...)
	}
}

// ack acknowledges an event routed (or that needs no routing), forgetting
// which of its deliveries a failed attempt stored.
func (r *Router) ack(m *message.Message) {
	if r.partial.any() {
		r.partial.forget(bus.QueuedID(m))
	}
	bus.Ack(m)
}

// retryDelay is the wait before routing again an event whose deliveries
// could not all be queued on its attempt-th try: a second, doubling up to
// half a minute, so that a bus without room is not asked again for every
// event every second.
func retryDelay(attempt int) time.Duration {
	return min(time.Second<<min(max(attempt-1, 0), 5), 30*time.Second)
}

// partials remembers, for each event whose deliveries were queued in part
// (some stored, others not: the bus full, say), the topics that hold its
// delivery, so that its retries queue only the others. DELIVER's
// de-duplication window (5 s) would hide a repeat a second later, but
// not one that waits longer for room: every consumer whose delivery was
// stored would get the event once more per retry. It lives in memory: a
// crash between two tries may still repeat a delivery, as at-least-once
// allows.
type partials struct {
	n     atomic.Int64 // entries in m: most events skip the lock
	mu    sync.Mutex
	m     map[string]partial
	swept time.Time
}

type partial struct {
	topics []string
	last   time.Time // the last try
}

// forgottenAfter is how long an entry may go without a retry before it is
// dropped: its event was taken by another routerd of a cluster, or
// deleted. Retries come at least every 30 s (retryDelay).
const forgottenAfter = 10 * time.Minute

func (p *partials) any() bool { return p.n.Load() > 0 }

// add records the deliveries of out that err (PublishAll's) says were
// stored.
func (p *partials) add(key string, out []bus.Outgoing, err error, now time.Time) {
	var pe *bus.PublishError
	if !errors.As(err, &pe) || pe.StoredNone() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]partial{}
	}
	e := p.m[key]
	for i, o := range out {
		if i < len(pe.Errs) && pe.Errs[i] == nil {
			e.topics = append(e.topics, o.Topic)
		}
	}
	e.last = now
	p.m[key] = e
	if now.Sub(p.swept) > time.Minute {
		p.swept = now
		for k, e := range p.m {
			if now.Sub(e.last) > forgottenAfter {
				delete(p.m, k)
			}
		}
	}
	p.n.Store(int64(len(p.m)))
}

// skip removes from out the deliveries stored by an earlier try.
func (p *partials) skip(key string, out []bus.Outgoing) []bus.Outgoing {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[key]
	if !ok {
		return out
	}
	kept := out[:0]
	for _, o := range out {
		if !slices.Contains(e.topics, o.Topic) {
			kept = append(kept, o)
		}
	}
	clear(out[len(kept):])
	return kept
}

func (p *partials) forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
	p.n.Store(int64(len(p.m)))
}

// reasonMaxBacklog is the DLQ reason of an event a consumer's queue had
// no place for.
const reasonMaxBacklog = "max_backlog"

// overflow is the dead letter of an event for g, whose queue is at its
// max_backlog: EventBridge's DLQ attributes, never tried.
func overflow(env []byte, g group, rules string, ingested time.Time) []byte {
	return event.DeadLetter{
		Event: env, Rule: rules, Consumer: g.consumer,
		ErrorCode:    "BacklogFull",
		ErrorMessage: fmt.Sprintf("the queue of consumer %s holds its max_backlog of %d events: the event was not queued for it", g.consumer, g.maxBacklog),
		Reason:       reasonMaxBacklog, Ingested: ingested.UTC(),
	}.Marshal()
}

// counter is a bus that can count the messages of a topic (bus.Store).
type counter interface {
	List(ctx context.Context, topic string, limit int) ([]bus.Kept, int, error)
}

// backlogs holds the depth of each queue with a max_backlog: as counted on
// the bus every Options.BacklogEvery, plus the deliveries queued since.
type backlogs struct {
	mu    sync.Mutex
	depth map[string]*atomic.Int64 // by topic
	logs  map[string]*every.Limiter
}

func (b *backlogs) of(topic string) *atomic.Int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return entry(&b.depth, topic, func() *atomic.Int64 { return new(atomic.Int64) })
}

// full reports whether the queue holds max events or more.
func (b *backlogs) full(topic string, max int) bool { return b.of(topic).Load() >= int64(max) }

// queued counts one more delivery on a bounded queue's topic.
func (b *backlogs) queued(topic string) {
	b.mu.Lock()
	d := b.depth[topic]
	b.mu.Unlock()
	if d != nil {
		d.Add(1)
	}
}

func (b *backlogs) logLimiter(consumer string) *every.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return entry(&b.logs, consumer, func() *every.Limiter { return &every.Limiter{Period: 10 * time.Second} })
}

// entry returns (*m)[key], made by mk (and the map too) if there is none.
func entry[V any](m *map[string]V, key string, mk func() V) V {
	if *m == nil {
		*m = map[string]V{}
	}
	v, ok := (*m)[key]
	if !ok {
		v = mk()
		(*m)[key] = v
	}
	return v
}

// countBacklogs counts, until ctx ends, the queues of the routes in force
// that have a max_backlog.
func (r *Router) countBacklogs(ctx context.Context, c counter) {
	t := time.NewTicker(r.opts.BacklogEvery)
	defer t.Stop()
	for {
		for topic := range r.routes.Load().bounded() {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, n, err := c.List(cctx, topic, 0)
			cancel()
			if err == nil {
				r.backlogs.of(topic).Store(int64(n))
			} else if ctx.Err() == nil {
				r.log.Debug("router: cannot count a queue for its max_backlog", "topic", topic, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bounded yields the topics of the queues that have a max_backlog.
func (r *Routes) bounded() iter.Seq[string] {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, br := range r.buses {
			for _, ts := range br.targets {
				for _, t := range ts {
					if t.maxBacklog > 0 && !seen[t.topic] {
						seen[t.topic] = true
						if !yield(t.topic) {
							return
						}
					}
				}
			}
		}
	}
}

// legacyMark is what routerd put in EnvelopeKey before envelopes were
// sealed.
const legacyMark = "1"

// normalizeRaw turns an entry published straight to NATS into an envelope.
// Its id is derived from its place in the stream, so a redelivery gets the
// same id. Entries that cannot be events go to RejectedTopic, and so does
// one whose tag (its EnvelopeKey) is not the bus's seal: its publisher set
// routerd's own header. An envelope marked the way routerd did before the
// seal was stored by an older routerd, or claims to be: it is checked
// again from scratch like an entry (keeping its id and time), which grants
// a publisher nothing an entry does not, so that an upgrade loses none.
func (r *Router) normalizeRaw(m *message.Message, busName string, ingested time.Time, tag string) ([]byte, string, bool) {
	var e event.Entry
	var bad *event.EntryError
	// Counted once, at its first delivery: a redelivery (a retry while the
	// bus is full, a restart) is the same entry. One the older routerd
	// took was counted by it.
	counted := tag == legacyMark || bus.Delivered(m) > 1
	switch tag {
	case "":
		e, bad = r.decodeRaw(m.Payload, busName, event.DecodeEntry)
	case legacyMark:
		e, bad = r.decodeRaw(m.Payload, busName, event.DecodeEnvelope)
	default:
		bad = &event.EntryError{Code: "InvalidArgument", Message: "the " + bus.EnvelopeKey + " header is routerd's own and its seal does not hold: publish entries without it"}
	}
	if bad == nil {
		if e.ID == "" {
			e.ID = uuid.NewSHA1(uuid.NameSpaceOID, []byte(m.UUID+"@"+ingested.Format(time.RFC3339Nano))).String()
		}
		// An entry without a time gets the time it was stored, given as
		// the stamp's clock rather than as the entry's Time, which
		// EventBridge's size rule would count.
		stamp := r.opts.Stamp
		stamp.Now = func() time.Time { return ingested }
		var env event.Envelope
		env, bad = event.Normalize(e, stamp)
		if bad == nil && r.opts.Schemas != nil {
			bad = r.opts.Schemas.Validate(env.Source, env.DetailType, env.Detail)
		}
		if bad == nil {
			var b []byte
			if b, bad = env.MarshalWithin(r.opts.MaxEventBytes); bad == nil {
				if !counted {
					r.countIngest("accepted")
				}
				return b, env.ID, true
			}
		}
	}
	if !counted {
		r.countIngest("rejected")
	}
	rec := rejectedRecord(busName, bad, m.Payload, ingested, r.opts.MaxEventBytes)
	if err := r.bus.Publish(RejectedTopic, message.NewMessage(m.UUID, rec)); err != nil {
		r.log.Warn("router: cannot record a rejected NATS entry; will retry", "err", err)
		bus.NackAfter(m, time.Second)
		return nil, "", false
	}
	r.log.Warn("router: rejected an entry published to NATS", "bus", busName, "reason", bad.Error())
	bus.Ack(m)
	return nil, "", false
}

// decodeRaw reads an entry published to events.<busName> with decode and refuses, as
// the HTTP doors do, one on a bus no rule knows, one whose own bus field
// names another, and a detail nested too deep.
func (r *Router) decodeRaw(payload []byte, busName string, decode func([]byte) (event.Entry, *event.EntryError)) (event.Entry, *event.EntryError) {
	e, bad := decode(payload)
	switch {
	case bad != nil:
		return e, bad
	case e.Bus != "" && e.Bus != busName:
		return e, &event.EntryError{Code: "InvalidArgument", Field: "bus", Message: fmt.Sprintf("%q differs from the bus the entry was published to (%s)", e.Bus, bus.EventsTopic(busName))}
	case !r.routes.Load().HasBus(busName):
		return e, &event.EntryError{Code: "ResourceNotFoundException", Field: "bus", Message: fmt.Sprintf("event bus %q does not exist", busName)}
	case rules.NestingDepth(e.Detail) > event.MaxDetailDepth:
		return e, &event.EntryError{Code: "MalformedDetail", Field: "detail", Message: fmt.Sprintf("nests deeper than %d levels", event.MaxDetailDepth)}
	}
	e.Bus = busName
	return e, nil
}

// rejectedRecord is RejectedTopic's record of an entry that is not an
// event. Its payload is kept as text, which escaping can make up to six
// times longer: when the record would not fit in limit bytes (0: no limit),
// only the payload's start is kept, and its full size is said.
func rejectedRecord(busName string, bad *event.EntryError, payload []byte, received time.Time, limit int) []byte {
	rec := map[string]any{
		"bus":           busName,
		"error_code":    bad.Code,
		"error_message": bad.Error(),
		"payload":       string(payload),
		"received":      received.UTC().Format(time.RFC3339Nano),
	}
	b, _ := json.Marshal(rec)
	if limit > 0 && len(b) > limit {
		keep := max(limit/6-4096, 0)
		rec["payload"] = strings.ToValidUTF8(string(payload[:min(keep, len(payload))]), "")
		rec["payload_truncated"] = true
		rec["payload_bytes"] = len(payload)
		b, _ = json.Marshal(rec)
	}
	return b
}

func (r *Router) countIngest(result string) {
	if r.opts.Ingest != nil {
		r.opts.Ingest.WithLabelValues("nats", result).Inc()
	}
}

// Metrics are the routing metrics of SPEC's table.
type Metrics struct {
	Matched   *prometheus.CounterVec // eventrouter_matched_events_total{bus}
	Triggered *prometheus.CounterVec // eventrouter_rule_triggered_total{bus,rule}
}

// NewMetrics creates the routing metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Matched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_matched_events_total",
			Help: "Events that matched at least one rule, by event bus.",
		}, []string{"bus"}),
		Triggered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_rule_triggered_total",
			Help: "Events that matched each rule, by event bus and rule.",
		}, []string{"bus", "rule"}),
	}
	if reg != nil {
		reg.MustRegister(m.Matched, m.Triggered)
	}
	return m
}

func (m *Metrics) matched(bus string, rules []string) {
	if m == nil {
		return
	}
	m.Matched.WithLabelValues(bus).Inc()
	for _, r := range rules {
		m.Triggered.WithLabelValues(bus, r).Inc()
	}
}
