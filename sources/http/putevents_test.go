package httpsrc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestPutEventsAccepts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.putEvents(`{"Entries":[
		{"Source":"orders.service","DetailType":"OrderCreated","Detail":"{\"total\":1250}","Resources":["arn:aws:s3:::b"]},
		{"Source":"orders.service","DetailType":"OrderShipped","Detail":"{}","Time":1764310914.5,
		 "EventBusName":"arn:aws:events:eu-west-1:123456789012:event-bus/orders","TraceHeader":"Root=1-abc"}
	],"EndpointId":"abcde.veo"}`)
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeAmzJSON {
		t.Errorf("Content-Type %q", ct)
	}
	resp := wantEntries(t, rec, http.StatusOK)
	if resp.FailedEntryCount != 0 || len(resp.Entries) != 2 {
		t.Fatalf("answer %+v", resp)
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 2 {
		t.Fatalf("%d published, want 2", len(envs))
	}
	byID := map[string]publishedEnv{}
	for _, e := range envs {
		byID[e.env.ID] = e
	}
	first, second := byID[resp.Entries[0].EventId], byID[resp.Entries[1].EventId]
	if first.topic != "events.default" || first.env.DetailType != "OrderCreated" ||
		string(first.env.Detail) != `{"total":1250}` || first.env.Time != "2026-11-28T06:21:54Z" ||
		first.env.Account != "000000000000" || first.env.Region != "local" || first.env.Resources[0] != "arn:aws:s3:::b" {
		t.Errorf("first entry published as %+v", first)
	}
	if second.topic != "events.orders" || second.env.DetailType != "OrderShipped" || second.env.Time != "2025-11-28T06:21:54Z" {
		t.Errorf("second entry (bus ARN, epoch time) published as %+v", second)
	}
	if got := h.count("putevents", "accepted"); got != 2 {
		t.Errorf("accepted counter %v, want 2", got)
	}
	if got := testutilCount(h, "putevents"); got != 1 {
		t.Errorf("duration histogram has %d samples, want 1", got)
	}
}

func TestPutEventsPerEntryErrorsInOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	entries := []string{
		`{"Source":"a","DetailType":"ok","Detail":"{}"}`,
		`{"DetailType":"no source","Detail":"{}"}`,
		`{"Source":"a","DetailType":"bad detail","Detail":"{not json"}`,
		`{"Source":"a","DetailType":"array detail","Detail":"[1,2]"}`,
		`{"Source":"a","DetailType":"ok too","Detail":"{}"}`,
		`{"Source":"a","DetailType":"bad bus","Detail":"{}","EventBusName":"no/such"}`,
		`{"Source":"a","DetailType":"unknown bus","Detail":"{}","EventBusName":"missing"}`,
		`{"Source":"a","DetailType":"bad time","Detail":"{}","Time":"yesterday"}`,
		`{"Source":"a","DetailType":"bad arn","Detail":"{}","EventBusName":"arn:aws:sqs:us-east-1:1:q"}`,
		`{"Source":"a","DetailType":"deep","Detail":"` + strings.Repeat("[", MaxDetailDepth+1) + `"}`,
	}
	rec := h.putEvents(`{"Entries":[` + strings.Join(entries, ",") + `]}`)
	resp := wantEntries(t, rec, http.StatusOK)
	want := []struct{ code, msg string }{
		{"", ""},
		{"InvalidArgument", "Parameter Source is not valid"},
		{"MalformedDetail", "Parameter Detail is not valid. Reason: Detail is not valid JSON"},
		{"MalformedDetail", "must be a JSON object"},
		{"", ""},
		{"InvalidArgument", "Parameter EventBusName is not valid"},
		{"ResourceNotFoundException", `EventBusName: event bus "missing" does not exist`},
		{"InvalidArgument", "Parameter Time is not valid"},
		{"InvalidArgument", "is not an event bus ARN"},
		{"MalformedDetail", "nests deeper than 1000 levels"},
	}
	if len(resp.Entries) != len(want) || resp.FailedEntryCount != 8 {
		t.Fatalf("answer %+v", resp)
	}
	for i, w := range want {
		got := resp.Entries[i]
		if got.ErrorCode != w.code || !strings.Contains(got.ErrorMessage, w.msg) {
			t.Errorf("entry %d: got %+v, want code %q and a message with %q", i, got, w.code, w.msg)
		}
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 2 || envs[0].env.ID != resp.Entries[0].EventId || envs[1].env.ID != resp.Entries[4].EventId {
		t.Errorf("published %+v for answer %+v", envs, resp)
	}
	if a, r := h.count("putevents", "accepted"), h.count("putevents", "rejected"); a != 2 || r != 8 {
		t.Errorf("counted %v accepted, %v rejected; want 2 and 8", a, r)
	}
}

func TestPutEventsTime(t *testing.T) {
	t.Parallel()
	const (
		bad       = "Parameter Time is not valid. Reason: Time "
		epochNote = " is not a valid time: seconds since the epoch must be from 0 to 253402300799"
		outside   = " is out of range: a time must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
	)
	cases := []struct {
		time, want string // the envelope's time, or the refusal's message
	}{
		{`1764310914`, "2025-11-28T06:21:54Z"},
		{`1764310914.999`, "2025-11-28T06:21:54Z"},
		{`1.764310914E9`, "2025-11-28T06:21:54Z"},
		{`0`, "1970-01-01T00:00:00Z"},
		{`"2025-11-28T06:21:54Z"`, "2025-11-28T06:21:54Z"},
		{`"2025-11-28T07:21:54.123+01:00"`, "2025-11-28T06:21:54Z"},
		{`"9999-12-31T23:59:59Z"`, "9999-12-31T23:59:59Z"},
		{`null`, "2026-11-28T06:21:54Z"},
		{`-5`, bad + "-5" + epochNote},
		{`1e999`, bad + "1e999" + epochNote},
		{`253402300800`, bad + "253402300800" + epochNote},
		{`"1764310914"`, bad + `"1764310914" is not an RFC 3339 timestamp such as 2026-11-28T06:21:54Z`},
		{`"2025-11-28"`, bad + `"2025-11-28" is not an RFC 3339 timestamp such as 2026-11-28T06:21:54Z`},
		// The zero time must not pass for "no time" and become the time of
		// acceptance.
		{`"0001-01-01T00:00:00Z"`, bad + `"0001-01-01T00:00:00Z"` + outside},
		{`"1969-12-31T23:59:59Z"`, bad + `"1969-12-31T23:59:59Z"` + outside},
		{`"9999-12-31T23:59:59-01:00"`, bad + `"9999-12-31T23:59:59-01:00"` + outside},
	}
	for _, c := range cases {
		t.Run(c.time, func(t *testing.T) {
			h := newHarness(t)
			resp := wantEntries(t, h.putEvents(`{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}","Time":`+c.time+`}]}`), http.StatusOK)
			if strings.HasPrefix(c.want, bad) {
				if e := resp.Entries[0]; e.ErrorCode != "InvalidArgument" || e.ErrorMessage != c.want {
					t.Errorf("got %+v, want the entry refused with %q", e, c.want)
				}
				return
			}
			envs := h.pub.envelopes(t)
			if len(envs) != 1 || envs[0].env.Time != c.want {
				t.Fatalf("answer %+v, published %+v; want time %s", resp, envs, c.want)
			}
		})
	}
}

// TestPutEventsSizeRule checks EventBridge's entry size rule: Source +
// DetailType + Detail + Resources bytes, plus 14 when Time is given.
func TestPutEventsSizeRule(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	entry := func(total int, withTime bool) string {
		src, dt, res := "orders.service", "OrderCreated", "arn:aws:s3:::bucket"
		pad := total - len(src) - len(dt) - len(res) - len(`{"p":""}`)
		detail := `{\"p\":\"` + strings.Repeat("x", pad) + `\"}`
		tm := ""
		if withTime {
			tm = `,"Time":1764310914`
		}
		return fmt.Sprintf(`{"Source":%q,"DetailType":%q,"Detail":"%s","Resources":[%q]%s}`, src, dt, detail, res, tm)
	}
	h := newHarness(t)
	resp := wantEntries(t, h.putEvents(`{"Entries":[`+
		entry(limit, false)+","+ // exactly the limit
		entry(limit+1, false)+","+ // one byte over
		entry(limit-14, true)+","+ // exactly the limit with Time
		entry(limit-13, true)+ // one byte over with Time
		`]}`), http.StatusOK)
	for i, refused := range []bool{false, true, false, true} {
		e := resp.Entries[i]
		if refused != (e.ErrorCode != "") {
			t.Errorf("entry %d: refused %v, want %v: %s", i, e.ErrorCode != "", refused, e.ErrorMessage)
		}
		if refused && (e.ErrorCode != "InvalidArgument" || !strings.Contains(e.ErrorMessage, "exceeds the limit")) {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
}

func TestPutEventsRequestErrors(t *testing.T) {
	t.Parallel()
	many := strings.Repeat(`{"Source":"s","DetailType":"d"},`, 11)
	cases := []struct {
		name, body, typ, msg string
	}{
		{"no entries", `{"Entries":[]}`, "ValidationException", "length between 1 and 10, got 0"},
		{"eleven entries", `{"Entries":[` + strings.TrimSuffix(many, ",") + `]}`, "ValidationException", "got 11"},
		{"missing Entries", `{}`, "ValidationException", "Value null at 'entries'"},
		{"null Entries", `{"Entries":null}`, "ValidationException", "Value null at 'entries'"},
		{"lowercase entries", `{"entries":[{"Source":"s","DetailType":"d"}]}`, "ValidationException", "Value null at 'entries'"},
		{"truncated", `{"Entries":[{"Source":"s"`, "SerializationException", "at offset 25"},
		{"syntax", `{"Entries":[{"Source":"s",}]}`, "SerializationException", "invalid character '}' looking for beginning of object key string at offset 26"},
		{"empty", ``, "SerializationException", "at offset 0"},
		{"trailing data", `{"Entries":[]} {}`, "SerializationException", "after top-level value at offset 15"},
		{"array body", `[{"Source":"s"}]`, "SerializationException", "must be a JSON object, got array"},
		{"Entries object", `{"Entries":{"Source":"s"}}`, "SerializationException", "Entries: must be an array, got an object"},
		{"Source number", `{"Entries":[{"Source":5,"DetailType":"d"}]}`, "SerializationException", "Entries[0].Source: must be a string, got a number"},
		{"entry string", `{"Entries":[{"Source":"s","DetailType":"d"},"x"]}`, "SerializationException", "Entries[1]: must be an object, got a string"},
		{"Resources strings", `{"Entries":[{"Source":"s","DetailType":"d","Resources":[1]}]}`, "SerializationException", "Entries[0].Resources[0]: must be a string"},
		{"Time bool", `{"Entries":[{"Source":"s","DetailType":"d","Time":true}]}`, "SerializationException", "Entries[0].Time: must be a number"},
		{"Detail object", `{"Entries":[{"Source":"s","DetailType":"d","Detail":{}}]}`, "SerializationException", "Entries[0].Detail: must be a string, got an object"},
		{"invalid UTF-8", "{\"Entries\":[{\"Source\":\"\xff\"}]}", "SerializationException", "not valid UTF-8 at offset 23"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.putEvents(c.body)
			if ct := rec.Header().Get("Content-Type"); ct != contentTypeAmzJSON {
				t.Errorf("Content-Type %q", ct)
			}
			if msg := wantError(t, rec, http.StatusBadRequest, c.typ); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q, want it to contain %q", msg, c.msg)
			}
			if n := len(h.pub.envelopes(t)); n != 0 {
				t.Errorf("%d published", n)
			}
		})
	}
}

// Detail, DetailType and Source are required: EventBridge fails each
// entry without all three, and the whole request when no entry has them.
func TestPutEventsDetailRequired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.putEvents(`{"Entries":[{"Source":"s","DetailType":"no detail"},{"Source":"s","DetailType":"empty","Detail":""},` +
		`{"Source":"s","DetailType":"null","Detail":null},{"Source":"s","DetailType":"ok","Detail":"{}"}]}`)
	resp := wantEntries(t, rec, http.StatusOK)
	if len(resp.Entries) != 4 || resp.FailedEntryCount != 3 || resp.Entries[3].EventId == "" {
		t.Fatalf("answer %+v", resp)
	}
	for _, e := range resp.Entries[:3] {
		if e.ErrorCode != "InvalidArgument" || e.ErrorMessage != "Parameter Detail is not valid. Reason: Detail is required" {
			t.Errorf("entry without Detail: %+v", e)
		}
	}
	if n := len(h.pub.envelopes(t)); n != 1 {
		t.Errorf("%d published, want 1", n)
	}
	for _, body := range []string{
		`{"Entries":[{"Source":"s","DetailType":"d"}]}`,
		`{"Entries":[{"Source":"s","DetailType":"d","Detail":""},{"DetailType":"d","Detail":"{}"},{"Source":"s","Detail":"{}"},null]}`,
	} {
		msg := wantError(t, h.putEvents(body), http.StatusBadRequest, "ValidationException")
		if !strings.Contains(msg, "no entry has all of Source, DetailType and Detail") {
			t.Errorf("%s: message %q", body, msg)
		}
	}
	if n := len(h.pub.envelopes(t)); n != 1 {
		t.Errorf("%d published, want 1", n)
	}
}

// A DetailType of 100 two-byte characters is within EventBridge's limit of
// 128 characters, though it is 200 bytes.
func TestPutEventsLimitsCountCharacters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp := wantEntries(t, h.putEvents(`{"Entries":[{"Source":"s","DetailType":"`+strings.Repeat("é", 100)+`","Detail":"{}"},`+
		`{"Source":"s","DetailType":"`+strings.Repeat("é", 129)+`","Detail":"{}"}]}`), http.StatusOK)
	if resp.Entries[0].EventId == "" {
		t.Errorf("100 × é refused: %+v", resp.Entries[0])
	}
	if e := resp.Entries[1]; e.ErrorCode != "InvalidArgument" || !strings.Contains(e.ErrorMessage, "at most 128 characters, got 129") {
		t.Errorf("129 × é: %+v", e)
	}
}

// /v1/events refuses an entry without detail on its own: the answer says
// which entries, as for any other refusal.
func TestEventsDetailRequired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp := wantEntries(t, h.events(`[{"source":"s","detail-type":"d"},{"source":"s","detail-type":"d","detail":null},{"source":"s","detail-type":"d","detail":{}}]`), http.StatusBadRequest)
	if len(resp.Entries) != 3 || resp.FailedEntryCount != 2 || resp.Entries[2].EventId == "" {
		t.Fatalf("answer %+v", resp)
	}
	for i, e := range resp.Entries[:2] {
		if e.ErrorCode != "InvalidArgument" || e.ErrorMessage != fmt.Sprintf("entry %d: detail: is required", i) {
			t.Errorf("entry without detail: %+v", e)
		}
	}
}

func TestPutEventsBusUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.pub.setFail(errBusDown)
	rec := h.putEvents(`{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"},{"Source":"","DetailType":"d"}]}`)
	msg := wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException")
	if rec.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	if strings.Contains(msg, "responders") {
		t.Errorf("the bus's own error leaks to the client: %q", msg)
	}
	if a, r := h.count("putevents", "accepted"), h.count("putevents", "rejected"); a != 0 || r != 2 {
		t.Errorf("counted %v accepted, %v rejected; want 0 and 2", a, r)
	}
	h2 := newHarness(t, func(o *Options) { o.Ingester = nil })
	wantError(t, h2.putEvents(`{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}`), http.StatusServiceUnavailable, "ServiceUnavailableException")
}

func TestAWSTargetAndContentType(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	body := `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}`
	for _, target := range []string{"AWSEvents.PutRule", "PutEvents", ""} {
		rec := h.do("POST", "/", body, "X-Amz-Target", target, "Content-Type", contentTypeAmzJSON)
		if rec.Header().Get("Content-Type") != contentTypeAmzJSON {
			t.Errorf("target %q: Content-Type %q", target, rec.Header().Get("Content-Type"))
		}
		wantError(t, rec, http.StatusBadRequest, "UnknownOperationException")
	}
	for _, ct := range []string{"application/json", "application/x-amz-json-1.0", "application/json; charset=utf-8"} {
		wantEntries(t, h.do("POST", "/", body, "X-Amz-Target", targetPutEvents, "Content-Type", ct), http.StatusOK)
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "garbage/"} {
		wantError(t, h.do("POST", "/", body, "X-Amz-Target", targetPutEvents, "Content-Type", ct), http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException")
	}
}

func TestTestEventPattern(t *testing.T) {
	t.Parallel()
	ev := `{"id":"1","account":"000000000000","source":"orders.service","time":"2026-11-28T06:21:54Z","region":"local","detail-type":"OrderCreated","detail":{"total":1250}}`
	req := func(pattern, event string) string {
		b, _ := json.Marshal(map[string]string{"EventPattern": pattern, "Event": event})
		return string(b)
	}
	h := newHarness(t)
	for _, c := range []struct {
		pattern, event string
		want           bool
	}{
		{`{"source":["orders.service"],"detail":{"total":[{"numeric":[">=",1000]}]}}`, ev, true},
		{`{"source":["billing"]}`, ev, false},
		{`{"source":["orders.service"]}`, `{"source":"orders.service"}`, true}, // lenient: a bare event
	} {
		rec := h.testPattern(req(c.pattern, c.event))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != contentTypeAmzJSON {
			t.Fatalf("status %d, %s: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if got, want := strings.TrimSpace(rec.Body.String()), fmt.Sprintf(`{"Result":%v}`, c.want); got != want {
			t.Errorf("pattern %s: %s, want %s", c.pattern, got, want)
		}
	}
	for _, c := range []struct {
		name, body, typ, msg string
	}{
		{"bad operator", req(`{"detail":{"total":[{"numeric":[">=","x"]}]}}`, ev), "InvalidEventPatternException", "detail.total: "},
		{"pattern not JSON", req(`{"source":`, ev), "InvalidEventPatternException", "invalid JSON"},
		{"pattern array", req(`[1]`, ev), "InvalidEventPatternException", "must be a JSON object"},
		{"event not JSON", req(`{"source":["x"]}`, `{"a":`), "ValidationException", "Event: invalid JSON"},
		{"event array", req(`{"source":["x"]}`, `[]`), "ValidationException", "Event: must be a JSON object"},
		{"event deep", req(`{"source":["x"]}`, strings.Repeat(`{"a":`, 2000)), "ValidationException", "nests deeper than 1000"},
		{"no event", `{"EventPattern":"{\"a\":[1]}"}`, "ValidationException", "'event'"},
		{"no pattern", `{"Event":"{}"}`, "ValidationException", "'eventPattern'"},
		{"event object", `{"EventPattern":"{}","Event":{}}`, "SerializationException", "Event: must be a string"},
		{"body not JSON", `{`, "SerializationException", "at offset 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if msg := wantError(t, h.testPattern(c.body), http.StatusBadRequest, c.typ); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q, want it to contain %q", msg, c.msg)
			}
		})
	}
}

// TestWholeRequestRefusalsCounted checks that requests refused as a whole
// (too many entries, malformed JSON) count as rejected, once each.
func TestWholeRequestRefusalsCounted(t *testing.T) {
	h := newHarness(t)
	entry := `{"Source":"s","DetailType":"d","Detail":"{}"}`
	eleven := `{"Entries":[` + strings.TrimSuffix(strings.Repeat(entry+",", 11), ",") + `]}`
	wantError(t, h.putEvents(eleven), 400, "ValidationException")
	wantError(t, h.putEvents(`{"Entries":[`), 400, "SerializationException")
	if got := h.count("putevents", "rejected"); got != 2 {
		t.Errorf("rejected = %v after two refused requests, want 2", got)
	}
	if rec := h.events(`{"source":`); rec.Code != 400 {
		t.Fatalf("/v1/events with broken JSON: %d", rec.Code)
	}
	if got := h.count("events", "rejected"); got != 1 {
		t.Errorf("events rejected = %v, want 1", got)
	}
}
