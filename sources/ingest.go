// Package sources takes events in: over HTTP (sources/http) and, through
// the bus itself, over NATS. Whatever the door, an entry is normalised into
// the EventBridge envelope, given its id, and published durably on its
// bus's topic before the client hears "accepted".
package sources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/prometheus/client_golang/prometheus"
)

// Publisher is the part of the bus ingest needs.
type Publisher interface {
	PublishAll(out []bus.Outgoing) error
}

// ErrUnavailable wraps a bus failure: nothing can be accepted (HTTP 503).
var ErrUnavailable = errors.New("event bus unavailable")

// ErrStorageFull is the bus's refusal for lack of room (bus.ErrStorageFull),
// which Put's ErrUnavailable errors and an entry's ThrottlingException
// wrap: the client should send again later.
var ErrStorageFull = bus.ErrStorageFull

// Ingester normalises entries and publishes them on the bus.
type Ingester struct {
	Pub     Publisher
	Stamp   event.Stamp
	Metrics *Metrics
	// KnownBus reports whether a bus exists (some rule is on it, or it is
	// the default bus); nil accepts every valid name.
	KnownBus func(name string) bool
	// Schemas checks each entry's detail against the JSON Schema configured
	// for its source and detail-type (schemas.Set, or schemas.Live to swap
	// sets on reload); an entry that fails is refused with its violations,
	// like any other invalid entry, and is never published. Nil checks
	// nothing.
	Schemas interface {
		Validate(source, detailType string, detail []byte) *event.EntryError
	}
	// MaxEventBytes refuses envelopes larger than the bus carries
	// (bus.MaxEventBytes); 0 takes any size.
	MaxEventBytes int
	// Seal marks each envelope as checked (bus.EnvelopeKey), so that the
	// router does not take it for a raw NATS entry; the bus's own.
	Seal *bus.Seal
}

// Result is the outcome for one entry: its event id, or why it was refused.
type Result struct {
	EventID string
	Err     *event.EntryError
}

// Put validates and publishes entries, returning one Result per entry in
// order. Entries that fail validation are refused individually; the others
// are on the bus when Put returns nil, but for those the bus did not store
// while it stored others (their Err is ThrottlingException when the bus's
// storage is full, else InternalFailure). A bus failure that stored none
// returns an error wrapping ErrUnavailable, and ErrStorageFull when that
// was the cause.
func (in *Ingester) Put(ctx context.Context, source string, entries []event.Entry) ([]Result, error) {
	results := make([]Result, len(entries))
	out := make([]bus.Outgoing, 0, len(entries))
	var sent [10]int // the entry each of out is; a PutEvents batch needs no allocation
	outEntry := sent[:0]
	var topic, topicBus string // the last entry's: a request's entries share one
	for i, e := range entries {
		if e.Bus == "" {
			e.Bus = event.DefaultBus
		}
		generated := e.ID == "" // Normalize makes one
		env, bad := event.Normalize(e, in.Stamp)
		if bad == nil && in.KnownBus != nil && !in.KnownBus(e.Bus) {
			bad = &event.EntryError{Code: "ResourceNotFoundException", Field: "EventBusName", Message: fmt.Sprintf("event bus %q does not exist", e.Bus)}
		}
		if bad == nil && in.Schemas != nil {
			// After Normalize: detail is present, trimmed, and known
			// to be a JSON object.
			bad = in.Schemas.Validate(env.Source, env.DetailType, env.Detail)
		}
		if bad != nil {
			results[i].Err = bad
			continue
		}
		payload, bad := env.MarshalWithin(in.MaxEventBytes)
		if bad != nil {
			results[i].Err = bad
			continue
		}
		// A generated id: nobody can send it again, so the bus need not
		// remember it (see bus.FreshIDKey). A client's own id is
		// remembered, so that its retries are stored once.
		if topic == "" || e.Bus != topicBus {
			topic, topicBus = bus.EventsTopic(e.Bus), e.Bus
		}
		out = append(out, bus.Outgoing{Topic: topic, UUID: env.ID, Payload: payload,
			Metadata: []string{bus.EnvelopeKey, in.Seal.Tag(topic, payload)}, FreshID: generated})
		outEntry = append(outEntry, i)
		results[i].EventID = env.ID
	}
	if len(out) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		// Every bus's events at once: one round trip to the bus.
		if err := in.Pub.PublishAll(out); err != nil {
			var pe *bus.PublishError
			if !errors.As(err, &pe) || pe.StoredNone() {
				in.Metrics.count(source, "rejected", len(entries))
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			// Some are stored: they are accepted, and the client hears
			// which others to send again, as from PutEvents on AWS.
			for j, perr := range pe.Errs {
				switch {
				case perr == nil:
				case errors.Is(perr, ErrStorageFull):
					// EventBridge's retryable code for "not now".
					results[outEntry[j]] = Result{Err: &event.EntryError{Code: "ThrottlingException", Message: "not stored: the event bus's storage is full; send it again later"}}
				default:
					results[outEntry[j]] = Result{Err: &event.EntryError{Code: "InternalFailure", Message: "not stored on the event bus; send it again: " + perr.Error()}}
				}
			}
		}
	}
	accepted := 0
	for _, r := range results {
		if r.Err == nil {
			accepted++
		}
	}
	in.Metrics.count(source, "accepted", accepted)
	in.Metrics.count(source, "rejected", len(entries)-accepted)
	return results, nil
}

// Metrics are the ingest metrics of SPEC's table.
type Metrics struct {
	Events    *prometheus.CounterVec   // eventrouter_ingest_events_total{source,result}
	Duration  *prometheus.HistogramVec // eventrouter_ingest_request_duration_seconds{source}
	Throttled *prometheus.CounterVec   // eventrouter_throttled_requests_total{source}
}

// NewMetrics creates the ingest metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_ingest_events_total",
			Help: "Events received, by ingest source (putevents, events, cloudevents, s3, nats) and result (accepted, rejected); a request refused whole counts as one rejected.",
		}, []string{"source", "result"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eventrouter_ingest_request_duration_seconds",
			Help:    "Time to answer an ingest request, including the durable publish.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"source"}),
		Throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_throttled_requests_total",
			Help: "Requests refused with 429 by the throttle, by ingest source.",
		}, []string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Duration, m.Throttled)
	}
	// Shown at zero from the start, as the delivery metrics are, so that a
	// dashboard's rate of them is a flat line rather than no data.
	for _, door := range httpDoors {
		m.Throttled.WithLabelValues(door)
	}
	return m
}

// httpDoors are the ingest sources behind the HTTP throttle.
var httpDoors = []string{"putevents", "events", "cloudevents", "s3"}

func (m *Metrics) count(source, result string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.Events.WithLabelValues(source, result).Add(float64(n))
}

// Observe records the duration of one request.
func (m *Metrics) Observe(source string, start time.Time) {
	if m == nil {
		return
	}
	m.Duration.WithLabelValues(source).Observe(time.Since(start).Seconds())
}
