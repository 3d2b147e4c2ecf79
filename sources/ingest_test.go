package sources_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/schemas"
	"github.com/eventrouter/eventrouter/sources"
	httpsrc "github.com/eventrouter/eventrouter/sources/http"
)

// recorder is a Publisher that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][]*message.Message
}

func (r *recorder) PublishAll(out []bus.Outgoing) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msgs == nil {
		r.msgs = map[string][]*message.Message{}
	}
	for _, o := range out {
		r.msgs[o.Topic] = append(r.msgs[o.Topic], o.Message())
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		n += len(m)
	}
	return n
}

// orderSchemas compiles the example config's order schema.
func orderSchemas(t *testing.T) *schemas.Set {
	t.Helper()
	set, err := schemas.Compile([]config.Schema{{
		Source: "orders.service", DetailType: "OrderCreated", SchemaFile: "schemas/order-created.json",
	}}, "..")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const (
	goodOrder = `{"orderId":"o-1","customerId":"8c4a2f5e-1b7d-4c2a-9f3e-5d6b7a8c9d0e","total":1250,` +
		`"items":[{"productId":"p-1","quantity":2}],` +
		`"shippingAddress":{"street":"1 Main St","city":"Springfield","country":"US","postalCode":"12345"}}`
	badOrder = `{"orderId":"o-2","customerId":"c-9","total":40,"items":[{"productId":"p-1","quantity":0}],` +
		`"shippingAddress":{"street":"1 Main St","city":"Springfield","country":"US"}}`
	badOrderMessage = "does not match schema order-created: customerId: must be a UUID; " +
		"items[0].quantity: must be > 0; shippingAddress.postalCode: required"
)

// TestPutSchemas: with Schemas set, a violating entry is refused with every
// violation's path while the valid entries beside it are published; events
// without a schema pass unchecked.
func TestPutSchemas(t *testing.T) {
	pub := &recorder{}
	in := &sources.Ingester{Pub: pub, Stamp: event.Stamp{Account: "000000000000", Region: "local"}, Schemas: orderSchemas(t)}
	res, err := in.Put(context.Background(), "test", []event.Entry{
		{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(goodOrder)},
		{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(badOrder)},
		{Source: "orders.service", DetailType: "OrderShipped", Detail: json.RawMessage(`{"anything":1}`)},
		{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(`{}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].EventID == "" {
		t.Errorf("valid order: %+v", res[0])
	}
	want := event.EntryError{Code: "InvalidArgument", Field: "Detail", Message: badOrderMessage}
	if res[1].Err == nil || *res[1].Err != want || res[1].EventID != "" {
		t.Errorf("violating order: %+v\nwant %+v", res[1].Err, want)
	}
	if res[2].Err != nil {
		t.Errorf("no schema: %+v", res[2].Err)
	}
	if res[3].Err == nil || !strings.HasSuffix(res[3].Err.Message, "customerId: required; items: required; orderId: required; shippingAddress: required; total: required") {
		t.Errorf("empty detail: %+v", res[3].Err)
	}
	if n := pub.count(); n != 2 {
		t.Errorf("%d events published, want 2", n)
	}

	// Without Schemas (and with a typed nil), nothing is checked.
	for _, s := range []interface {
		Validate(string, string, []byte) *event.EntryError
	}{nil, (*schemas.Set)(nil)} {
		in.Schemas = s
		res, err = in.Put(context.Background(), "test", []event.Entry{{Source: "orders.service", DetailType: "OrderCreated", Detail: json.RawMessage(badOrder)}})
		if err != nil || res[0].Err != nil {
			t.Errorf("Schemas %#v: %v %+v", s, err, res[0].Err)
		}
	}
}

// TestHTTPSchemas: the HTTP doors report a schema refusal as SPEC says:
// /v1/events answers 400 naming every path, PutEvents 200 with the entry's
// ErrorCode and ErrorMessage.
func TestHTTPSchemas(t *testing.T) {
	in := &sources.Ingester{Pub: &recorder{}, Stamp: event.Stamp{Account: "000000000000", Region: "local"}, Schemas: orderSchemas(t)}
	srv := httptest.NewServer(httpsrc.New(httpsrc.Options{Ingester: in}))
	defer srv.Close()
	post := func(body string, headers ...string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.URL.Path = "/"
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	entry := func(detail string) string {
		return `{"source":"orders.service","detail-type":"OrderCreated","detail":` + detail + `}`
	}
	if code, body := post(entry(goodOrder)); code != 200 {
		t.Errorf("valid order: %d %s", code, body)
	}
	code, body := post("[" + entry(goodOrder) + "," + entry(badOrder) + "]")
	var got struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(body)
	}
	if code != 400 || got.FailedEntryCount != 1 || got.Entries[0].EventId == "" ||
		got.Entries[1].ErrorCode != "InvalidArgument" || got.Entries[1].ErrorMessage != "entry 1: detail: "+badOrderMessage {
		t.Errorf("/v1/events: %d %s", code, body)
	}

	detail, _ := json.Marshal(badOrder)
	code, body = post(`{"Entries":[{"Source":"orders.service","DetailType":"OrderCreated","Detail":`+string(detail)+`}]}`,
		"Content-Type", "application/x-amz-json-1.1", "X-Amz-Target", "AWSEvents.PutEvents")
	want := `{"FailedEntryCount":1,"Entries":[{"ErrorCode":"InvalidArgument","ErrorMessage":` +
		`"Parameter Detail is not valid. Reason: Detail ` + badOrderMessage + `"}]}`
	if code != 200 || strings.TrimSpace(strings.ReplaceAll(body, `\u003e`, ">")) != want {
		t.Errorf("PutEvents: %d %s\nwant %s", code, body, want)
	}
}

// TestPutMarksGeneratedIDsFresh: an event whose id routerd made is published
// as fresh (the bus need not remember it for de-duplication); one whose id
// the client chose is not, so that the client's retries are stored once.
func TestPutMarksGeneratedIDsFresh(t *testing.T) {
	pub := &recorder{}
	in := &sources.Ingester{Pub: pub, Stamp: event.Stamp{Account: "000000000000", Region: "local"}}
	entries := []event.Entry{
		{Source: "s", DetailType: "d", Detail: []byte(`{}`)},
		{Source: "s", DetailType: "d", Detail: []byte(`{}`), ID: "client-7"},
	}
	res, err := in.Put(context.Background(), "test", entries)
	if err != nil {
		t.Fatal(err)
	}
	msgs := pub.msgs[bus.EventsTopic(event.DefaultBus)]
	if len(msgs) != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("published %d, results %+v", len(msgs), res)
	}
	if msgs[0].UUID != res[0].EventID || msgs[0].Metadata.Get(bus.FreshIDKey) == "" {
		t.Errorf("generated id %q: published as %q with metadata %v, want it marked fresh", res[0].EventID, msgs[0].UUID, msgs[0].Metadata)
	}
	if msgs[1].UUID != "client-7" || msgs[1].Metadata.Get(bus.FreshIDKey) != "" {
		t.Errorf("client id: published as %q with metadata %v, want it not marked fresh", msgs[1].UUID, msgs[1].Metadata)
	}
}

// TestPutRefusesWhatTheBusCannotCarry checks that an entry whose envelope
// is larger than the bus carries is refused alone, naming the limit, and
// the others are published.
func TestPutRefusesWhatTheBusCannotCarry(t *testing.T) {
	pub := &recorder{}
	in := &sources.Ingester{Pub: pub, Stamp: event.Stamp{Account: "000000000000", Region: "local"}, MaxEventBytes: 1000}
	entries := []event.Entry{
		{Source: "s", DetailType: "d", Detail: []byte(`{"a":1}`)},
		{Source: "s", DetailType: "d", Detail: []byte(`{"a":"` + strings.Repeat("x", 1000) + `"}`)},
	}
	res, err := in.Put(context.Background(), "test", entries)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || pub.count() != 1 {
		t.Fatalf("small entry: %+v, %d published", res[0], pub.count())
	}
	if e := res[1].Err; e == nil || e.Code != "InvalidArgument" || !strings.Contains(e.Message, "max_payload") {
		t.Errorf("large entry: %+v, want InvalidArgument naming max_payload", e)
	}
}

// failSecond is a Publisher that stores all but the second message.
type failSecond struct{ recorder }

func (f *failSecond) PublishAll(out []bus.Outgoing) error {
	errs := make([]error, len(out))
	errs[1] = errors.New("stream full")
	_ = f.recorder.PublishAll(append(out[:1:1], out[2:]...))
	return &bus.PublishError{Errs: errs}
}

// TestPutPartlyStored checks that when the bus stores some entries of a
// request and not another, the stored ones are accepted and only the other
// fails, as InternalFailure: the client must not send the stored ones
// again (they would arrive twice, under new ids).
func TestPutPartlyStored(t *testing.T) {
	pub := &failSecond{}
	in := &sources.Ingester{Pub: pub, Stamp: event.Stamp{Account: "000000000000", Region: "local"}}
	e := event.Entry{Source: "s", DetailType: "d", Detail: []byte(`{}`)}
	res, err := in.Put(context.Background(), "test", []event.Entry{e, e, e})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[2].Err != nil || res[1].Err == nil || res[1].Err.Code != "InternalFailure" || res[1].EventID != "" {
		t.Errorf("results %+v, want the second alone failed with InternalFailure", res)
	}
	if pub.count() != 2 {
		t.Errorf("%d stored, want 2", pub.count())
	}
}
