package schemas_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/schemas"
)

// testSet compiles testdata/config.yaml's schemas the way routerd does:
// loaded by config, paths relative to the config file.
func testSet(t testing.TB) *schemas.Set {
	t.Helper()
	cfg, err := config.Load("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := schemas.Compile(cfg.Schemas, filepath.Dir(cfg.File))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

type testCase struct {
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Detail json.RawMessage `json:"detail"`
	Raw    *string         `json:"raw"`
	Want   []string        `json:"want"` // "path: message", or "message" for detail itself
}

// TestCases runs testdata/cases.json: each detail against the schema for
// source "shop" and its detail-type, expecting exactly the violations
// listed, in order.
func TestCases(t *testing.T) {
	set := testSet(t)
	b, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			detail := []byte(tc.Detail)
			if tc.Raw != nil {
				detail = []byte(*tc.Raw)
			}
			err := set.Check("shop", tc.Type, detail)
			var got []string
			if err != nil {
				se, ok := err.(*schemas.Error)
				if !ok {
					t.Fatalf("Check: %v (%T), want a *schemas.Error", err, err)
				}
				for _, v := range se.Violations {
					if v.Path == "" {
						got = append(got, v.Message)
					} else {
						got = append(got, v.Path+": "+v.Message)
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.Want, "\n") {
				g, _ := json.Marshal(got)
				t.Errorf("violations:\n got %s\nwant %q", g, tc.Want)
			}
			// Validate words the same list as one message.
			ee := set.Validate("shop", tc.Type, detail)
			switch {
			case len(tc.Want) == 0 && ee != nil:
				t.Errorf("Validate = %v, want nil", ee)
			case len(tc.Want) > 0 && ee == nil:
				t.Errorf("Validate = nil, want an error")
			case ee != nil:
				if ee.Code != "InvalidArgument" || ee.Field != "Detail" {
					t.Errorf("Validate = %+v, want InvalidArgument on Detail", ee)
				}
				if want := strings.Join(tc.Want, "; "); !strings.HasSuffix(ee.Message, ": "+want) {
					t.Errorf("Validate message %q does not end with %q", ee.Message, want)
				}
			}
		})
	}
}

// TestCompileErrors: a bad schema stops Compile with the config entry, the
// file and the place in the schema named, and every bad entry is reported.
func TestCompileErrors(t *testing.T) {
	file := func(f string) config.Schema {
		return config.Schema{Source: "shop", DetailType: f, SchemaFile: f}
	}
	inline := func(v any) config.Schema {
		return config.Schema{Source: "shop", DetailType: "Inline", Schema: v}
	}
	cases := []struct {
		name string
		list []config.Schema
		want []string // substrings, in order
	}{
		{"missing file", []config.Schema{file("bad/nofile.json")},
			[]string{"schemas[0]: schema_file bad/nofile.json: cannot read ", filepath.Join("testdata", "bad", "nofile.json"), "no such file"}},
		{"JSON syntax", []config.Schema{file("draft07/order.json"), file("bad/syntax.json")},
			[]string{"schemas[1]: schema_file bad/syntax.json: invalid JSON at line 4, column 33"}},
		{"not a valid schema", []config.Schema{file("bad/type.json")},
			[]string{"schemas[0]: schema_file bad/type.json: not a valid schema: ",
				"at /properties/total/minimum: must be a number, not a string",
				"at /properties/total/type: must be an array, or must be one of \"array\""}},
		{"$ref to a missing sibling", []config.Schema{file("bad/missing-ref.json")},
			[]string{"schemas[0]: schema_file bad/missing-ref.json: $ref bad/nowhere.json: cannot read"}},
		{"remote $ref", []config.Schema{file("bad/remote-ref.json")},
			[]string{"schemas[0]: schema_file bad/remote-ref.json: $ref https://example.com/schemas/a.json: only local files can be referenced"}},
		{"$ref to a missing definition", []config.Schema{file("bad/pointer.json")},
			[]string{"schemas[0]: schema_file bad/pointer.json: $ref target bad/pointer.json#/$defs/nothere does not exist"}},
		{"bad regular expression", []config.Schema{file("bad/regex.json")},
			[]string{"schemas[0]: schema_file bad/regex.json: not a valid schema: at /properties/a/pattern: must be a regular expression"}},
		{"unsupported draft", []config.Schema{file("bad/draft.json")},
			[]string{"schemas[0]: schema_file bad/draft.json: $schema http://json-schema.org/draft-03/schema is not a draft we support"}},
		{"inline, not a valid schema", []config.Schema{inline(map[string]any{"type": "object", "required": "id"})},
			[]string{"schemas[0].schema: not a valid schema: at /required: must be an array, not a string"}},
		{"inline, JSON syntax", []config.Schema{inline(`{"type": }`)},
			[]string{"schemas[0].schema: invalid JSON at line 1, column 11"}},
		{"every bad entry", []config.Schema{file("bad/nofile.json"), file("draft04/order.json"), file("bad/regex.json")},
			[]string{"schemas[0]: ", "\nschemas[2]: "}},
		{"duplicate", []config.Schema{file("draft04/order.json"), {Source: "shop", DetailType: "draft04/order.json", SchemaFile: "draft07/order.json"}},
			[]string{"schemas[1]: another entry already has a schema for source \"shop\" and detail-type \"draft04/order.json\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := schemas.Compile(tc.list, "testdata")
			if err == nil {
				t.Fatalf("Compile = %v, nil; want an error", set)
			}
			msg, rest := err.Error(), err.Error()
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q\ndoes not contain %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// TestNoSchema: without a schema for the event, nothing is checked, not
// even that detail is JSON; a nil or empty Set checks nothing.
func TestNoSchema(t *testing.T) {
	set := testSet(t)
	if err := set.Validate("shop", "Unknown", []byte("not json")); err != nil {
		t.Errorf("no schema: %v", err)
	}
	if err := set.Validate("other.service", "OrderCreated", []byte(`{}`)); err != nil {
		t.Errorf("other source: %v", err)
	}
	var none *schemas.Set
	if err := none.Validate("shop", "OrderCreated", []byte(`{}`)); err != nil || none.Has("shop", "OrderCreated") || none.Len() != 0 {
		t.Errorf("nil Set: %v", err)
	}
	empty, err := schemas.Compile(nil, "")
	if err != nil || empty.Validate("shop", "OrderCreated", []byte(`{}`)) != nil || empty.Len() != 0 {
		t.Errorf("empty Set: %v", err)
	}
	if !set.Has("shop", "OrderCreated") || set.Len() != 6 {
		t.Errorf("Has/Len: %v %d", set.Has("shop", "OrderCreated"), set.Len())
	}
}

// TestMalformedDetail: a detail that is not JSON (callers normally refuse
// it before) is MalformedDetail, not a panic.
func TestMalformedDetail(t *testing.T) {
	set := testSet(t)
	for _, d := range []string{`{"a":`, `{} {}`, `[1`, "\xff"} {
		ee := set.Validate("shop", "OrderCreated", []byte(d))
		if ee == nil || ee.Code != "MalformedDetail" || ee.Field != "Detail" {
			t.Errorf("%q: %+v, want MalformedDetail", d, ee)
		}
	}
	// A JSON value that is not an object gets the schema's verdict.
	ee := set.Validate("shop", "OrderCreated", []byte(`[1]`))
	if ee == nil || ee.Message != "does not match schema order-created: must be an object, not an array" {
		t.Errorf("array: %+v", ee)
	}
}

// TestManyViolations: the structured list is bounded by MaxViolations and
// the message by what the HTTP doors pass on, both saying how many more.
func TestManyViolations(t *testing.T) {
	set := testSet(t)
	var items []string
	for range 300 {
		items = append(items, `{"productId":"p","quantity":0}`)
	}
	detail := `{"orderId":"o","customerId":"8c4a2f5e-1b7d-4c2a-9f3e-5d6b7a8c9d0e","total":1,` +
		`"shippingAddress":{"street":"s","city":"c","country":"US","postalCode":"1"},"items":[` + strings.Join(items, ",") + `]}`
	err := set.Check("shop", "OrderCreated", []byte(detail))
	se, ok := err.(*schemas.Error)
	if !ok {
		t.Fatalf("Check = %v", err)
	}
	if len(se.Violations) != schemas.MaxViolations || se.Omitted != 300-schemas.MaxViolations {
		t.Errorf("%d violations, %d omitted", len(se.Violations), se.Omitted)
	}
	if se.Violations[0].Path != "items[0].quantity" || se.Violations[99].Path != "items[99].quantity" {
		t.Errorf("first and last: %v %v", se.Violations[0], se.Violations[99])
	}
	msg := se.Error()
	if len(msg) > 1000 || !strings.HasSuffix(msg, " more") || !strings.Contains(msg, "items[0].quantity: must be > 0; items[1].quantity") {
		t.Errorf("message (%d bytes): %s", len(msg), msg)
	}
	j, _ := json.Marshal(se)
	if !strings.HasPrefix(string(j), `{"schema":"order-created","violations":[{"path":"items[0].quantity","message":"must be \u003e 0"}`) {
		t.Errorf("JSON: %.200s", j)
	}
}

// TestExampleConfig: config.example.yaml's schemas compile from the
// repository root, and the order it documents passes while the one it
// shows failing fails.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := schemas.Compile(cfg.Schemas, filepath.Dir(cfg.File))
	if err != nil {
		t.Fatal(err)
	}
	if !set.Has("orders.service", "OrderCreated") {
		t.Fatal("no schema for orders.service OrderCreated")
	}
	good := `{"orderId":"o-1","customerId":"8c4a2f5e-1b7d-4c2a-9f3e-5d6b7a8c9d0e","total":1250,` +
		`"items":[{"productId":"p-1","quantity":2}],` +
		`"shippingAddress":{"street":"1 Main St","city":"Springfield","country":"US","postalCode":"12345"}}`
	if ee := set.Validate("orders.service", "OrderCreated", []byte(good)); ee != nil {
		t.Errorf("the example's order: %v", ee)
	}
	ee := set.Validate("orders.service", "OrderCreated", []byte(`{"orderId":"o-1","total":1250}`))
	want := "does not match schema order-created: customerId: required; items: required; shippingAddress: required"
	if ee == nil || ee.Message != want {
		t.Errorf("a bare order: %v, want %s", ee, want)
	}
	// The refusal the example's comment shows.
	ee = set.Validate("orders.service", "OrderCreated", []byte(`{"orderId":"o-2","customerId":"c-9","total":40,"items":[]}`))
	want = "does not match schema order-created: customerId: must be a UUID; items: must have at least 1 item; shippingAddress: required"
	if ee == nil || ee.Message != want {
		t.Errorf("the example's bad order: %v, want %s", ee, want)
	}
}

// TestLive: a reload swaps the Set whole.
func TestLive(t *testing.T) {
	var live schemas.Live
	if ee := live.Validate("shop", "Ping", []byte(`{}`)); ee != nil {
		t.Errorf("zero Live: %v", ee)
	}
	live.Store(testSet(t))
	if ee := live.Validate("shop", "Ping", []byte(`{}`)); ee == nil || ee.Message != "does not match schema ping: at: required" {
		t.Errorf("after Store: %v", ee)
	}
	live.Store(nil)
	if ee := live.Validate("shop", "Ping", []byte(`{}`)); ee != nil || live.Load() != nil {
		t.Errorf("after Store(nil): %v", ee)
	}
}

// TestConcurrent validates from many goroutines at once (run with -race):
// a Set is shared by every ingest request.
func TestConcurrent(t *testing.T) {
	set := testSet(t)
	good := []byte(orderDetail)
	bad := []byte(`{"orderId":"o","customerId":"x","total":-1,"items":[{"productId":"p","quantity":0}],"shippingAddress":{}}`)
	want := set.Validate("shop", "OrderCreated", bad).Message
	done := make(chan string, 16)
	for g := range 16 {
		go func() {
			for i := range 200 {
				if (g+i)%2 == 0 {
					if ee := set.Validate("shop", "OrderCreated", good); ee != nil {
						done <- ee.Error()
						return
					}
				} else if ee := set.Validate("shop", "OrderCreated", bad); ee == nil || ee.Message != want {
					done <- "bad detail: " + ee.Error()
					return
				}
			}
			done <- ""
		}()
	}
	for range 16 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

const orderDetail = `{"orderId":"o-1","customerId":"8c4a2f5e-1b7d-4c2a-9f3e-5d6b7a8c9d0e","total":1250,"currency":"EUR",` +
	`"items":[{"productId":"p-1","quantity":2},{"productId":"p-2","quantity":1},{"productId":"p-3","quantity":5}],` +
	`"shippingAddress":{"street":"1 Main St","city":"Springfield","country":"US","postalCode":"12345"}}`

// BenchmarkValidate is the cost a schema adds to each ingested entry, for
// a typical order; NoSchema is the cost for events without one.
func BenchmarkValidate(b *testing.B) {
	set := testSet(b)
	detail := []byte(orderDetail)
	b.Run("order", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ee := set.Validate("shop", "OrderCreated", detail); ee != nil {
				b.Fatal(ee)
			}
		}
	})
	b.Run("order-violations", func(b *testing.B) {
		bad := []byte(`{"orderId":"","customerId":"x","total":-1,"items":[{"productId":"p","quantity":0}],"shippingAddress":{"city":"c"}}`)
		b.ReportAllocs()
		for b.Loop() {
			if ee := set.Validate("shop", "OrderCreated", bad); ee == nil {
				b.Fatal("valid?")
			}
		}
	})
	b.Run("no-schema", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ee := set.Validate("shop", "NoSuchType", detail); ee != nil {
				b.Fatal(ee)
			}
		}
	})
}

// FuzzValidate: any detail, against every test schema, gets nil or an
// error with a code and a message; never a panic.
func FuzzValidate(f *testing.F) {
	set := testSet(f)
	b, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		f.Fatal(err)
	}
	var cases []testCase
	if err := json.Unmarshal(b, &cases); err != nil {
		f.Fatal(err)
	}
	for _, tc := range cases {
		f.Add(tc.Type, []byte(tc.Detail))
	}
	f.Add("OrderCreated", []byte(`{"items":[[[[[[[[[[[]]]]]]]]]]],"total":1e400,"customerId":"\ud800"}`))
	f.Add("OrderRef", []byte(`{"billing":{"country":"\u0000"},"contact":{"phone":-0}}`))
	f.Fuzz(func(t *testing.T, detailType string, detail []byte) {
		ee := set.Validate("shop", detailType, detail)
		if ee != nil && (ee.Code == "" || ee.Message == "" || ee.Field != "Detail") {
			t.Errorf("incomplete error %+v", ee)
		}
	})
}
