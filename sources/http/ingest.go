package httpsrc

import (
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/every"
	"github.com/eventrouter/eventrouter/sources"
)

// putEventsResponse is PutEvents' answer, also used by /v1/events so that
// every door reports per-entry outcomes alike.
type putEventsResponse struct {
	FailedEntryCount int
	Entries          []resultEntry
}

// resultEntry is one entry's outcome: an EventId, or why it was refused.
type resultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// errNoIngester stands for a bus that is not there yet.
var errNoIngester = fmt.Errorf("%w: no ingester configured", sources.ErrUnavailable)

// parseFunc decodes a request body into entries; bad[i] non-nil refuses
// entry i before it reaches the Ingester.
type parseFunc func(body []byte) (entries []event.Entry, bad []*event.EntryError, _ *apiError)

// accept is an ingest request from body to per-entry results.
func (s *server) accept(r *http.Request, source string, parse parseFunc,
	message func(i int, e *event.EntryError) string) (putEventsResponse, *apiError) {
	body, aerr := readBody(r)
	var entries []event.Entry
	var bad []*event.EntryError
	if aerr == nil {
		entries, bad, aerr = parse(body)
	}
	if aerr != nil {
		return putEventsResponse{}, aerr
	}
	resp, err := s.ingest(r, source, entries, bad, message)
	if err != nil {
		return putEventsResponse{}, errUnavailable(err)
	}
	return resp, nil
}

// ingest hands the entries not refused while decoding (bad[i] == nil) to
// the Ingester and merges both kinds of refusal back in request order;
// message words a refusal for this door. A non-nil error means the bus is
// unavailable and nothing may be reported as accepted.
func (s *server) ingest(r *http.Request, source string, entries []event.Entry, bad []*event.EntryError,
	message func(i int, e *event.EntryError) string) (putEventsResponse, error) {
	good := make([]event.Entry, 0, len(entries))
	for i, e := range entries {
		if bad[i] == nil {
			good = append(good, e)
		}
	}
	if s.in == nil {
		return putEventsResponse{}, errNoIngester
	}
	// The Ingester counts what it sees; refusals made here are ours to count.
	s.countRejected(source, len(entries)-len(good))
	var results []sources.Result
	if len(good) > 0 {
		var err error
		results, err = s.in.Put(r.Context(), source, good)
		if err != nil {
			if !errors.Is(err, sources.ErrStorageFull) {
				s.log.Warn("http: ingest failed, answering 503", "source", source, "entries", len(good),
					"request_id", requestID(r.Context()), "err", err)
			} else if ok, skipped := s.fullLog.Allow(s.now()); ok {
				s.log.Warn("http: the event bus's storage is full, answering 503 (bus.nats.max_store, or min_free_disk when err says the disk; see routerctl dlq list and the consumers' backlog)",
					every.WithSkipped([]any{"source", source, "entries", len(good), "request_id", requestID(r.Context()), "err", err}, skipped)...)
			}
			return putEventsResponse{}, err
		}
	}
	resp := putEventsResponse{Entries: make([]resultEntry, len(entries))}
	next := 0
	for i := range entries {
		e := bad[i]
		if e == nil {
			res := results[next]
			next++
			if res.Err == nil {
				resp.Entries[i].EventId = res.EventID
				continue
			}
			e = res.Err
		}
		resp.FailedEntryCount++
		resp.Entries[i].ErrorCode = e.Code
		resp.Entries[i].ErrorMessage = capMessage(message(i, e))
	}
	return resp, nil
}

// maxMessage caps a per-entry message, a safety net for messages from
// other packages that might quote a client's value whole.
const maxMessage = 1024

func capMessage(m string) string {
	if len(m) <= maxMessage {
		return m
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return m[:cut] + "..."
}

// countRejected counts entries refused before reaching the Ingester.
// refuse answers a request refused whole. A client's error counts as one
// rejected event: how many the request held may be unknown, and a client
// sending nothing but bad requests must not go unseen. A refusal of ours
// (503: the bus or a certificate cannot be had) rejects nothing.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, source string, aerr *apiError) {
	if aerr.status < http.StatusInternalServerError {
		s.countRejected(source, 1)
	}
	writeError(w, r, aerr)
}

func (s *server) countRejected(source string, n int) {
	if n > 0 && s.in != nil && s.in.Metrics != nil {
		s.in.Metrics.Events.WithLabelValues(source, "rejected").Add(float64(n))
	}
}

// observe records an ingest request's duration, measured on s.now so tests
// with a fixed clock see fixed durations.
func (s *server) observe(source string, start time.Time) {
	if s.in != nil && s.in.Metrics != nil {
		s.in.Metrics.Duration.WithLabelValues(source).Observe(s.now().Sub(start).Seconds())
	}
}

// writeOutcome answers the plain-JSON endpoints (/v1/events, /v1/cloudevents,
// /v1/s3) in PutEvents' shape with a status that tells the outcome: 200 when
// every entry was accepted, 400 when any was refused (the others were
// accepted all the same).
func writeOutcome(w http.ResponseWriter, resp putEventsResponse) {
	status := http.StatusOK
	if resp.FailedEntryCount > 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, contentTypeJSON, status, resp)
}
