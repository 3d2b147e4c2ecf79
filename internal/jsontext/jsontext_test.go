package jsontext

import (
	"encoding/json"
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
