package schemas

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FuzzDecode holds decode to the library's own decoder: the same value for
// every text, or an error for both.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"orderId":"o-1","total":1250,"items":[{"productId":"p-1","quantity":2}],"address":{"city":"Lyon"}}`,
		`{}`, `[]`, `  {"a" : [ 1 , -0 , 1e400 , 0.5E-3 , true , false , null , [] , {} ] }  `,
		`{"a":1,"a":"two"}`, `{"\u0061":"\ud800","b\"":"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`,
		`"top"`, `42`, `null`, `{"s":"caf` + "\xe9" + `"}`, `{"a":1}x`, `{"a":`, ``, ` `, `[[[[[[]]]]]]`,
		"{\"k\u2028\":\"\u2029\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := decode(b)
		want, werr := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if (gerr != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, library's %v", b, gerr, werr)
		}
		if gerr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded %#v, library %#v", b, got, want)
		}
	})
}
