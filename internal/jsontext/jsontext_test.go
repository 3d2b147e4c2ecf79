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
