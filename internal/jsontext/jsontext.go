// Package jsontext holds small helpers for raw JSON text shared by the
// ingest parsers.
package jsontext

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxEcho bounds how much of a client's value an error message repeats:
// enough to recognise it, never enough to make the answer a copy of a
// hostile request.
const MaxEcho = 64

// Clip quotes s for a message, cut to MaxEcho bytes on a rune boundary.
func Clip(s string) string {
	if len(s) <= MaxEcho {
		return strconv.Quote(s)
	}
	cut := MaxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// Unquote is the value of raw, a valid JSON string token: the text between
// its quotes when it has no escapes and is valid UTF-8, so no allocation;
// otherwise what encoding/json makes of it (U+FFFD for lone surrogates and
// invalid bytes).
func Unquote(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 && utf8.ValidString(raw) {
		return raw[1 : len(raw)-1]
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return raw[1 : len(raw)-1] // not a valid token: not reached
	}
	return s
}

// AppendUnquote appends to dst the value of the JSON string token raw, the
// same bytes json.Unmarshal makes of it, and reports whether raw is one.
// Text with \u escapes or invalid UTF-8 (which encoding/json turns into
// U+FFFD) goes through json.Unmarshal; the rest is unescaped here, in one
// pass with no allocation beyond dst's growth.
func AppendUnquote(dst, raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst, false
	}
	start := len(dst)
	in := raw[1 : len(raw)-1]
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '"' || c < 0x20:
			return dst[:start], false
		case c != '\\':
			dst = append(dst, c)
			continue
		}
		if i++; i == len(in) {
			return dst[:start], false
		}
		switch e := in[i]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			return appendUnmarshaled(dst[:start], raw)
		default:
			return dst[:start], false
		}
	}
	if !utf8.Valid(dst[start:]) {
		return appendUnmarshaled(dst[:start], raw)
	}
	return dst, true
}

func appendUnmarshaled(dst, raw []byte) ([]byte, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return dst, false
	}
	return append(dst, s...), true
}

// Kind names the JSON type of a raw value for error messages: "an object",
// "an array", "a string", "a boolean", "null", "a number", or "nothing".
func Kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
