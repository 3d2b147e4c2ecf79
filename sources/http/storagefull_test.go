package httpsrc

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/bus"
)

// errFull is the bus refusing a message for lack of room, as JetStream
// words it.
var errFull = fmt.Errorf("bus: publish to events.default: %w: nats: API error: code=503 err_code=10023 description=insufficient resources", bus.ErrStorageFull)

// TestStorageFull checks every door's answer when the bus's storage is
// full: 503 ServiceUnavailableException that says so, with a Retry-After
// for the room to come back, never the bus's own words; one warning in
// the log for many refusals; and, when only some entries of a batch were
// stored, a retryable ThrottlingException for the others.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := newHarness(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	h.pub.setFail(&bus.PublishError{Errs: []error{errFull}})
	entry := `{"Source":"s","DetailType":"d","Detail":"{}"}`
	for name, do := range map[string]func() *httptest.ResponseRecorder{
		"PutEvents":  func() *httptest.ResponseRecorder { return h.putEvents(`{"Entries":[` + entry + `]}`) },
		"/v1/events": func() *httptest.ResponseRecorder { return h.events(`{"source":"s","detail-type":"d","detail":{}}`) },
		"/v1/cloudevents": func() *httptest.ResponseRecorder {
			return h.cloudEvents(`{"specversion":"1.0","type":"t","source":"/s","id":"1","data":{}}`, "Content-Type", ceStructuredType)
		},
	} {
		rec := do()
		msg := wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException")
		if msg != "the event bus's storage is full and nothing was accepted; retry later" {
			t.Errorf("%s: message %q", name, msg)
		}
		if ra := rec.Header().Get("Retry-After"); ra != "5" {
			t.Errorf("%s: Retry-After %q, want 5", name, ra)
		}
	}
	if n := strings.Count(logs.String(), "storage is full, answering 503"); n != 1 {
		t.Errorf("%d warnings for three refusals within seconds, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "ingest failed") {
		t.Errorf("a full store logged as a failure of the bus:\n%s", logs.String())
	}

	h.pub.setFail(&bus.PublishError{Errs: []error{nil, errFull}})
	resp := wantEntries(t, h.putEvents(`{"Entries":[`+entry+`,`+entry+`]}`), http.StatusOK)
	if resp.FailedEntryCount != 1 || resp.Entries[0].EventId == "" || resp.Entries[1].ErrorCode != "ThrottlingException" ||
		resp.Entries[1].ErrorMessage != "not stored: the event bus's storage is full; send it again later" {
		t.Errorf("half stored: %+v", resp)
	}
}
