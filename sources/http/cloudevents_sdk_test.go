package httpsrc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/tidwall/gjson"
)

// TestCloudEventsSDK sends with the official CloudEvents Go SDK, unmodified,
// in both of its encodings: every kind of data gets through, and the same
// event publishes the same envelope whichever encoding carried it.
func TestCloudEventsSDK(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 11, 28, 6, 21, 54, 250e6, time.UTC)
	newEvent := func(id string) cloudevents.Event {
		ev := cloudevents.NewEvent()
		ev.SetID(id)
		ev.SetSource("/orders")
		ev.SetType("com.example.order.created")
		ev.SetTime(at)
		ev.SetSubject("order/42 é")
		ev.SetDataSchema("https://example.com/schemas/order.json")
		ev.SetExtension("priority", 5)
		ev.SetExtension("sampled", true)
		ev.SetExtension("tenant", "acme")
		return ev
	}
	type order struct {
		Total int      `json:"total"`
		Items []string `json:"items"`
	}
	cases := []struct {
		name   string
		ct     string
		data   any
		detail string // the detail without the attributes
	}{
		{"JSON object", cloudevents.ApplicationJSON, order{Total: 1250, Items: []string{"a<b>"}}, `{"total":1250,"items":["a<b>"]}`},
		{"JSON array", cloudevents.ApplicationJSON, []int{1, 2}, `{"data":[1,2]}`},
		{"JSON bytes", cloudevents.ApplicationJSON, []byte(`{"total": 1}`), `{"total":1}`},
		{"text", cloudevents.TextPlain, "hello", `{"data":"hello"}`},
		{"XML", cloudevents.ApplicationXML, []byte(`<order total="1250"/>`), `{"data":"<order total=\"1250\"/>"}`},
		{"bytes", "application/octet-stream", []byte{0, 1, 2, 0xff}, `{"data_base64":"AAEC/w=="}`},
		{"no data", "", nil, `{}`},
	}
	h := newHarness(t)
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	client, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	target := cloudevents.ContextWithTarget(context.Background(), srv.URL+"/v1/cloudevents")
	for i, c := range cases {
		var details []string
		for _, enc := range []string{"binary", "structured"} {
			ev := newEvent(c.name)
			if c.data != nil {
				if err := ev.SetData(c.ct, c.data); err != nil {
					t.Fatal(err)
				}
			}
			ctx := binding.WithForceBinary(target)
			if enc == "structured" {
				ctx = binding.WithForceStructured(target)
			}
			if res := client.Send(ctx, ev); !cloudevents.IsACK(res) {
				t.Fatalf("%s, %s: SDK send: %v", c.name, enc, res)
			}
			envs := h.pub.envelopes(t)
			if len(envs) != 2*i+len(details)+1 {
				t.Fatalf("%s, %s: %d published in all", c.name, enc, len(envs))
			}
			env := envs[len(envs)-1].env
			if env.ID != ceID("/orders", c.name) || env.Source != "/orders" || env.DetailType != "com.example.order.created" || env.Time != "2025-11-28T06:21:54Z" {
				t.Errorf("%s, %s: envelope %+v", c.name, enc, env)
			}
			d := gjson.ParseBytes(env.Detail)
			attrs := d.Get("cloudevents")
			for k, want := range map[string]string{
				"specversion": "1.0", "id": c.name, "source": "/orders", "type": "com.example.order.created",
				"subject": "order/42 é", "dataschema": "https://example.com/schemas/order.json",
				"priority": "5", "sampled": "true", "tenant": "acme", "datacontenttype": c.ct,
			} {
				if got := attrs.Get(k); got.String() != want || (want != "" && got.Type != gjson.String) {
					t.Errorf("%s, %s: detail.cloudevents.%s = %s, want %q", c.name, enc, k, got.Raw, want)
				}
			}
			if !strings.HasPrefix(attrs.Get("time").String(), "2025-11-28T06:21:54.25") {
				t.Errorf("%s, %s: detail.cloudevents.time %s", c.name, enc, attrs.Get("time").Raw)
			}
			// The data part: the detail without "cloudevents".
			var m map[string]json.RawMessage
			_ = json.Unmarshal(env.Detail, &m)
			delete(m, "cloudevents")
			got, _ := json.Marshal(m)
			var want map[string]json.RawMessage
			_ = json.Unmarshal([]byte(c.detail), &want)
			wantJSON, _ := json.Marshal(want)
			if string(got) != string(wantJSON) {
				t.Errorf("%s, %s: data in detail %s, want %s", c.name, enc, got, wantJSON)
			}
			details = append(details, string(env.Detail))
		}
		if details[0] != details[1] {
			t.Errorf("%s: binary and structured differ:\n %s\n %s", c.name, details[0], details[1])
		}
	}

	// A refusal reaches the SDK as a NACK with the status and the reason.
	ctx := cloudevents.ContextWithTarget(context.Background(), srv.URL+"/v1/cloudevents?bus=missing")
	res := client.Send(ctx, newEvent("x"))
	var hr *cehttp.Result
	if cloudevents.IsACK(res) || !cloudevents.ResultAs(res, &hr) || hr.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown bus: SDK result %v", res)
	}
}

// TestCloudEventsSDKBatch posts a batch the SDK's JSON format encoded.
func TestCloudEventsSDKBatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var batch []cloudevents.Event
	for _, id := range []string{"1", "2"} {
		ev := cloudevents.NewEvent()
		ev.SetID(id)
		ev.SetSource("/s")
		ev.SetType("t")
		_ = ev.SetData(cloudevents.ApplicationJSON, map[string]int{"n": len(batch)})
		batch = append(batch, ev)
	}
	body, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	resp := wantEntries(t, h.cloudEvents(string(body), "Content-Type", ceBatchType), http.StatusOK)
	envs := h.pub.envelopes(t)
	if len(resp.Entries) != 2 || len(envs) != 2 || resp.Entries[1].EventId != ceID("/s", "2") ||
		!strings.HasPrefix(string(envs[1].env.Detail), `{"n":1,"cloudevents":`) {
		t.Errorf("answer %+v, published %+v", resp, envs)
	}
}
