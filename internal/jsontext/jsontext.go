// Package jsontext holds small helpers for raw JSON text shared by the
// ingest parsers.
package jsontext

import (
	"encoding/json"
	"fmt"
	"strings"
	"strconv"
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
// its quotes when it has no escapes, so no allocation; otherwise what
// encoding/json makes of it (lone surrogates become U+FFFD).
func Unquote(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return raw[1 : len(raw)-1] // not a valid token: not reached
	}
	return s
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
