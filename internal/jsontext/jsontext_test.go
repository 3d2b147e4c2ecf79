package jsontext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKind(t *testing.T) {
	for raw, want := range map[string]string{``: "nothing", `{}`: "an object", `[1]`: "an array", `"x"`: "a string", `true`: "a boolean", `false`: "a boolean", `null`: "null", `-1.5`: "a number"} {
		if got := Kind([]byte(raw)); got != want {
			t.Errorf("Kind(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short"); got != `"short"` {
		t.Errorf("Clip(short) = %s", got)
	}
	long := strings.Repeat("é", 40) // 80 bytes: the cut must not split a rune
	got := Clip(long)
	if !strings.HasSuffix(got, "... (80 bytes)") || !utf8.ValidString(got) || strings.Count(got, "é") != 32 {
		t.Errorf("Clip(long) = %s", got)
	}
}

// FuzzAppendUnquote holds AppendUnquote to json.Unmarshal: the same string
// for every string token, and false for whatever is not one (bare: without
// whitespace around it). Unquote, for
// valid tokens, must agree.
func FuzzAppendUnquote(f *testing.F) {
	for _, s := range []string{`"abc"`, `""`, `"a\"b"`, `"a"b"`, `"é"`, "\"\xff\"", "\"a\tb\"", `"\u00e9\ud800\ud83d\ude00"`,
		`"\/\b\f\n\r\t\\"`, `"a\x"`, `"a\"`, `"`, `x`, `"{\"orderId\":\"o-1\",\"total\":12}"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := AppendUnquote([]byte("pre"), raw)
		var want string
		err := json.Unmarshal(raw, &want)
		// A token: json.Unmarshal also takes whitespace around one.
		if wantOK := err == nil && raw[0] == '"' && raw[len(raw)-1] == '"'; ok != wantOK || ok && string(got) != "pre"+want || !ok && string(got) != "pre" {
			t.Fatalf("%q: AppendUnquote %q, %v; json.Unmarshal %q, %v", raw, got, ok, want, err)
		}
		if ok && Unquote(string(raw)) != want {
			t.Fatalf("%q: Unquote %q, json.Unmarshal %q", raw, Unquote(string(raw)), want)
		}
	})
}

// FuzzMembers holds Members and Elements to json.Unmarshal into a map and
// a slice of raw values: the same values, the last of a repeated name
// winning.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"]}"}]},"a":[true,false,null],"f":-1.5e3}`,
		` { "a" : 1 , "b" : [ ] , "c" : { } } `, `{}`, `[]`, `[1,"a",{"b":[2]},[3]]`, `{"\u0061":"\\"}`, `"x"`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		text = []byte(strings.Trim(string(text), " \t\r\n"))
		if !json.Valid(text) {
			return
		}
		switch text[0] {
		case '{':
			var want map[string]json.RawMessage
			if err := json.Unmarshal(text, &want); err != nil {
				t.Fatal(err)
			}
			got := map[string]json.RawMessage{}
			Members(text, func(name, value []byte) { got[Unquote(string(name))] = value })
			if len(got) != len(want) {
				t.Fatalf("%q: %d members, json.Unmarshal %d", text, len(got), len(want))
			}
			for k, v := range want {
				if string(got[k]) != string(v) {
					t.Fatalf("%q: %q = %q, json.Unmarshal %q", text, k, got[k], v)
				}
			}
		case '[':
			var want []json.RawMessage
			if err := json.Unmarshal(text, &want); err != nil {
				t.Fatal(err)
			}
			var got []json.RawMessage
			Elements(text, func(value []byte) { got = append(got, value) })
			if len(got) != len(want) {
				t.Fatalf("%q: %d elements, json.Unmarshal %d", text, len(got), len(want))
			}
			for i := range want {
				if string(got[i]) != string(want[i]) {
					t.Fatalf("%q: [%d] = %q, json.Unmarshal %q", text, i, got[i], want[i])
				}
			}
		}
	})
}

func TestDuplicateName(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20) + `{"x":1,"x":2}` + strings.Repeat(`}`, 20)
	var many strings.Builder
	many.WriteString(`{`)
	for i := range 100 {
		fmt.Fprintf(&many, `"k%d":%d,`, i, i)
	}
	many.WriteString(`"k57":0}`)
	for _, c := range []struct{ in, name, path string }{
		{`{"total":1,"total":2}`, "total", ".total"},
		{`{"a":{"b":[1,{"c":0},{"c":1,"d":2,"c":3}]}}`, "c", ".a.b[2].c"},
		{`{"a":"x","b":{"a":"y"},"a":"z"}`, "a", ".a"},
		{`{"\u0061":1,"a":2}`, "a", ".a"},
		{`{"a b":1,"a b":2}`, "a b", `["a b"]`},
		{`[{"k":1},{"k":2,"k":3}]`, "k", "[1].k"},
		{`{"":1,"":2}`, "", `[""]`},
		{`{"s":"{\"a\":1,\"a\":2}","t":"\\","s":3}`, "s", ".s"},
		{many.String(), "k57", ".k57"},
		{deep, "x", ".a.a.a.a….a.a.a.a.a.a.a.a.x"},
	} {
		name, path, ok := DuplicateName([]byte(c.in))
		if !ok || name != c.name || path != c.path {
			t.Errorf("%.60s: got %q at %q (%v), want %q at %q", c.in, name, path, ok, c.name, c.path)
		}
	}
	for _, in := range []string{`{}`, `[]`, `"x"`, `1`, `{"a":{"a":{"a":1}}}`, `[{"a":1},{"a":2}]`, `{"a":[],"b":{},"c":""}`,
		`{"a":"\"b\":1,","b":2}`, `{"A":1,"a":2}`, `{"é":1,"e\u0301":2}`} {
		if name, path, ok := DuplicateName([]byte(in)); ok {
			t.Errorf("%s: found %q at %q", in, name, path)
		}
	}
}

// FuzzDuplicateName holds DuplicateName to encoding/json's tokenizer: a
// name repeats exactly when some object's decoded names do.
func FuzzDuplicateName(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":1},"b":{"b":2,"c":[{"c":1,"c":2}]}}`, `[{"\u0061":1,"a":1}]`, `{"x":"}"}`, `"s"`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !json.Valid(v) {
			return
		}
		_, _, got := DuplicateName(bytes.TrimSpace(v))
		if want := hasDuplicate(v); got != want {
			t.Errorf("%q: DuplicateName found one: %v, encoding/json: %v", v, got, want)
		}
	})
}

// hasDuplicate is the slow, obvious DuplicateName.
func hasDuplicate(v []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(v))
	type frame struct {
		seen    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				if top != nil && top.seen != nil {
					top.wantKey = true
				}
				f := &frame{}
				if tok == '{' {
					f.seen, f.wantKey = map[string]bool{}, true
				}
				stack = append(stack, f)
				continue
			}
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].seen != nil {
				stack[len(stack)-1].wantKey = true
			}
		case string:
			if top != nil && top.seen != nil && top.wantKey {
				if top.seen[tok] {
					return true
				}
				top.seen[tok] = true
				top.wantKey = false
				continue
			}
			if top != nil && top.seen != nil {
				top.wantKey = true
			}
		default:
			if top != nil && top.seen != nil {
				top.wantKey = true
			}
		}
	}
}
