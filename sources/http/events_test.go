package httpsrc

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEventsOneEntry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.events(`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":1250},
		"id":"order-42-created","time":"2025-11-28T07:21:54+01:00","resources":["arn:aws:s3:::b"],"bus":"orders"}`)
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	resp := wantEntries(t, rec, http.StatusOK)
	if len(resp.Entries) != 1 || resp.Entries[0].EventId != "order-42-created" {
		t.Fatalf("answer %+v; want the client's id back", resp)
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 1 {
		t.Fatalf("%d published", len(envs))
	}
	e := envs[0]
	if e.topic != "events.orders" || e.env.ID != "order-42-created" || e.env.Time != "2025-11-28T06:21:54Z" ||
		string(e.env.Detail) != `{"total":1250}` || e.env.Source != "orders.service" || e.env.Resources[0] != "arn:aws:s3:::b" {
		t.Errorf("published %+v", e)
	}
	if got := h.count("events", "accepted"); got != 1 {
		t.Errorf("accepted counter %v", got)
	}
	if got := testutilCount(h, "events"); got != 1 {
		t.Errorf("duration histogram has %d samples, want 1", got)
	}
}

func TestEventsBatchWithRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.events(`[
		{"source":"a","detail-type":"ok","detail":{}},
		{"source":"a","detail-type":"string detail","detail":"{}"},
		{"source":"a","detail-type":"typo","detial":{}},
		{"source":"a","detail-type":"bad time","time":"1764310914"},
		{"source":"a","detail-type":"bad id","id":"has space"},
		{"detail-type":"no source"},
		7,
		{"source":"a","detail-type":"ok too","detail":{},"bus":"arn:aws:events:us-east-1:123456789012:event-bus/orders"},
		{"source":"a","detail-type":"unknown bus","detail":{},"bus":"missing"},
		{"source":["a"],"detail-type":"source list"},
		{"source":"a","detail-type":"resources","resources":["x",2]},
		{"Source":"a","DetailType":"PutEvents names"}
	]`)
	resp := wantEntries(t, rec, http.StatusBadRequest)
	want := []struct{ code, msg string }{
		{"", ""},
		{"MalformedDetail", "entry 1: detail: must be a JSON object, got a string"},
		{"InvalidArgument", `entry 2: unknown field "detial"`},
		{"InvalidArgument", "entry 3: time: \"1764310914\" is not an RFC 3339 timestamp"},
		{"InvalidArgument", "entry 4: id: must be 1 to 128 printable ASCII characters"},
		{"InvalidArgument", "entry 5: source: is required"},
		{"InvalidArgument", "entry 6: must be a JSON object, got a number"},
		{"", ""},
		{"ResourceNotFoundException", `entry 8: bus: event bus "missing" does not exist`},
		{"InvalidArgument", "entry 9: source: must be a string, got an array"},
		{"InvalidArgument", "entry 10: resources[1]: must be a string, got a number"},
		{"InvalidArgument", `entry 11: unknown field "DetailType"`},
	}
	if len(resp.Entries) != len(want) {
		t.Fatalf("answer %+v", resp)
	}
	for i, w := range want {
		got := resp.Entries[i]
		if got.ErrorCode != w.code || !strings.Contains(got.ErrorMessage, w.msg) {
			t.Errorf("entry %d: got %+v, want code %q and a message with %q", i, got, w.code, w.msg)
		}
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 2 || envs[0].env.ID != resp.Entries[0].EventId || envs[1].env.ID != resp.Entries[7].EventId ||
		envs[1].topic != "events.orders" {
		t.Errorf("published %+v for answer %+v", envs, resp)
	}
	if a, r := h.count("events", "accepted"), h.count("events", "rejected"); a != 2 || r != 10 {
		t.Errorf("counted %v accepted, %v rejected; want 2 and 10", a, r)
	}
}

func TestEventsRequestErrors(t *testing.T) {
	t.Parallel()
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"source":"s","detail-type":"d","detail":{}},`, MaxEventsPerRequest+1), ",") + "]"
	cases := []struct {
		name, body, typ, msg string
	}{
		{"truncated", `{"source":"a","detail`, "SerializationException", "invalid JSON: unexpected end of JSON input at offset 21"},
		{"bad token", `[{"source":"a"} {}]`, "SerializationException", "at offset 16"},
		{"empty", ``, "SerializationException", "at offset 0"},
		{"spaces", "  \n", "SerializationException", "at offset 3"},
		{"string", `"hello"`, "ValidationException", "got a string"},
		{"null", `null`, "ValidationException", "got null"},
		{"empty array", `[]`, "ValidationException", "no entries"},
		{"too many", many, "ValidationException", "101 entries in one request, more than the limit of 100"},
		{"invalid UTF-8", "{\"source\":\"a\xc3\"}", "SerializationException", "not valid UTF-8 at offset 12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.events(c.body)
			if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
				t.Errorf("Content-Type %q", ct)
			}
			if msg := wantError(t, rec, http.StatusBadRequest, c.typ); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q, want it to contain %q", msg, c.msg)
			}
		})
	}
	h := newHarness(t)
	wantEntries(t, h.events(strings.Replace(many, `{"source":"s","detail-type":"d","detail":{}},`, "", 1)), http.StatusOK)
	if n := len(h.pub.envelopes(t)); n != MaxEventsPerRequest {
		t.Errorf("%d published, want %d", n, MaxEventsPerRequest)
	}
	wantError(t, h.do("POST", "/v1/events", `{"source":"a","detail-type":"b","detail":{}}`), http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException")
	wantError(t, h.do("POST", "/v1/events", `{"source":"a","detail-type":"b","detail":{}}`, "Content-Type", "application/x-www-form-urlencoded"),
		http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException")
}

func TestEventsBusUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.pub.setFail(errBusDown)
	rec := h.events(`[{"source":"a","detail-type":"b","detail":{}}]`)
	wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException")
	if rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != contentTypeJSON {
		t.Errorf("headers %v", rec.Header())
	}
	if r := h.count("events", "rejected"); r != 1 {
		t.Errorf("rejected counter %v", r)
	}
	h.pub.setFail(nil)
	wantEntries(t, h.events(`[{"source":"a","detail-type":"b","detail":{}}]`), http.StatusOK)
}

// TestLowerCaseRFC3339 checks that a time with RFC 3339's lower-case t and
// z (section 5.6) is read.
func TestLowerCaseRFC3339(t *testing.T) {
	tm, err := rfc3339("2026-01-01t00:00:00z")
	if err != nil || !tm.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("rfc3339: %v %v", tm, err)
	}
}
