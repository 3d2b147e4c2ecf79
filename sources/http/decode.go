package httpsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/eventrouter/eventrouter/internal/jsontext"
	"github.com/eventrouter/eventrouter/rules"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/event"
)

// MaxDetailDepth is event.MaxDetailDepth.
const MaxDetailDepth = event.MaxDetailDepth

// decodeBody parses a request body as JSON into v, describing a failure as
// the client should see it: what is wrong and at which byte offset.
func decodeBody(body []byte, v any) *apiError {
	if !utf8.Valid(body) {
		return serializationError("request body is not valid UTF-8 at offset %d", invalidUTF8At(body))
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return serializationError("invalid JSON: %s at offset %d", se.Error(), syntaxOffset(body, se))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Only the top level decodes into a Go type here, so the value at
		// fault is the body itself.
		return serializationError("request body must be %s, got %s", describe(te.Type.Kind().String()), te.Value)
	}
	return serializationError("invalid JSON: %v", err)
}

// syntaxOffset is the 0-based index of the byte a syntax error is about,
// or the body's length when the body ends too soon. (SyntaxError.Offset
// counts the bytes read, the offending one included.)
func syntaxOffset(body []byte, se *json.SyntaxError) int64 {
	if se.Offset > 0 && se.Offset <= int64(len(body)) && !strings.HasPrefix(se.Error(), "unexpected end") {
		return se.Offset - 1
	}
	return se.Offset
}

// describe names the Go kind a body must decode into in JSON terms.
func describe(kind string) string {
	switch kind {
	case "map", "struct":
		return "a JSON object"
	case "slice", "array":
		return "a JSON array"
	}
	return "JSON " + kind
}

// invalidUTF8At is jsontext.InvalidUTF8At.
func invalidUTF8At(b []byte) int { return jsontext.InvalidUTF8At(b) }

// kind names the JSON type of a raw value for messages.
func kind(raw []byte) string { return jsontext.Kind(raw) }

// isNull reports an absent or null member: the AWS protocols treat both
// alike.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// typeError says a member holds the wrong JSON type.
type typeError struct {
	field string
	want  string
	got   string
}

func (e *typeError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("must be %s, got %s", e.want, e.got)
	}
	return fmt.Sprintf("%s: must be %s, got %s", e.field, e.want, e.got)
}

// under places a member's error under the path of its parent, e.g.
// "Entries[2]" and "Time: ..." give "Entries[2].Time: ...".
func under(parent string, err error) string {
	var te *typeError
	if errors.As(err, &te) && te.field == "" {
		return parent + ": " + err.Error()
	}
	return parent + "." + err.Error()
}

// str decodes a string member; null is "".
func str(field string, raw json.RawMessage) (string, error) {
	var buf [128]byte // most members fit: the string is the one allocation
	b, err := appendStr(buf[:0], field, raw)
	return string(b), err
}

// strBytes is str for a member wanted as bytes (a PutEvents Detail): one
// copy of it, not two.
func strBytes(field string, raw json.RawMessage) ([]byte, error) {
	return appendStr(make([]byte, 0, len(raw)), field, raw)
}

// appendStr appends the value of a string member to dst.
func appendStr(dst []byte, field string, raw json.RawMessage) ([]byte, error) {
	if isNull(raw) {
		return dst, nil
	}
	if raw[0] != '"' {
		return nil, &typeError{field, "a string", kind(raw)}
	}
	b, ok := jsontext.AppendUnquote(dst, raw)
	if !ok {
		return nil, &typeError{field, "a string", kind(raw)}
	}
	return b, nil
}

// members finds the named members of obj, a valid JSON object with
// nothing around it, as json.Unmarshal into a map[string]json.RawMessage
// would: names compare exactly, the last of a repeated member wins, a
// missing one is nil. The values are slices of obj, where the map took an
// allocation per member and a copy of each value.
func members(obj []byte, names []string, vals []json.RawMessage) {
	clear(vals)
	jsontext.Members(obj, func(raw, value []byte) {
		var buf [64]byte
		name, _ := jsontext.AppendUnquote(buf[:0], raw)
		if i := slices.Index(names, string(name)); i >= 0 {
			vals[i] = value
		}
	})
}

// decodeMembers is decodeBody for a body that must be a JSON object of
// which only the named members matter: they land in vals as members finds
// them. A body that is not a valid JSON object gets decodeBody's answer
// (for null: none, and no members).
func decodeMembers(body []byte, names []string, vals []json.RawMessage) *apiError {
	clear(vals)
	obj := bytes.Trim(body, " \t\r\n")
	if len(obj) == 0 || obj[0] != '{' || !utf8.Valid(obj) || !json.Valid(obj) {
		var m map[string]json.RawMessage
		return decodeBody(body, &m)
	}
	members(obj, names, vals)
	return nil
}

// strs decodes a list of strings; null is nil.
func strs(field string, raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, &typeError{field, "an array of strings", kind(raw)}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &typeError{field, "an array of strings", kind(raw)}
	}
	out := make([]string, len(items))
	for i, it := range items {
		s, err := str(fmt.Sprintf("%s[%d]", field, i), it)
		if err != nil || isNull(it) {
			return nil, &typeError{fmt.Sprintf("%s[%d]", field, i), "a string", kind(it)}
		}
		out[i] = s
	}
	return out, nil
}

// epochTime reads seconds since the epoch, possibly fractional or in
// exponent form (1.7643e9), kept to the millisecond: the AWS SDKs send a
// float64, whose last digits are noise.
func epochTime(num string) (time.Time, error) {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= float64(event.MaxTime.Unix()+1) {
		if len(num) > jsontext.MaxEcho { // a JSON number: ASCII
			num = num[:jsontext.MaxEcho] + "..."
		}
		return time.Time{}, fmt.Errorf("%s is not a valid time: seconds since the epoch must be from 0 to %d", num, event.MaxTime.Unix())
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC(), nil
}

// rfc3339 reads an RFC 3339 timestamp, fractional seconds allowed, in
// event.TimeInRange.
func rfc3339(s string) (time.Time, error) {
	// RFC 3339 allows t and z in lower case (section 5.6); Go does not.
	t, err := time.Parse(time.RFC3339, strings.ToUpper(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 timestamp such as 2026-11-28T06:21:54Z", clip(s))
	}
	if !event.TimeInRange(t) {
		return time.Time{}, fmt.Errorf("%s is out of range: %s", clip(s), event.TimeRange)
	}
	return t, nil
}

// busName turns an EventBusName, a name or an event bus ARN
// (arn:PARTITION:events:REGION:ACCOUNT:event-bus/NAME), into the bus name.
// The ARN's region and account are not checked: routerd has one account,
// and clients pointed at it from AWS keep their real ARNs.
func busName(s string) (string, error) {
	name := s
	if strings.HasPrefix(s, "arn:") {
		ok := false
		if parts := strings.SplitN(s, ":", 6); len(parts) == 6 && parts[2] == "events" {
			name, ok = strings.CutPrefix(parts[5], "event-bus/")
		}
		if !ok || name == "" {
			return "", fmt.Errorf("%s is not an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)", clip(s))
		}
	}
	// Checked here too, so that the message quotes a clipped name.
	if !event.ValidName(name) {
		return "", fmt.Errorf("%s is not a valid bus name (1 to 64 letters, digits, - and _, starting with a letter or digit)", clip(name))
	}
	return name, nil
}

// clip quotes a client's value for a message, cut short (jsontext.Clip).
func clip(s string) string { return jsontext.Clip(s) }

// tooDeep reports whether JSON text nests arrays and objects more than max
// levels, counted without recursion (rules.NestingDepth), so it is linear
// and safe on any input, valid JSON or not.
func tooDeep(b []byte, max int) bool { return rules.NestingDepth(b) > max }
