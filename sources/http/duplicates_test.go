package httpsrc

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
)

// A detail that repeats a key is read two ways downstream (patterns take
// the first value, schemas and most parsers the last): every door that
// takes a detail refuses it, per entry, in the same words naming the key
// and its path; a door adds only the entry's place in a batch.
func TestDuplicateKeysInDetail(t *testing.T) {
	t.Parallel()
	const dup = `{"order":{"items":[{"sku":"a"},{"sku":"b","qty":1,"sku":"c"}]},"total":1,"total":2}`
	h := newHarness(t)
	want := func(door string, e resultEntry, msg string) {
		t.Helper()
		if e.ErrorCode != "MalformedDetail" || e.ErrorMessage != msg {
			t.Errorf("%s: got %q %q, want MalformedDetail %q", door, e.ErrorCode, e.ErrorMessage, msg)
		}
	}

	resp := wantEntries(t, h.putEvents(`{"Entries":[{"Source":"s","DetailType":"d","Detail":`+jsonString(t, dup)+`},`+
		`{"Source":"s","DetailType":"d","Detail":"{\"total\":1}"}]}`), http.StatusOK)
	want("PutEvents", resp.Entries[0], `detail has a duplicate key "sku" at detail.order.items[1].sku`)
	if resp.Entries[1].EventId == "" {
		t.Errorf("PutEvents: the entry without duplicates was refused: %+v", resp.Entries[1])
	}

	resp = wantEntries(t, h.events(`[{"source":"s","detail-type":"d","detail":{"a":{"total":1,"total":2}}}]`), http.StatusBadRequest)
	want("/v1/events", resp.Entries[0], `entry 0: detail has a duplicate key "total" at detail.a.total`)

	ce := `{"specversion":"1.0","type":"t","source":"/s","id":"1","data":{"total":1,"total":2}}`
	resp = wantEntries(t, h.cloudEvents(ce, "Content-Type", ceStructuredType), http.StatusBadRequest)
	want("CloudEvents, structured", resp.Entries[0], `detail has a duplicate key "total" at detail.total`)
	resp = wantEntries(t, h.cloudEvents("[{},"+ce+"]", "Content-Type", ceBatchType), http.StatusBadRequest)
	want("CloudEvents, batch", resp.Entries[1], `event 1: detail has a duplicate key "total" at detail.total`)
	ce = `{"specversion":"1.0","type":"t","source":"/s","id":"2","datacontenttype":"application/json","data_base64":"` +
		base64.StdEncoding.EncodeToString([]byte(`{"x":[{"k":1,"k":2}]}`)) + `"}`
	resp = wantEntries(t, h.cloudEvents(ce, "Content-Type", ceStructuredType), http.StatusBadRequest)
	want("CloudEvents, data_base64", resp.Entries[0], `detail has a duplicate key "k" at detail.x[0].k`)
	resp = wantEntries(t, h.cloudEvents(`{"total":1,"total":2}`, "Content-Type", "application/json",
		"ce-specversion", "1.0", "ce-type", "t", "ce-source", "/s", "ce-id", "3"), http.StatusBadRequest)
	want("CloudEvents, binary", resp.Entries[0], `detail has a duplicate key "total" at detail.total`)
	// Text data is a string, not JSON: its content is not examined.
	ce = `{"specversion":"1.0","type":"t","source":"/s","id":"4","datacontenttype":"text/plain","data":"{\"a\":1,\"a\":2}"}`
	wantEntries(t, h.cloudEvents(ce, "Content-Type", ceStructuredType), http.StatusOK)

	if n := len(h.pub.envelopes(t)); n != 2 {
		t.Errorf("%d published, want 2", n)
	}
}

// jsonString is s as a JSON string, for a PutEvents Detail.
func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
