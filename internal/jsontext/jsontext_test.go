package jsontext

import (
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
