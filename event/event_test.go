package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	now := time.Date(2026, 11, 28, 6, 21, 54, 0, time.UTC)
	env, bad := Normalize(Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(` {"total": 1.50} `)},
		Stamp{Account: "123456789012", Region: "eu-west-1", Now: func() time.Time { return now }, NewID: func() string { return "id-1" }})
	if bad != nil {
		t.Fatal(bad)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"0","id":"id-1","detail-type":"OrderCreated","source":"orders.service","account":"123456789012","time":"2026-11-28T06:21:54Z","region":"eu-west-1","resources":[],"detail":{"total":1.50}}`
	if string(b) != want {
		t.Errorf("envelope\n got %s\nwant %s", b, want)
	}
	// A given id and time are kept; <, > and & stay unescaped.
	env, _ = Normalize(Entry{Source: "a<b>", DetailType: "x&y", Detail: json.RawMessage(`{}`), ID: "mine", Time: now.Add(time.Hour)}, Stamp{})
	b, _ = env.Marshal()
	if !strings.Contains(string(b), `"id":"mine"`) || !strings.Contains(string(b), `"time":"2026-11-28T07:21:54Z"`) ||
		!strings.Contains(string(b), `"source":"a<b>"`) || !strings.Contains(string(b), `"detail":{}`) {
		t.Errorf("envelope %s", b)
	}
}

func TestValidate(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", MaxEntrySize) + `"}`
	for _, c := range []struct {
		e    Entry
		code string
		msg  string
	}{
		{Entry{DetailType: "d"}, "InvalidArgument", "Source: is required"},
		{Entry{Source: "s"}, "InvalidArgument", "DetailType: is required"},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`[1]`)}, "MalformedDetail", "Detail: must be a JSON object"},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{"a":}`)}, "MalformedDetail", "Detail: is not valid JSON"},
		{Entry{Source: "s", DetailType: "d"}, "InvalidArgument", "Detail: is required"},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`  `)}, "MalformedDetail", "Detail: is not valid JSON"},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`), Bus: "no spaces"}, "InvalidArgument", "EventBusName"},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`), Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, "InvalidArgument",
			"Time: 1960-01-01T00:00:00Z is out of range: a time must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{"order":{"total":1,"total":2}}`)}, "MalformedDetail", `detail has a duplicate key "total" at detail.order.total`},
		{Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(big)}, "InvalidArgument", "exceeds the limit"},
	} {
		err := c.e.Validate()
		if err == nil || err.Code != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: got %v, want %s %q", c.e.Source, err, c.code, c.msg)
		}
	}
	if err := (&Entry{Source: "s", DetailType: "d", Detail: json.RawMessage(`{}`)}).Validate(); err != nil {
		t.Errorf("valid entry refused: %v", err)
	}
}

// Source and DetailType limits count characters, as EventBridge's do.
func TestValidateCountsCharacters(t *testing.T) {
	d := json.RawMessage(`{}`)
	if err := (&Entry{Source: strings.Repeat("é", 256), DetailType: strings.Repeat("é", 128), Detail: d}).Validate(); err != nil {
		t.Errorf("256 and 128 two-byte characters refused: %v", err)
	}
	for _, c := range []struct {
		e    Entry
		want string
	}{
		{Entry{Source: strings.Repeat("é", 257), DetailType: "d", Detail: d}, "Source: must be at most 256 characters, got 257"},
		{Entry{Source: "s", DetailType: strings.Repeat("é", 129), Detail: d}, "DetailType: must be at most 128 characters, got 129"},
		{Entry{Source: "s", DetailType: "d\xff", Detail: d}, "DetailType: must be valid UTF-8"},
	} {
		if err := c.e.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

func TestSizeRule(t *testing.T) {
	e := Entry{Source: "abc", DetailType: "de", Detail: json.RawMessage(`{"a":1}`), Resources: []string{"r1", "r22"}}
	if got := e.Size(); got != 3+2+7+2+3 {
		t.Errorf("size = %d", got)
	}
	e.Time = time.Now()
	if got := e.Size(); got != 3+2+7+2+3+14 {
		t.Errorf("size with time = %d", got)
	}
}

func TestDecodeEntry(t *testing.T) {
	e, bad := DecodeEntry([]byte(`{"source":"s","detail-type":"d","detail":{"n":1},"id":"x","time":"2026-11-28T06:21:54Z","resources":["r"],"bus":"b"}`))
	if bad != nil || e.Source != "s" || e.ID != "x" || e.Bus != "b" || e.Time.IsZero() || string(e.Detail) != `{"n":1}` {
		t.Fatalf("%+v %v", e, bad)
	}
	for in, want := range map[string]string{
		`{"source":"s","colour":"red"}`:                `unknown field "colour"`,
		`{"source":"s","detail":"text"}`:               "detail: must be a JSON object",
		`{"source":"s","time":"yesterday"}`:            "time:",
		`{"source":1}`:                                 "source: must be a string",
		`{"source":"s"`:                                "invalid JSON",
		`{"source":"s"} {"source":"t"}`:                "unexpected data",
		`{"source":"s","resources":"r"}`:               "resources: must be an array",
		`{"source":"s","time":"0001-01-01T00:00:00Z"}`: `time: "0001-01-01T00:00:00Z" is out of range: a time must be from 1970-01-01T00:00:00Z`,
	} {
		if _, bad := DecodeEntry([]byte(in)); bad == nil || !strings.Contains(bad.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, bad, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{"default": true, "vip-alerts": true, "a_b9": true, "": false, "_rejected": false, "-x": false, "a.b": false, "a b": false, strings.Repeat("a", 65): false} {
		if ValidName(name) != want {
			t.Errorf("ValidName(%q) = %v", name, !want)
		}
	}
}

func TestComplete(t *testing.T) {
	d := json.RawMessage(`{}`)
	for _, c := range []struct {
		e    Entry
		want bool
	}{
		{Entry{Source: "s", DetailType: "d", Detail: d}, true},
		{Entry{Source: "s", DetailType: "d"}, false},
		{Entry{Source: "s", Detail: d}, false},
		{Entry{DetailType: "d", Detail: d}, false},
		{Entry{Source: " ", DetailType: "d", Detail: d}, false},
	} {
		if got := c.e.Complete(); got != c.want {
			t.Errorf("%+v: Complete() = %v, want %v", c.e, got, c.want)
		}
	}
}

// benchDetail is an order like internal/e2ebench's, about 330 bytes.
var benchDetail = json.RawMessage(`{"orderId":"o-00001234","customerId":"1b4e28ba-2fa1-41d2-883f-0016d3cca427","total":1250.50,` +
	`"items":[{"productId":"p-00042","quantity":2},{"productId":"p-00043","quantity":1}],` +
	`"shippingAddress":{"street":"12 Main St","city":"Berlin","country":"DE","postalCode":"10115"},"seq":1234,"sent_ns":1764310914000000000}`)

// BenchmarkValidate is the per-entry check every door runs:
//
//	go test ./event -run '^$' -bench Validate -benchmem
func BenchmarkValidate(b *testing.B) {
	e := Entry{Source: "orders.service", DetailType: "OrderCreated", Detail: benchDetail}
	b.SetBytes(int64(len(benchDetail)))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeEntryTimeCase checks that RFC 3339's lower-case t and z are
// read, as the RFC allows, and that bytes that are not UTF-8 are refused.
func TestDecodeEntryTimeCase(t *testing.T) {
	e, bad := DecodeEntry([]byte(`{"source":"s","detail-type":"d","detail":{},"time":"2026-11-28t06:21:54.5z"}`))
	if bad != nil || !e.Time.Equal(time.Date(2026, 11, 28, 6, 21, 54, 5e8, time.UTC)) {
		t.Errorf("lower-case time: %v %v", e.Time, bad)
	}
	if _, bad := DecodeEntry([]byte("{\"source\":\"s\xff\"}")); bad == nil || !strings.Contains(bad.Message, "not valid UTF-8 at offset 12") {
		t.Errorf("invalid UTF-8: %v", bad)
	}
}
