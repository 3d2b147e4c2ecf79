package httpsrc

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tidwall/gjson"
)

// The fuzz targets send arbitrary bodies through the whole handler, a real
// Ingester included, and check that routerd answers a 2xx or 4xx with a
// well-formed body, never a 500 or a panic, and publishes only well-formed
// envelopes whose ids it reported. Seeds: f.Add below and testdata/fuzz.
// Run: go test ./sources/http -run '^$' -fuzz FuzzPutEvents -fuzztime 1m

func FuzzPutEvents(f *testing.F) {
	for _, s := range []string{
		`{"Entries":[{"Source":"orders.service","DetailType":"OrderCreated","Detail":"{\"total\":1250}","Time":1764310914.25,"Resources":["arn:aws:s3:::b"],"EventBusName":"arn:aws:events:us-east-1:123456789012:event-bus/orders"}]}`,
		`{"Entries":[{"Source":"s","DetailType":"d","Detail":"[1]","Time":"2025-11-28T06:21:54Z"},{"Source":"","DetailType":"d"}]}`,
		`{"Entries":[]}`,
		`{"Entries":[{"Source":"s","DetailType":"d","Time":1e999}]}`,
		`{"Entries":[{"Source":"s","DetailType":"d","Detail":"{\"a\":1,\"a\":2}"}],"Entries":null}`,
	} {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		h.t = t
		rec := h.putEvents(string(body))
		checkAnswer(t, h, rec.Code, rec.Body.Bytes(), http.StatusOK)
	})
}

func FuzzEvents(f *testing.F) {
	for _, s := range []string{
		`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":1250},"id":"o-42","time":"2025-11-28T06:21:54Z","resources":["r"],"bus":"orders"}`,
		`[{"source":"a","detail-type":"b"},{"source":"a","detail-type":"b","detail":"{}"},{"x":1},7]`,
		`[]`,
		`{"source":"a","detail-type":"b","detail":{"n":1e999,"s":"\u0000"}}`,
	} {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		h.t = t
		rec := h.events(string(body))
		checkAnswer(t, h, rec.Code, rec.Body.Bytes(), http.StatusOK, http.StatusBadRequest)
	})
}

// checkAnswer checks one fuzzed answer; entriesStatus lists the statuses
// that carry per-entry results.
func checkAnswer(t *testing.T, h *harness, status int, body []byte, entriesStatus ...int) {
	t.Helper()
	defer func() {
		h.pub.mu.Lock()
		h.pub.msgs = nil
		h.pub.mu.Unlock()
	}()
	switch status {
	case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("status %d: %s", status, body)
	}
	var resp putEventsResponse
	if status == entriesStatus[0] || len(entriesStatus) > 1 && status == entriesStatus[1] {
		if json.Unmarshal(body, &resp) == nil && len(resp.Entries) > 0 {
			ids := map[string]bool{}
			failed := 0
			for _, e := range resp.Entries {
				if e.EventId != "" {
					ids[e.EventId] = true
				} else {
					failed++
				}
			}
			if failed != resp.FailedEntryCount {
				t.Fatalf("FailedEntryCount %d, %d failed: %s", resp.FailedEntryCount, failed, body)
			}
			for _, p := range h.pub.envelopes(t) {
				if !ids[p.env.ID] {
					t.Fatalf("published id %q not in the answer %s", p.env.ID, body)
				}
				raw, _ := json.Marshal(p.env)
				if !gjson.ValidBytes(raw) || !json.Valid(p.env.Detail) || len(p.env.Detail) == 0 || p.env.Detail[0] != '{' {
					t.Fatalf("published a malformed envelope: %s", raw)
				}
			}
			return
		}
	}
	var e awsErr
	if err := json.Unmarshal(body, &e); err != nil || e.Type == "" || e.Message == "" {
		t.Fatalf("status %d with neither entries nor an error: %s", status, body)
	}
	if n := len(h.pub.envelopes(t)); n != 0 {
		t.Fatalf("%d published for a refused request", n)
	}
}

// FuzzMembers holds members to json.Unmarshal into a map of raw members.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{"Source":"a","DetailType":"b","Detail":"{\"x\":1}","Time":1700000000,"Resources":["r"]}`,
		`{"Source":1,"Source":"last","source":"no"}`, `{"Sourc\u0065":"esc","Detail" : { "a" : [ 1, 2 ] } , "Time" : null }`,
		`{"\ud800Source":1,"Time":-1.5e3}`, `{}`, `{"Detail":true}`,
	} {
		f.Add([]byte(s))
	}
	names := putEventsMembers[:]
	f.Fuzz(func(t *testing.T, obj []byte) {
		var want map[string]json.RawMessage
		if len(obj) == 0 || obj[0] != '{' || json.Unmarshal(obj, &want) != nil {
			return
		}
		got := make([]json.RawMessage, len(names))
		members(obj, names, got)
		for i, name := range names {
			if string(got[i]) != string(want[name]) {
				t.Fatalf("%q: %s = %q, json.Unmarshal %q", obj, name, got[i], want[name])
			}
		}
	})
}
