package rules

import (
	"strings"
	"testing"
)

// The event walk is a hand-written JSON scanner: these events take it through
// what real events hold and citylots does not — whitespace everywhere,
// escapes in keys and values (also past the short-string loop), surrogate
// pairs, repeated keys, objects it must skip or leave early, numbers in
// every spelling — and check it against the reference evaluator, which
// decodes with encoding/json.
func TestWalkAgreesWithReference(t *testing.T) {
	long := strings.Repeat("x", 40)
	pats := []string{
		`{"a":["v"]}`,
		`{"a":[{"prefix":"v"}],"c":[{"exists":true}]}`,
		`{"b":{"c":["w"]}}`,
		`{"b":{"c":["w"],"d":[{"numeric":[">",1]}]}}`,
		`{"b":{"d":[100]}}`,
		`{"k\"q":["1"]}`,
		`{"a":["` + long + `\"` + long + `"]}`,
		`{"a":["😀"]}`,
		`{"a":["\ufffd"]}`,
		`{"a":[{"exists":false}],"z":[true]}`,
		`{"z":[null]}`,
		`{"arr":{"x":["1"],"y":["2"]}}`,
		`{"n":[-0.0]}`,
		`{"n":[{"numeric":[">=",1e300]}]}`,
		`{"s":["a\\b"]}`,
		`{"s":["a/b"]}`,
	}
	events := []string{
		`{"a":"v"}`,
		"\n\t{ \"a\" :\r\n \"v\" , \"c\" : { } }\n",
		`{"a":"vw","c":[]}`,
		`{"a":"vw","c":[1]}`,
		`{"\u0061":"v"}`,
		`{"a":"\u0076"}`,
		`{"a":"v","a":"w"}`,
		`{"a":"w","a":"v"}`,
		`{"x":{"a":"v"},"a":"v"}`,
		`{"x":"{\"a\":\"v\"}","a":"v"}`,
		`{"x":"\\","a":"v"}`,
		`{"x":"\\\"","a":"v"}`,
		`{"b":{"c":"w","e":{"f":[1,{"g":"}"}]},"d":2},"a":"q"}`,
		`{"b":{"c":"w"},"b":{"c":"x","d":5}}`,
		`{"b":{"d":1e2}}`,
		`{"b":{"d":100.0}}`,
		`{"b":{"d":1E+2}}`,
		`{"k\"q":"1"}`,
		`{"k\u0022q":"1"}`,
		`{"a":"` + long + `\"` + long + `"}`,
		`{"a":"` + long + `\u0022` + long + `"}`,
		`{"a":"\ud83d\ude00"}`,
		`{"a":"😀"}`,
		`{"z":true}`,
		`{"z":null,"a":"v"}`,
		`{"z":[true,false]}`,
		`{"arr":[{"x":"1","y":"3"},{"x":"4","y":"2"}]}`,
		`{"arr":[{"x":"1","y":"2"}]}`,
		`{"arr":[[{"x":"1"}],{"y":"2"}]}`,
		`{"n":0}`,
		`{"n":-0}`,
		`{"n":1e400}`,
		`{"n":[1,[2,[3e300]]]}`,
		`{"s":"a\\b"}`,
		`{"s":"a\/b"}`,
		`{"s":"a\\\\b"}`,
	}
	checkAgainstReference(t, pats, events)
}

// Broken JSON must never panic the walk; what it matches is unspecified.
func TestWalkSurvivesBrokenJSON(t *testing.T) {
	tb, err := NewTable([]Rule{
		{Name: "a", Pattern: MustCompile(`{"a":["v"],"b":{"c":[{"exists":true}]}}`)},
		{Name: "n", Pattern: MustCompile(`{"a":[{"exists":false}]}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	src := `{"a" : "v\u00e9\"", "x":[{"y":[1,2,"z"]}], "b":{"c":[1e5,true,null,"\\"]}}`
	for i := range len(src) + 1 {
		for _, ev := range []string{src[:i], src[:i] + "}", src[:i] + `"`, src[:i] + `\`, src[i:]} {
			tb.Match([]byte(ev))
		}
	}
	for _, ev := range []string{`{"a":"\u12"}`, `{"a":"\ud800\u"}`, `{"a":tru}`, `{"a":-}`, `{"a":1.2.3}`, `{"a" "v"}`, `{"a":"v" "b":1}`, `{,}`, `{"a":[1 2]}`, `{"a":"v"]`, strings.Repeat("[", 5000), `{"a":` + strings.Repeat("[", 5000)} {
		tb.Match([]byte(ev))
	}
}
