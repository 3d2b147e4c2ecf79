package httpsrc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/event"
	"github.com/google/uuid"
	"github.com/tidwall/gjson"
)

// ceEvent sends one CloudEvent to /v1/cloudevents; headers alternate names
// and values.
func (h *harness) cloudEvents(body string, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do("POST", "/v1/cloudevents", body, headers...)
}

func structured(body string) (string, []string) {
	return body, []string{"Content-Type", ceStructuredType}
}

// ceID is the envelope id routerd derives, recomputed the way
// CLOUDEVENTS.md tells users to (the namespace written out).
func ceID(source, id string) string {
	ns := uuid.MustParse("bb535c83-d21c-554d-b343-4aba0b9a8e90")
	return uuid.NewSHA1(ns, []byte(source+"\x00"+id)).String()
}

const fullStructured = `{
	"specversion": "1.0",
	"type": "com.example.order.created",
	"source": "/orders",
	"id": "A234-1234-1234",
	"time": "2025-11-28T07:21:54.25+01:00",
	"subject": "order/42",
	"dataschema": "https://example.com/schemas/order.json",
	"datacontenttype": "application/json",
	"comexampleextension1": "value",
	"comexampleothervalue": 5,
	"sampled": true,
	"unsetextension": null,
	"data": { "total": 1250, "items": [ {"sku": "a<b>&c"} ] }
}`

// fullBinary is fullStructured in binary mode, as the HTTP binding's
// examples write it (the subject percent-encoded, one value quoted).
var fullBinary = []string{
	"ce-specversion", "1.0",
	"ce-type", "com.example.order.created",
	"ce-source", "/orders",
	"ce-id", "A234-1234-1234",
	"ce-time", "2025-11-28T07:21:54.25+01:00",
	"ce-subject", "order%2F42",
	"ce-dataschema", `"https://example.com/schemas/order.json"`,
	"ce-comexampleextension1", "value",
	"CE-ComExampleOtherValue", "5",
	"ce-sampled", "true",
	"Content-Type", "application/json",
}

const fullDetail = `{"total":1250,"items":[{"sku":"a<b>&c"}],"cloudevents":{"specversion":"1.0","id":"A234-1234-1234","source":"/orders","type":"com.example.order.created","datacontenttype":"application/json","dataschema":"https://example.com/schemas/order.json","subject":"order/42","time":"2025-11-28T07:21:54.25+01:00","comexampleextension1":"value","comexampleothervalue":"5","sampled":"true"}}`

// TestCloudEventsModes sends the same event in each mode: each is
// accepted, and each publishes the same envelope, id and detail included.
func TestCloudEventsModes(t *testing.T) {
	t.Parallel()
	wantID := ceID("/orders", "A234-1234-1234")
	body, hdr := structured(fullStructured)
	for _, c := range []struct {
		name    string
		body    string
		headers []string
	}{
		{"structured", body, hdr},
		{"structured with charset", body, []string{"Content-Type", "application/cloudevents+json; charset=UTF-8"}},
		{"binary", `{"total": 1250, "items": [{"sku": "a<b>&c"}]}`, fullBinary},
		{"batch", "[" + fullStructured + "]", []string{"Content-Type", ceBatchType}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			resp := wantEntries(t, h.cloudEvents(c.body, c.headers...), http.StatusOK)
			if len(resp.Entries) != 1 || resp.Entries[0].EventId != wantID {
				t.Fatalf("answer %+v, want EventId %s", resp, wantID)
			}
			envs := h.pub.envelopes(t)
			if len(envs) != 1 {
				t.Fatalf("%d published", len(envs))
			}
			e := envs[0]
			if e.topic != "events.default" || e.env.ID != wantID || e.env.Source != "/orders" ||
				e.env.DetailType != "com.example.order.created" || e.env.Time != "2025-11-28T06:21:54Z" ||
				len(e.env.Resources) != 0 || e.env.Account != "000000000000" {
				t.Errorf("published %+v", e.env)
			}
			if string(e.env.Detail) != fullDetail {
				t.Errorf("detail\n %s\nwant\n %s", e.env.Detail, fullDetail)
			}
			if got := h.count("cloudevents", "accepted"); got != 1 {
				t.Errorf("accepted counter %v", got)
			}
			if got := testutilCount(h, "cloudevents"); got != 1 {
				t.Errorf("duration histogram has %d samples", got)
			}
		})
	}
}

// TestCloudEventsIDs: a retried event keeps its envelope id (the bus and
// sinks deduplicate on it), the same id from another source does not
// collide, and any id, even one unfit for a header, gives a UUID.
func TestCloudEventsIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	send := func(source, id string) string {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"specversion": "1.0", "type": "t", "source": source, "id": id})
		resp := wantEntries(t, h.cloudEvents(string(b), "Content-Type", ceStructuredType), http.StatusOK)
		return resp.Entries[0].EventId
	}
	a1, a2, b := send("/a", "1"), send("/a", "1"), send("/b", "1")
	if a1 != a2 || a1 == b || a1 != ceID("/a", "1") {
		t.Errorf("ids %s %s %s", a1, a2, b)
	}
	// The separator keeps ("/a1", "") apart from ("/a", "1")... and ids
	// with spaces or non-ASCII still become UUIDs.
	if odd := send("/a", "1 2 é"); uuid.Validate(odd) != nil || odd == a1 {
		t.Errorf("id %q", odd)
	}
	if ceNamespace.String() != "bb535c83-d21c-554d-b343-4aba0b9a8e90" {
		t.Errorf("namespace %s differs from the documented one", ceNamespace)
	}
}

// TestCloudEventsData maps each kind of data, in each mode it can come in.
func TestCloudEventsData(t *testing.T) {
	t.Parallel()
	const attrs = `"specversion":"1.0","id":"1","source":"/s","type":"t"`
	sattrs := func(extra string) string { return `{` + attrs + extra + `}` }
	bin := func(ct string) []string {
		hs := []string{"ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t"}
		if ct != "" {
			hs = append(hs, "Content-Type", ct)
		}
		return hs
	}
	ces := func(ct string) string {
		if ct == "" {
			return `"cloudevents":{"specversion":"1.0","id":"1","source":"/s","type":"t"}}`
		}
		return `"cloudevents":{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"` + ct + `"}}`
	}
	cases := []struct {
		name    string
		body    string
		headers []string
		detail  string
	}{
		{"no data", sattrs(``), []string{"Content-Type", ceStructuredType}, `{` + ces("")},
		{"no data binary", "", bin(""), `{` + ces("")},
		{"no data binary with a type", "", bin("application/json"), `{` + ces("application/json")},
		{"object", sattrs(`,"data":{"a":1}`), []string{"Content-Type", ceStructuredType}, `{"a":1,` + ces("")},
		{"empty object", sattrs(`,"data":{}`), []string{"Content-Type", ceStructuredType}, `{` + ces("")},
		{"object binary", "{ \"a\" :\n1 }", bin("application/json"), `{"a":1,` + ces("application/json")},
		{"object binary +json", `{"a":1}`, bin("application/vnd.order+json; charset=utf-8"), `{"a":1,` + ces("application/vnd.order+json; charset=utf-8")},
		{"array", sattrs(`,"data":[1,"x"]`), []string{"Content-Type", ceStructuredType}, `{"data":[1,"x"],` + ces("")},
		{"array binary", `[1, "x"]`, bin("application/json"), `{"data":[1,"x"],` + ces("application/json")},
		{"string", sattrs(`,"data":"I'm just a string"`), []string{"Content-Type", ceStructuredType}, `{"data":"I'm just a string",` + ces("")},
		{"string binary", `"I'm just a string"`, bin("application/json"), `{"data":"I'm just a string",` + ces("application/json")},
		{"JSON in a string stays a string", sattrs(`,"datacontenttype":"application/json","data":"{\"a\":1}"`), []string{"Content-Type", ceStructuredType}, `{"data":"{\"a\":1}",` + ces("application/json")},
		{"number", sattrs(`,"data":1e3`), []string{"Content-Type", ceStructuredType}, `{"data":1e3,` + ces("")},
		{"boolean", sattrs(`,"data":false`), []string{"Content-Type", ceStructuredType}, `{"data":false,` + ces("")},
		{"explicit null", sattrs(`,"data":null`), []string{"Content-Type", ceStructuredType}, `{"data":null,` + ces("")},
		{"text", sattrs(`,"datacontenttype":"text/plain","data":"hello <world>"`), []string{"Content-Type", ceStructuredType}, `{"data":"hello <world>",` + ces("text/plain")},
		{"text binary", "hello <world>", bin("text/plain"), `{"data":"hello <world>",` + ces("text/plain")},
		{"xml", sattrs(`,"datacontenttype":"application/xml","data":"<much wow=\"xml\"/>"`), []string{"Content-Type", ceStructuredType}, `{"data":"<much wow=\"xml\"/>",` + ces("application/xml")},
		{"xml binary", `<much wow="xml"/>`, bin("application/xml"), `{"data":"<much wow=\"xml\"/>",` + ces("application/xml")},
		{"atom binary", `<feed/>`, bin("application/atom+xml"), `{"data":"<feed/>",` + ces("application/atom+xml")},
		{"string of a binary type", sattrs(`,"datacontenttype":"application/octet-stream","data":"abc"`), []string{"Content-Type", ceStructuredType}, `{"data":"abc",` + ces("application/octet-stream")},
		{"bytes", sattrs(`,"datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="`), []string{"Content-Type", ceStructuredType}, `{"data_base64":"AAEC/w==",` + ces("application/octet-stream")},
		{"bytes unpadded", sattrs(`,"datacontenttype":"application/octet-stream","data_base64":"AAEC/w"`), []string{"Content-Type", ceStructuredType}, `{"data_base64":"AAEC/w==",` + ces("application/octet-stream")},
		{"bytes binary", "\x00\x01\x02\xff", bin("application/octet-stream"), `{"data_base64":"AAEC/w==",` + ces("application/octet-stream")},
		{"bytes without a type", sattrs(`,"data_base64":"aGk="`), []string{"Content-Type", ceStructuredType}, `{"data_base64":"aGk=",` + ces("")},
		{"bytes binary without a type", "hi", bin(""), `{"data_base64":"aGk=",` + ces("")},
		{"text that is not UTF-8", "caf\xe9", bin("text/plain; charset=iso-8859-1"), `{"data_base64":"Y2Fm6Q==",` + ces("text/plain; charset=iso-8859-1")},
		{"base64 JSON is JSON", sattrs(`,"datacontenttype":"application/json","data_base64":"eyJhIjogMX0="`), []string{"Content-Type", ceStructuredType}, `{"a":1,` + ces("application/json")},
		{"base64 text is text", sattrs(`,"datacontenttype":"text/plain","data_base64":"aGk="`), []string{"Content-Type", ceStructuredType}, `{"data":"hi",` + ces("text/plain")},
		{"control characters in text", "a\x00b\n", bin("text/plain"), `{"data":"a\u0000b\n",` + ces("text/plain")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			wantEntries(t, h.cloudEvents(c.body, c.headers...), http.StatusOK)
			envs := h.pub.envelopes(t)
			if len(envs) != 1 {
				t.Fatalf("%d published", len(envs))
			}
			if got := string(envs[0].env.Detail); got != c.detail {
				t.Errorf("detail\n %s\nwant\n %s", got, c.detail)
			}
		})
	}
}

// TestCloudEventsInvalid refuses each kind of invalid event, naming the
// attribute as the client sent it, and publishes nothing.
func TestCloudEventsInvalid(t *testing.T) {
	t.Parallel()
	s := func(members string) []string { // a structured event's body and headers
		return []string{`{"specversion":"1.0","id":"1","source":"/s","type":"t"` + members + `}`, "Content-Type", ceStructuredType}
	}
	sRaw := func(body string) []string { return []string{body, "Content-Type", ceStructuredType} }
	b := func(body string, hs ...string) []string { // binary mode
		base := map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}
		out := []string{body}
		for i := 0; i+1 < len(hs); i += 2 {
			if _, ok := base[hs[i]]; ok {
				base[hs[i]] = hs[i+1]
				continue
			}
			out = append(out, hs[i], hs[i+1])
		}
		for k, v := range base {
			if v != "-" {
				out = append(out, k, v)
			}
		}
		return out
	}
	long := strings.Repeat("x", 129)
	cases := []struct {
		name string
		req  []string // body, then headers
		code string
		msg  string
	}{
		// specversion
		{"no specversion", sRaw(`{"id":"1","source":"/s","type":"t"}`), "InvalidArgument", "specversion: is required"},
		{"null specversion", sRaw(`{"specversion":null,"id":"1","source":"/s","type":"t"}`), "InvalidArgument", "specversion: is required"},
		{"specversion 0.3", sRaw(`{"specversion":"0.3","id":"1","source":"/s","type":"t"}`), "InvalidArgument", `specversion: must be "1.0", got "0.3"`},
		{"specversion number", sRaw(`{"specversion":1.0,"id":"1","source":"/s","type":"t"}`), "InvalidArgument", `specversion: must be "1.0", got a number`},
		{"binary without ce headers", []string{`{"specversion":"1.0"}`, "Content-Type", "application/json"}, "InvalidArgument", "ce-specversion: is required (binary mode: the attributes go in ce-* headers; for an event as a JSON object use Content-Type application/cloudevents+json)"},
		{"binary specversion", b("", "ce-specversion", "0.3"), "InvalidArgument", `ce-specversion: must be "1.0", got "0.3"`},
		// required attributes
		{"no id", sRaw(`{"specversion":"1.0","source":"/s","type":"t"}`), "InvalidArgument", "id: is required"},
		{"empty id", s(`,"id":""`), "InvalidArgument", "id: must not be empty"},
		{"id number", s(`,"id":7`), "InvalidArgument", "id: must be a string, got a number"},
		{"no source", sRaw(`{"specversion":"1.0","id":"1","type":"t"}`), "InvalidArgument", "source: is required"},
		{"no type", sRaw(`{"specversion":"1.0","id":"1","source":"/s"}`), "InvalidArgument", "type: is required"},
		{"type object", s(`,"type":{}`), "InvalidArgument", "type: must be a string, got an object"},
		{"binary no id", b("", "ce-id", "-"), "InvalidArgument", "ce-id: is required"},
		{"binary no source", b("", "ce-source", "-"), "InvalidArgument", "ce-source: is required"},
		{"binary no type", b("", "ce-type", "-"), "InvalidArgument", "ce-type: is required"},
		// formats
		{"source with a space", s(`,"source":"orders service"`), "InvalidArgument", `source: "orders service" is not a URI-reference (RFC 3986): ' ' at offset 6 must be percent-encoded`},
		{"source with a bad escape", s(`,"source":"/a%zz"`), "InvalidArgument", "source: \"/a%zz\" is not a URI-reference (RFC 3986): % at offset 2"},
		{"source non-ASCII", s(`,"source":"/café"`), "InvalidArgument", `'é' at offset 4 must be percent-encoded`},
		{"source bad host", s(`,"source":"http://[::1"`), "InvalidArgument", `source: "http://[::1" is not a URI-reference`},
		{"binary source", b("", "ce-source", "a%20b"), "InvalidArgument", `ce-source: "a b" is not a URI-reference`},
		{"long source", s(`,"source":"` + strings.Repeat("s", 257) + `"`), "InvalidArgument", "source: must be at most 256 characters"},
		{"long type", s(`,"type":"` + long + `"`), "InvalidArgument", "type: must be at most 128 characters"},
		{"binary long type", b("", "ce-type", long), "InvalidArgument", "ce-type: must be at most 128 characters"},
		{"time", s(`,"time":"2025-11-28 06:21:54"`), "InvalidArgument", `time: "2025-11-28 06:21:54" is not an RFC 3339 timestamp`},
		{"binary time", b("", "ce-time", "1764310914"), "InvalidArgument", `ce-time: "1764310914" is not an RFC 3339 timestamp`},
		{"subject empty", s(`,"subject":""`), "InvalidArgument", "subject: must not be empty"},
		{"subject control", s(`,"subject":"a\nb"`), "InvalidArgument", "subject: must not contain control characters (U+0000-U+001F, U+007F-U+009F); found U+000A at offset 1"},
		{"subject C1 control", s(`,"subject":"a\u0085"`), "InvalidArgument", "found U+0085 at offset 1"},
		{"dataschema relative", s(`,"dataschema":"/schemas/x.json"`), "InvalidArgument", "dataschema: is not an absolute URI (RFC 3986): it has no scheme"},
		{"dataschema space", s(`,"dataschema":"https://x/a b"`), "InvalidArgument", "dataschema: \"https://x/a b\" is not a URI-reference"},
		{"datacontenttype", s(`,"datacontenttype":"json"`), "InvalidArgument", `datacontenttype: "json" is not a media type (RFC 2046)`},
		{"binary Content-Type", b("x", "Content-Type", "json"), "InvalidArgument", `Content-Type: "json" is not a media type (RFC 2046)`},
		// extensions
		{"upper-case name", s(`,"Subject":"x"`), "InvalidArgument", `attribute name "Subject" is not valid: names are 1 to 20 lower-case letters (a-z) and digits`},
		{"name with a dash", s(`,"my-ext":"x"`), "InvalidArgument", `attribute name "my-ext" is not valid`},
		{"long name", s(`,"abcdefghijklmnopqrstu":"x"`), "InvalidArgument", `attribute name "abcdefghijklmnopqrstu" is not valid`},
		{"empty name", s(`,"":"x"`), "InvalidArgument", `attribute name "" is not valid`},
		{"extension object", s(`,"ext":{"a":1}`), "InvalidArgument", "ext: must be a string, a boolean or an integer, got an object"},
		{"extension float", s(`,"ext":1.5`), "InvalidArgument", `ext: must be a string, a boolean or an integer from -2147483648 to 2147483647, got the number "1.5"`},
		{"extension too big", s(`,"ext":2147483648`), "InvalidArgument", `got the number "2147483648"`},
		{"extension empty", s(`,"ext":""`), "InvalidArgument", "ext: must not be empty"},
		{"binary name", b("", "ce-my_ext", "x"), "InvalidArgument", `ce-my_ext: attribute name "my_ext" is not valid`},
		{"binary long name", b("", "ce-"+strings.Repeat("x", 100), "x"), "InvalidArgument", `"ce-` + strings.Repeat("x", 61) + `"... (103 bytes): attribute name "` + strings.Repeat("x", 64) + `"... (100 bytes) is not valid`},
		{"binary data header", b("", "ce-data", "x"), "InvalidArgument", `ce-data: attribute name "data" is not valid`},
		{"binary datacontenttype header", b("", "ce-datacontenttype", "text/plain"), "InvalidArgument", "ce-datacontenttype: must not be sent in binary mode: Content-Type is the datacontenttype"},
		{"binary overlong UTF-8", b("", "ce-subject", "%C0%A0"), "InvalidArgument", "ce-subject: is not valid UTF-8 once percent-decoded (offset 0)"},
		{"binary control", b("", "ce-subject", "a%0Ab"), "InvalidArgument", "ce-subject: must not contain control characters"},
		// data
		{"data and data_base64", s(`,"data":{},"data_base64":"aGk="`), "MalformedDetail", "data_base64: must not be given together with data"},
		{"data_base64 number", s(`,"data_base64":12`), "MalformedDetail", "data_base64: must be a base64 string, got a number"},
		{"data_base64 not base64", s(`,"data_base64":"a*b"`), "MalformedDetail", "data_base64: is not base64 (RFC 4648)"},
		{"data_base64 not JSON", s(`,"datacontenttype":"application/json","data_base64":"aGk="`), "MalformedDetail", `data_base64: is not valid JSON, but datacontenttype "application/json" says it is: invalid character 'h' looking for beginning of value at offset 0`},
		{"text type with an object", s(`,"datacontenttype":"text/plain","data":{"a":1}`), "MalformedDetail", `data: must be a string when datacontenttype ("text/plain") is not JSON, got an object`},
		{"text type with null", s(`,"datacontenttype":"text/plain","data":null`), "MalformedDetail", `got null`},
		{"reserved member", s(`,"data":{"a":1,"cloudevents":{}}`), "MalformedDetail", `data: has a top-level member "cloudevents"`},
		{"binary not JSON", b(`{"a":`, "Content-Type", "application/json"), "MalformedDetail", `data: is not valid JSON, but Content-Type "application/json" says it is: unexpected end of JSON input at offset 5`},
		{"binary not UTF-8 JSON", b("\"\xff\"", "Content-Type", "application/json"), "MalformedDetail", "data: is not valid UTF-8 at offset 1"},
		{"deep data", s(`,"data":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000)), "MalformedDetail", "detail: nests deeper than 1000 levels"},
		{"huge data", s(`,"data":{"a":"` + strings.Repeat("x", 1<<20) + `"}`), "InvalidArgument", "entry size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			resp := wantEntries(t, h.cloudEvents(c.req[0], c.req[1:]...), http.StatusBadRequest)
			if len(resp.Entries) != 1 {
				t.Fatalf("answer %+v", resp)
			}
			if got := resp.Entries[0]; got.ErrorCode != c.code || !strings.Contains(got.ErrorMessage, c.msg) {
				t.Errorf("got %s: %s\nwant %s with %q", got.ErrorCode, got.ErrorMessage, c.code, c.msg)
			}
			if len(resp.Entries[0].ErrorMessage) > 600 {
				t.Errorf("message of %d bytes", len(resp.Entries[0].ErrorMessage))
			}
			if n := len(h.pub.envelopes(t)); n != 0 {
				t.Errorf("%d published", n)
			}
			if got := h.count("cloudevents", "rejected"); got != 1 {
				t.Errorf("rejected counter %v", got)
			}
		})
	}
}

// TestCloudEventsValidExtras: what the spec allows is accepted.
func TestCloudEventsValidExtras(t *testing.T) {
	t.Parallel()
	for name, c := range map[string][]string{
		"null optional attributes": {`{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":null,"time":null,"datacontenttype":null,"ext":null}`, "Content-Type", ceStructuredType},
		"URN source":               {`{"specversion":"1.0","id":"1","source":"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66","type":"t"}`, "Content-Type", ceStructuredType},
		"percent-encoded source":   {`{"specversion":"1.0","id":"1","source":"/caf%C3%A9","type":"t"}`, "Content-Type", ceStructuredType},
		"20-character name":        {`{"specversion":"1.0","id":"1","source":"/s","type":"t","abcdefghijklmnopqrst":-2147483648}`, "Content-Type", ceStructuredType},
		"unencoded binary value":   {"", "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "ce-subject", "100% done é"},
		"binary quoted value":      {"", "ce-specversion", `"1.0"`, "ce-id", `"a \"b\""`, "ce-source", "/s", "ce-type", "t"},
		"structured ignores ce-*":  {`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`, "Content-Type", ceStructuredType, "ce-specversion", "0.3"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			wantEntries(t, h.cloudEvents(c[0], c[1:]...), http.StatusOK)
		})
	}
	h := newHarness(t)
	wantEntries(t, h.cloudEvents("", "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "ce-subject", "100%25 done%20%C3%A9"), http.StatusOK)
	wantEntries(t, h.cloudEvents("", "ce-specversion", "1.0", "ce-id", `"a \"b\""`, "ce-source", "/s", "ce-type", "t"), http.StatusOK)
	envs := h.pub.envelopes(t)
	if got := string(envs[0].env.Detail); !strings.Contains(got, `"subject":"100% done é"`) {
		t.Errorf("percent-decoding: %s", got)
	}
	if got := string(envs[1].env.Detail); !strings.Contains(got, `"id":"a \"b\""`) {
		t.Errorf("unquoting: %s", got)
	}
}

// TestCloudEventsBatch: each event of a batch is accepted or refused on
// its own, in order; the refused ones are named by index.
func TestCloudEventsBatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.cloudEvents(`[
		{"specversion":"1.0","id":"1","source":"/s","type":"ok","data":{"n":1}},
		{"specversion":"1.0","id":"2","source":"/s","type":"ok"},
		{"specversion":"1.0","id":"3","type":"no source"},
		7,
		{"specversion":"0.3","id":"4","source":"/s","type":"old"},
		{"specversion":"1.0","id":"5","source":"/s","type":"ok","datacontenttype":"text/plain","data":"hi"}
	]`, "Content-Type", ceBatchType)
	resp := wantEntries(t, rec, http.StatusBadRequest)
	want := []struct{ code, msg string }{
		{"", ""},
		{"", ""},
		{"InvalidArgument", "event 2: source: is required"},
		{"InvalidArgument", "event 3: must be a JSON object, got a number"},
		{"InvalidArgument", `event 4: specversion: must be "1.0", got "0.3"`},
		{"", ""},
	}
	if len(resp.Entries) != len(want) || resp.FailedEntryCount != 3 {
		t.Fatalf("answer %+v", resp)
	}
	for i, w := range want {
		if got := resp.Entries[i]; got.ErrorCode != w.code || got.ErrorMessage != w.msg {
			t.Errorf("event %d: got %+v, want %q %q", i, got, w.code, w.msg)
		}
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 3 || envs[0].env.ID != ceID("/s", "1") || envs[1].env.ID != ceID("/s", "2") || envs[2].env.ID != ceID("/s", "5") {
		t.Fatalf("published %+v", envs)
	}
	if h.count("cloudevents", "accepted") != 3 || h.count("cloudevents", "rejected") != 3 {
		t.Errorf("counters %v accepted, %v rejected", h.count("cloudevents", "accepted"), h.count("cloudevents", "rejected"))
	}

	// An empty batch is valid (the JSON format says so) and accepts nothing.
	rec = h.cloudEvents(` [ ] `, "Content-Type", ceBatchType)
	answer := rec.Body.String()
	if resp := wantEntries(t, rec, http.StatusOK); len(resp.Entries) != 0 || !strings.Contains(answer, `"Entries":[]`) {
		t.Errorf("empty batch: %s", answer)
	}
}

// TestCloudEventsRequestErrors are whole-request failures: nothing is
// published and the answer says what and where.
func TestCloudEventsRequestErrors(t *testing.T) {
	t.Parallel()
	ev := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	many := "[" + strings.TrimSuffix(strings.Repeat(ev+",", MaxEventsPerRequest+1), ",") + "]"
	cases := []struct {
		name, path, body, ct string
		status               int
		typ, msg             string
	}{
		{"avro", "", ev, "application/cloudevents+avro", 415, "UnsupportedMediaTypeException", `Content-Type "application/cloudevents+avro": routerd reads CloudEvents in the JSON format only`},
		{"xml batch", "", ev, "application/cloudevents-batch+xml", 415, "UnsupportedMediaTypeException", "JSON format only"},
		{"no format", "", ev, "application/cloudevents", 415, "UnsupportedMediaTypeException", "JSON format only"},
		{"charset", "", ev, "application/cloudevents+json; charset=latin1", 415, "UnsupportedMediaTypeException", "charset must be utf-8"},
		{"not a media type", "", ev, "application/json; ;", 415, "UnsupportedMediaTypeException", `Content-Type "application/json; ;" is not a media type`},
		{"structured array", "", "[" + ev + "]", ceStructuredType, 400, "SerializationException", "a structured CloudEvent must be a JSON object, got an array; send a batch as application/cloudevents-batch+json"},
		{"structured string", "", `"x"`, ceStructuredType, 400, "SerializationException", "must be a JSON object, got a string"},
		{"structured syntax", "", `{"specversion":`, ceStructuredType, 400, "SerializationException", "invalid JSON: unexpected end of JSON input at offset 15"},
		{"structured empty", "", ``, ceStructuredType, 400, "SerializationException", "unexpected end of JSON input"},
		{"structured not UTF-8", "", "{\"id\":\"\xff\"}", ceStructuredType, 400, "SerializationException", "not valid UTF-8 at offset 7"},
		{"batch object", "", ev, ceBatchType, 400, "SerializationException", "a CloudEvents batch must be a JSON array of events, got an object"},
		{"batch null", "", `null`, ceBatchType, 400, "SerializationException", "got null"},
		{"batch too big", "", many, ceBatchType, 400, "ValidationException", "101 events in one batch, more than the limit of 100"},
		{"bad bus", "/v1/cloudevents?bus=no%20spaces", ev, ceStructuredType, 400, "ValidationException", `query parameter bus: "no spaces" is not a valid bus name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			path := c.path
			if path == "" {
				path = "/v1/cloudevents"
			}
			msg := wantError(t, h.do("POST", path, c.body, "Content-Type", c.ct), c.status, c.typ)
			if !strings.Contains(msg, c.msg) {
				t.Errorf("message %q, want %q in it", msg, c.msg)
			}
			if n := len(h.pub.envelopes(t)); n != 0 {
				t.Errorf("%d published", n)
			}
			if got := h.count("cloudevents", "rejected"); got != 1 {
				t.Errorf("rejected counter %v, want 1 for a request refused whole", got)
			}
		})
	}
}

// TestCloudEventsBusAndFailures: ?bus= picks the bus; a bus that does not
// exist refuses the events; the body limit is 413; a bus failure is 503.
func TestCloudEventsBusAndFailures(t *testing.T) {
	t.Parallel()
	ev := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	h := newHarness(t)
	wantEntries(t, h.do("POST", "/v1/cloudevents?bus=arn:aws:events:us-east-1:123456789012:event-bus/orders", ev, "Content-Type", ceStructuredType), http.StatusOK)
	if envs := h.pub.envelopes(t); len(envs) != 1 || envs[0].topic != "events.orders" {
		t.Errorf("published %+v", envs)
	}
	resp := wantEntries(t, h.do("POST", "/v1/cloudevents?bus=missing", "", "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t"), http.StatusBadRequest)
	if e := resp.Entries[0]; e.ErrorCode != "ResourceNotFoundException" || e.ErrorMessage != `bus: event bus "missing" does not exist` {
		t.Errorf("unknown bus: %+v", e)
	}

	small := newHarness(t, func(o *Options) { o.MaxBodyBytes = 100 })
	wantError(t, small.cloudEvents(strings.Repeat("x", 101), "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "Content-Type", "text/plain"),
		http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")
	req := httptest.NewRequest("POST", "/v1/cloudevents", strings.NewReader(strings.Repeat("x", 101)))
	req.ContentLength = -1 // chunked: refused while reading
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("ce-specversion", "1.0")
	rec := httptest.NewRecorder()
	small.h.ServeHTTP(rec, req)
	wantError(t, rec, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")

	down := newHarness(t)
	down.pub.setFail(errBusDown)
	rec = down.cloudEvents(ev, "Content-Type", ceStructuredType)
	wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if rec := newHarness(t, func(o *Options) { o.Ingester = nil }).cloudEvents(ev, "Content-Type", ceStructuredType); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("no ingester: %d", rec.Code)
	}
	if rec := h.do("GET", "/v1/cloudevents", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
}

// TestCloudEventsHostile: huge and deep input is answered quickly with a
// 4xx that does not echo it.
func TestCloudEventsHostile(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 1100<<10)
	for _, c := range []struct {
		name string
		req  []string
		want int
	}{
		{"deep body", []string{strings.Repeat("[", 20000), "Content-Type", ceBatchType}, 400},
		{"deep data", []string{`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}", "Content-Type", ceStructuredType}, 400},
		{"deep binary data", []string{strings.Repeat("[", 100000), "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t", "Content-Type", "application/json"}, 400},
		{"huge id", []string{`{"specversion":"1.0","id":"` + huge + `","source":"/s","type":"t"}`, "Content-Type", ceStructuredType}, 400},
		{"huge name", []string{`{"specversion":"1.0","id":"1","source":"/s","type":"t","` + huge + `":1}`, "Content-Type", ceStructuredType}, 400},
		{"huge header", []string{"", "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", huge}, 400},
		{"many headers", append([]string{"", "ce-specversion", "1.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t"}, manyHeaders(5000)...), 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			rec := h.cloudEvents(c.req[0], c.req[1:]...)
			if rec.Code != c.want {
				t.Errorf("status %d, want %d: %.300s", rec.Code, c.want, rec.Body)
			}
			if rec.Body.Len() > 1000 {
				t.Errorf("answer of %d bytes echoes the input: %.200s", rec.Body.Len(), rec.Body)
			}
			for _, p := range h.pub.envelopes(t) {
				if !json.Valid(p.env.Detail) || p.env.Detail[0] != '{' {
					t.Errorf("published a malformed detail: %.200s", p.env.Detail)
				}
			}
		})
	}
}

func manyHeaders(n int) []string {
	out := make([]string, 0, 2*n)
	for i := range n {
		out = append(out, fmt.Sprintf("ce-ext%d", i), "v")
	}
	return out
}

// TestCloudEventsTruncated cuts valid bodies at every byte: each prefix is
// refused with a 4xx or accepted, never a 500.
func TestCloudEventsTruncated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, ct := range []string{ceStructuredType, ceBatchType} {
		body := fullStructured
		if ct == ceBatchType {
			body = "[" + fullStructured + "," + fullStructured + "]"
		}
		for i := range len(body) {
			rec := h.cloudEvents(body[:i], "Content-Type", ct)
			checkCloudEventsAnswer(t, h, rec.Code, rec.Body.Bytes())
		}
	}
}

// FuzzCloudEvents sends arbitrary Content-Types, ce-* headers and bodies
// through the whole handler: the answer is a 2xx or 4xx in the documented
// shape, never a 500 or a panic, and only reported ids are published.
// Seeds: below and testdata/fuzz/FuzzCloudEvents.
// Run: go test ./sources/http -run '^$' -fuzz FuzzCloudEvents -fuzztime 1m
func FuzzCloudEvents(f *testing.F) {
	f.Add(ceStructuredType, "", []byte(fullStructured))
	f.Add(ceBatchType, "", []byte("["+fullStructured+`,{"specversion":"1.0"},7]`))
	f.Add("application/json", "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\nce-subject: a%20b", []byte(`{"a":[1,2]}`))
	f.Add("text/plain; charset=utf-8", "ce-specversion: \"1.0\"\nce-id: 1\nce-source: /s\nce-type: t\nce-id: 2", []byte("hi"))
	f.Add("application/cloudevents+avro", "", []byte{0})
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, ct, headers string, body []byte) {
		h.t = t
		hs := []string{"Content-Type", ct}
		for line := range strings.SplitSeq(headers, "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				hs = append(hs, k, v)
			}
		}
		rec := h.cloudEvents(string(body), hs...)
		checkCloudEventsAnswer(t, h, rec.Code, rec.Body.Bytes())
	})
}

// checkCloudEventsAnswer is checkAnswer, which also allows 415.
func checkCloudEventsAnswer(t *testing.T, h *harness, status int, body []byte) {
	t.Helper()
	if status == http.StatusUnsupportedMediaType {
		var e awsErr
		if err := json.Unmarshal(body, &e); err != nil || e.Type != "UnsupportedMediaTypeException" || e.Message == "" {
			t.Fatalf("415 without an error body: %s", body)
		}
		if n := len(h.pub.envelopes(t)); n != 0 {
			t.Fatalf("%d published for a 415", n)
		}
		return
	}
	// An empty batch: nothing to report, nothing published.
	var resp putEventsResponse
	if status == http.StatusOK && json.Unmarshal(body, &resp) == nil && resp.Entries != nil && len(resp.Entries) == 0 {
		if n := len(h.pub.envelopes(t)); n != 0 || resp.FailedEntryCount != 0 {
			t.Fatalf("empty answer %s, %d published", body, n)
		}
		return
	}
	checkAnswer(t, h, status, body, http.StatusOK, http.StatusBadRequest)
}

// TestCloudEventsRepeatedHeader: an attribute header sent twice is
// ambiguous (values may hold commas, so they cannot be joined): refused.
func TestCloudEventsRepeatedHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req := httptest.NewRequest("POST", "/v1/cloudevents", nil)
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t"} {
		req.Header.Set(k, v)
	}
	req.Header.Add("ce-id", "1")
	req.Header.Add("ce-id", "2")
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	resp := wantEntries(t, rec, http.StatusBadRequest)
	if got := resp.Entries[0].ErrorMessage; got != "ce-id: given 2 times; send it once" {
		t.Errorf("message %q", got)
	}
}

// TestCloudEventsDocExample keeps CLOUDEVENTS.md's first example true.
func TestCloudEventsDocExample(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	wantEntries(t, h.cloudEvents(`{"specversion":"1.0","type":"com.example.order.created","source":"/orders","id":"A234-1234-1234",
 "time":"2025-11-28T07:21:54.25+01:00","subject":"order/42","comexampleothervalue":5,
 "datacontenttype":"application/json","data":{"total":1250}}`, "Content-Type", ceStructuredType), http.StatusOK)
	want := `{"version":"0","id":"96936098-602f-53a4-b8fa-14d20a8be066","detail-type":"com.example.order.created",
 "source":"/orders","account":"000000000000","time":"2025-11-28T06:21:54Z","region":"local","resources":[],
 "detail":{"total":1250,"cloudevents":{"specversion":"1.0","id":"A234-1234-1234","source":"/orders",
   "type":"com.example.order.created","datacontenttype":"application/json","subject":"order/42",
   "time":"2025-11-28T07:21:54.25+01:00","comexampleothervalue":"5"}}}`
	var compact strings.Builder
	for _, line := range strings.Split(want, "\n") {
		compact.WriteString(strings.TrimSpace(line))
	}
	h.pub.mu.Lock()
	got := string(h.pub.msgs[0].msg.Payload)
	h.pub.mu.Unlock()
	if got != compact.String() {
		t.Errorf("published\n %s\nCLOUDEVENTS.md says\n %s", got, compact.String())
	}
}

// schemaStub refuses every detail without a "total", as a configured
// JSON Schema would.
type schemaStub struct{}

func (schemaStub) Validate(source, detailType string, detail []byte) *event.EntryError {
	if !gjson.GetBytes(detail, "total").Exists() {
		return &event.EntryError{Code: "InvalidArgument", Field: "Detail", Message: "/total: required"}
	}
	return nil
}

// TestCloudEventsSchemas: a schema sees the detail built from the event,
// and its refusal names the detail.
func TestCloudEventsSchemas(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.in.Schemas = schemaStub{}
	rec := h.cloudEvents(`[{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"total":1}},
		{"specversion":"1.0","id":"2","source":"/s","type":"t","data":{"sum":1}}]`, "Content-Type", ceBatchType)
	resp := wantEntries(t, rec, http.StatusBadRequest)
	if resp.Entries[0].EventId == "" || resp.Entries[1].ErrorMessage != "event 1: detail: /total: required" {
		t.Errorf("answer %+v", resp)
	}
}
