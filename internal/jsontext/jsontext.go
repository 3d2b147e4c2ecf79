// Package jsontext holds small helpers for raw JSON text shared by the
// ingest parsers.
package jsontext

import (
	"bytes"
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

// Members calls f with each member of obj, a valid JSON object (as
// json.Valid checks it) with nothing around it: the name as its raw token,
// quotes and escapes included, and the value as its raw text, both slices
// of obj. Nothing is copied; text that is not valid JSON is not supported.
func Members(obj []byte, f func(name, value []byte)) {
	for i := skipSpace(obj, 1); obj[i] != '}'; {
		end := valueEnd(obj, i)
		name := obj[i:end]
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		end = valueEnd(obj, i)
		f(name, obj[i:end])
		if i = skipSpace(obj, end); obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// Elements calls f with each element of arr, a valid JSON array with
// nothing around it, as a slice of arr.
func Elements(arr []byte, f func(value []byte)) {
	for i := skipSpace(arr, 1); arr[i] != ']'; {
		end := valueEnd(arr, i)
		f(arr[i:end])
		if i = skipSpace(arr, end); arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// skipSpace is the index of the first byte from i on that is not JSON
// whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd is the index just past the valid JSON value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		return i + 1
	case '{', '[':
		for depth := 0; ; i++ {
			switch b[i] {
			case '"':
				i = valueEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++ // a number, true, false or null
	}
	return i
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

// smallObject is how many names an object may have before DuplicateName
// looks them up in a map rather than comparing each new name with all the
// others: most objects are small, and a map costs allocations.
const smallObject = 16

// nameFrame is an open array or object during DuplicateName's walk.
type nameFrame struct {
	obj   bool
	first int                 // objects: where their names start in the walk's stack of names
	name  []byte              // objects: the current member's name
	index int                 // arrays: the current element
	set   map[string]struct{} // objects past smallObject names
}

// DuplicateName finds the first member name that an object in v, a valid
// JSON value (as json.Valid checks it) with nothing around it, repeats, at
// any depth. Decoders disagree on such an object: some keep the first
// value, most the last. It returns the repeated name and the path to it
// from v, such as .order.items[2].sku (a name that is not plain letters,
// digits, _ and - is written ["..."], clipped); ok is false when no name
// repeats. Names compare as decoded: "a" and "\u0061" are one name.
//
// It is one pass over v, without recursion, and allocates nothing for a
// value without escaped names and without objects of more than
// smallObject members.
func DuplicateName(v []byte) (name, path string, ok bool) {
	var framesBuf [16]nameFrame
	var namesBuf [64][]byte
	frames, names := framesBuf[:0], namesBuf[:0]
	wantName := false // the next string is a member name
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '{':
			frames = append(frames, nameFrame{obj: true, first: len(names)})
			wantName = true
		case '[':
			frames = append(frames, nameFrame{})
		case '}', ']':
			names = names[:frames[len(frames)-1].first]
			frames = frames[:len(frames)-1]
			wantName = false
		case ',':
			top := &frames[len(frames)-1]
			top.index++
			wantName = top.obj
		case '"':
			end := valueEnd(v, i)
			if !wantName {
				i = end - 1
				continue
			}
			wantName = false
			n := v[i+1 : end-1]
			if bytes.IndexByte(n, '\\') >= 0 || !utf8.Valid(n) {
				n, _ = AppendUnquote(nil, v[i:end])
			}
			top := &frames[len(frames)-1]
			if seenName(top, names[top.first:], n) {
				return string(n), namePath(frames, n), true
			}
			top.name = n
			names = append(names, n)
			i = end - 1
		}
	}
	return "", "", false
}

// seenName reports whether an object whose names so far are seen already
// has name n, and records n.
func seenName(f *nameFrame, seen [][]byte, n []byte) bool {
	if f.set == nil && len(seen) < smallObject {
		for _, s := range seen {
			if bytes.Equal(s, n) {
				return true
			}
		}
		return false
	}
	if f.set == nil {
		f.set = make(map[string]struct{}, 2*len(seen))
		for _, s := range seen {
			f.set[string(s)] = struct{}{}
		}
	}
	if _, ok := f.set[string(n)]; ok {
		return true
	}
	f.set[string(n)] = struct{}{}
	return false
}

// namePath writes the path to member name of the innermost open object,
// eliding the middle of a deep one.
func namePath(frames []nameFrame, name []byte) string {
	const head, tail = 4, 8
	var b strings.Builder
	for k, f := range frames[:len(frames)-1] {
		switch {
		case k == head && len(frames)-1 > head+tail:
			b.WriteString("…")
		case k > head && k < len(frames)-1-tail:
		case f.obj:
			writeName(&b, f.name)
		default:
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	writeName(&b, name)
	return b.String()
}

// writeName writes one step of a path to a member: .name, or ["name"]
// quoted and clipped when the name is not plain.
func writeName(b *strings.Builder, name []byte) {
	plain := len(name) > 0 && len(name) <= MaxEcho
	for _, c := range name {
		plain = plain && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')
	}
	if plain {
		b.WriteByte('.')
		b.Write(name)
		return
	}
	b.WriteString("[" + Clip(string(name)) + "]")
}

// InvalidUTF8At returns the offset of the first byte of b that is not part
// of valid UTF-8, or len(b).
func InvalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// Marshal is json.Marshal leaving <, > and & as they are. json.Marshal
// escapes them, also inside a json.RawMessage, taking six bytes for one:
// events pass through routerd byte for byte instead.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
