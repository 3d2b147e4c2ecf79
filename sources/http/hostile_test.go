package httpsrc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHostileBodies sends what an attacker or a broken client might: every
// answer must be a 2xx or 4xx in the documented shape, quickly, and nothing
// malformed may reach the bus.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	deep := func(open string, n int) string { return strings.Repeat(open, n) }
	detailString := func(d string) string { // d as a PutEvents Detail string
		b, _ := json.Marshal(d)
		return string(b)
	}
	put := func(entry string) string { return `{"Entries":[` + entry + `]}` }
	pattern := func(p, e string) string {
		b, _ := json.Marshal(map[string]string{"EventPattern": p, "Event": e})
		return string(b)
	}
	huge := strings.Repeat("x", 1100<<10) // over the 1 MiB entry limit
	var keys strings.Builder
	for i := range 80000 { // under the 1 MiB entry limit
		fmt.Fprintf(&keys, `"k%d":1,`, i)
	}
	manyKeys := strings.TrimSuffix(keys.String(), ",")
	cases := []struct {
		name   string
		target string // X-Amz-Target; "" for /v1/events
		body   string
		status int
		want   string // in the answer
	}{
		// Nesting.
		{"deep body", targetPutEvents, `{"Entries":` + deep("[", 20000), 400, "exceeded max depth"},
		{"deep body events", "", deep("[", 20000), 400, "exceeded max depth"},
		{"deep Detail", targetPutEvents, put(`{"Source":"s","DetailType":"d","Detail":` + detailString(deep(`{"a":`, 20000)) + `}`), 200, "nests deeper than 1000"},
		{"deep detail", "", `{"source":"s","detail-type":"d","detail":` + deep(`{"a":`, 5000) + `1` + deep("}", 5000) + `}`, 400, "nests deeper than 1000"},
		// Deep enough to overflow the stack of a recursive JSON validator.
		{"deep Event", targetTestEventPattern, pattern(`{"source":["s"]}`, `{"a":`+deep("[", 9<<20)), 400, "nests deeper than 1000"},
		{"deep pattern", targetTestEventPattern, pattern(deep(`{"a":`, 60000), `{}`), 400, "InvalidEventPatternException"},
		{"ok at 1000", targetPutEvents, put(`{"Source":"s","DetailType":"d","Detail":` + detailString(`{"a":`+deep("[", 999)+deep("]", 999)+`}`) + `}`), 200, "EventId"},
		// Huge strings.
		{"huge Source", targetPutEvents, put(`{"Source":"` + huge + `","DetailType":"d","Detail":"{}"}`), 200, "at most 256"},
		{"huge detail-type", "", `{"source":"s","detail-type":"` + huge + `","detail":{}}`, 400, "at most 128"},
		{"huge Detail", targetPutEvents, put(`{"Source":"s","DetailType":"d","Detail":"{\"a\":\"` + huge + `\"}"}`), 200, "exceeds the limit"},
		{"huge Event", targetTestEventPattern, pattern(`{"a":["x"]}`, `{"a":"`+huge+`"}`), 200, "false"},
		{"huge key", "", `{"` + huge + `":1}`, 400, "unknown field"},
		{"huge number", "", `{"source":"s","detail-type":"d","detail":{"n":` + strings.Repeat("9", 100000) + `}}`, 200, "EventId"},
		{"many keys", "", `{"source":"s","detail-type":"d","detail":{` + manyKeys + `}}`, 200, "EventId"},
		{"many keys, last repeated", "", `{"source":"s","detail-type":"d","detail":{` + manyKeys + `,"k0":1}}`, 400, `duplicate key \"k0\" at detail.k0`},
		{"many entries", "", "[" + strings.TrimSuffix(strings.Repeat("{},", 200000), ",") + "]", 400, "more than the limit"},
		// Encoding.
		{"invalid UTF-8", targetPutEvents, put("{\"Source\":\"\xc0\xaf\",\"DetailType\":\"d\"}"), 400, "not valid UTF-8"},
		{"invalid UTF-8 in detail", "", "{\"source\":\"s\",\"detail-type\":\"d\",\"detail\":{\"a\":\"\xed\xa0\x80\"}}", 400, "not valid UTF-8"},
		{"lone surrogate", "", `{"source":"\ud800","detail-type":"d","detail":{"a":"\udc00"}}`, 200, "EventId"},
		{"NUL raw", targetPutEvents, put("{\"Source\":\"a\x00b\",\"DetailType\":\"d\"}"), 400, "invalid character"},
		{"NUL raw outside", "", "\x00{}", 400, "invalid character"},
		{"NUL escaped", "", `{"source":"a\u0000b","detail-type":"d","detail":{"\u0000":"\u0000"}}`, 200, "EventId"},
		{"BOM", "", "\xef\xbb\xbf{}", 400, "invalid character"},
		// Numbers.
		{"1e999 Time", targetPutEvents, put(`{"Source":"s","DetailType":"d","Detail":"{}","Time":1e999}`), 200, "Time"},
		{"-1e999 Time", targetPutEvents, put(`{"Source":"s","DetailType":"d","Detail":"{}","Time":-1e999}`), 200, "Time"},
		{"1e999 detail", "", `{"source":"s","detail-type":"d","detail":{"n":1e999,"m":-1e-999}}`, 200, "EventId"},
		{"1e999 Event", targetTestEventPattern, pattern(`{"n":[{"numeric":[">",0]}]}`, `{"n":1e999}`), 200, "Result"},
		{"number Source", "", `{"source":1e999,"detail-type":"d"}`, 400, "must be a string"},
		// Duplicate keys: in the request, the last one wins, as with most
		// JSON parsers; in a detail, read two ways downstream, they are refused.
		{"duplicate Entries", targetPutEvents, `{"Entries":[{"Source":"x"}],"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}`, 200, `"FailedEntryCount":0`},
		{"duplicate source", "", `{"source":"x","source":"s","detail-type":"d","detail":{}}`, 200, "EventId"},
		{"duplicate in detail", "", `{"source":"s","detail-type":"d","detail":{"a":1,"a":2}}`, 400, "MalformedDetail"},
		// Types.
		{"Entries string", targetPutEvents, `{"Entries":"` + huge + `"}`, 400, "must be an array"},
		{"Entries numbers", targetPutEvents, `{"Entries":[1,2,3]}`, 400, "must be an object"},
		{"true body", targetPutEvents, `true`, 400, "must be a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			start := time.Now()
			var rec = h.events(c.body)
			if c.target != "" {
				rec = h.do("POST", "/", c.body, "X-Amz-Target", c.target, "Content-Type", contentTypeAmzJSON)
			}
			if d := time.Since(start); d > 10*time.Second { // generous: -race is slow on big bodies
				t.Errorf("took %v", d)
			}
			body := rec.Body.String()
			if len(body) > 1000 {
				t.Errorf("answer of %d bytes echoes the input: %.200s", len(body), body)
			}
			if rec.Code != c.status || !strings.Contains(body, c.want) {
				t.Errorf("%d %s; want %d with %q", rec.Code, body, c.status, c.want)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("answer is not JSON: %s", body)
			}
			for _, p := range h.pub.envelopes(t) {
				if !json.Valid(p.env.Detail) || p.env.Detail[0] != '{' {
					t.Errorf("published a malformed detail: %.200s", p.env.Detail)
				}
			}
		})
	}
}

// TestTruncatedBodies cuts valid bodies at every byte: each prefix is
// answered with a 4xx or accepted, never a 500.
func TestTruncatedBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	put := `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{\"a\":[1,{\"b\":null}]}","Time":1764310914.25,"Resources":["r"],"EventBusName":"b"}]}`
	events := `[{"source":"s","detail-type":"d","detail":{"a":[1,{"b":null}]},"time":"2025-11-28T06:21:54Z","id":"x","resources":["r"],"bus":"b"}]`
	for i := range len(put) {
		rec := h.putEvents(put[:i])
		checkAnswer(t, h, rec.Code, rec.Body.Bytes(), http.StatusOK)
	}
	for i := range len(events) {
		rec := h.events(events[:i])
		checkAnswer(t, h, rec.Code, rec.Body.Bytes(), http.StatusOK, http.StatusBadRequest)
	}
}
