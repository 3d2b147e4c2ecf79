package httpsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sources"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// fakePub is the bus: it records what is published and fails on demand.
type fakePub struct {
	mu    sync.Mutex
	fail  error
	panic bool
	msgs  []published
}

type published struct {
	topic string
	msg   *message.Message
}

func (p *fakePub) PublishAll(out []bus.Outgoing) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.panic {
		panic("fakePub: boom")
	}
	if p.fail != nil {
		return p.fail
	}
	for _, o := range out {
		p.msgs = append(p.msgs, published{o.Topic, o.Message()})
	}
	return nil
}

func (p *fakePub) setFail(err error) {
	p.mu.Lock()
	p.fail = err
	p.mu.Unlock()
}

// envelopes decodes everything published so far, checking each message is
// a well-formed envelope whose UUID is the event id.
func (p *fakePub) envelopes(t testing.TB) []publishedEnv {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]publishedEnv, 0, len(p.msgs))
	for _, m := range p.msgs {
		var env event.Envelope
		if err := json.Unmarshal(m.msg.Payload, &env); err != nil {
			t.Fatalf("published payload is not an envelope: %v: %s", err, m.msg.Payload)
		}
		if m.msg.UUID != env.ID {
			t.Errorf("message UUID %q != envelope id %q", m.msg.UUID, env.ID)
		}
		if !testSeal.Valid(m.topic, m.msg.Payload, m.msg.Metadata.Get(bus.EnvelopeKey)) {
			t.Errorf("message lacks a valid %s seal", bus.EnvelopeKey)
		}
		out = append(out, publishedEnv{m.topic, env})
	}
	return out
}

type publishedEnv struct {
	topic string
	env   event.Envelope
}

var fixedNow = time.Date(2026, 11, 28, 6, 21, 54, 0, time.UTC)

// harness is a handler from New behind a real Ingester on a fakePub.
type harness struct {
	t   testing.TB
	pub *fakePub
	in  *sources.Ingester
	h   http.Handler
}

// testSeal marks the envelopes the harness's ingester publishes.
var testSeal = bus.NewSeal([]byte("a test key, 32 bytes long ......"))

func newHarness(t testing.TB, mod ...func(*Options)) *harness {
	t.Helper()
	pub := &fakePub{}
	in := &sources.Ingester{
		Pub:     pub,
		Stamp:   event.Stamp{Account: "000000000000", Region: "local", Now: func() time.Time { return fixedNow }},
		Metrics: sources.NewMetrics(prometheus.NewRegistry()),
		KnownBus: func(name string) bool {
			return name != "missing"
		},
		Seal: testSeal,
	}
	opts := Options{Ingester: in, Now: func() time.Time { return fixedNow }}
	for _, m := range mod {
		m(&opts)
	}
	opts.HTTPClient = loopbackOnly(opts.HTTPClient)
	return &harness{t: t, pub: pub, in: in, h: New(opts)}
}

// loopbackOnly copies client (nil: a default one, trusting only the
// system's roots) so that its requests fail for any host but 127.0.0.1:
// the fixtures name real SNS hosts, and no test may reach AWS.
func loopbackOnly(client *http.Client) *http.Client {
	c := http.Client{}
	if client != nil {
		c = *client
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Hostname() != "127.0.0.1" {
			return nil, fmt.Errorf("test: no network beyond 127.0.0.1 (%s)", r.URL.Host)
		}
		return next.RoundTrip(r)
	})
	return &c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// do sends a request; headers alternate names and values.
func (h *harness) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if id := rec.Header().Get("X-Amzn-RequestId"); uuid.Validate(id) != nil {
		h.t.Errorf("%s %s: x-amzn-RequestId %q is not a UUID", method, path, id)
	}
	if rec.Code == http.StatusInternalServerError && !h.pub.panic {
		h.t.Errorf("%s %s: 500: %s", method, path, rec.Body)
	}
	return rec
}

func (h *harness) putEvents(body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do("POST", "/", body, "X-Amz-Target", targetPutEvents, "Content-Type", contentTypeAmzJSON)
}

func (h *harness) testPattern(body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do("POST", "/", body, "X-Amz-Target", targetTestEventPattern, "Content-Type", contentTypeAmzJSON)
}

func (h *harness) events(body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do("POST", "/v1/events", body, "Content-Type", "application/json")
}

// count reads eventrouter_ingest_events_total{source,result}.
func (h *harness) count(source, result string) float64 {
	return testutil.ToFloat64(h.in.Metrics.Events.WithLabelValues(source, result))
}

// awsErr is AWS's JSON error shape.
type awsErr struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// wantError checks a whole-request error answer and returns its message.
func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, typ string) string {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	var e awsErr
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body is not AWS's shape: %v", err)
	}
	if e.Type != typ {
		t.Errorf("__type %q, want %q (message %q)", e.Type, typ, e.Message)
	}
	if e.Message == "" {
		t.Errorf("%s without a message", typ)
	}
	if got := rec.Header().Get("X-Amzn-ErrorType"); got != typ {
		t.Errorf("X-Amzn-ErrorType %q, want %q", got, typ)
	}
	return e.Message
}

// wantEntries decodes a PutEvents-shaped answer and checks its status.
func wantEntries(t testing.TB, rec *httptest.ResponseRecorder, status int) putEventsResponse {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	var resp putEventsResponse
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("answer is not PutEvents' shape: %v", err)
	}
	failed := 0
	for i, e := range resp.Entries {
		if (e.EventId == "") == (e.ErrorCode == "") || (e.ErrorCode == "") != (e.ErrorMessage == "") {
			t.Errorf("entry %d has neither or both of EventId and ErrorCode: %+v", i, e)
		}
		if e.ErrorCode != "" {
			failed++
		}
	}
	if failed != resp.FailedEntryCount {
		t.Errorf("FailedEntryCount %d, but %d entries failed", resp.FailedEntryCount, failed)
	}
	return resp
}

var errBusDown = errors.New("nats: no responders available for request")

// testutilCount is the number of request durations observed for source.
func testutilCount(h *harness, source string) uint64 {
	h.t.Helper()
	var m dto.Metric
	if err := h.in.Metrics.Duration.WithLabelValues(source).(prometheus.Metric).Write(&m); err != nil {
		h.t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
