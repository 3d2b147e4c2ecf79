package patterntest

import (
	"bytes"
	"encoding/json"

	"github.com/eventrouter/eventrouter/rules"
)

// failureJSON is a rules.Failure as it appears in our output. The pattern
// and event fragments are embedded as JSON rather than as strings holding
// JSON, so `jq` users and people read them without a second unescaping.
type failureJSON struct {
	Path    string          `json:"path"`
	Pattern json.RawMessage `json:"pattern,omitempty"`
	Event   json.RawMessage `json:"event,omitempty"` // absent: the event lacks the field
	Reason  string          `json:"reason"`
}

// appendFailures appends fs as a JSON array, one object per failure.
func appendFailures(dst []byte, fs []rules.Failure) []byte {
	out := make([]failureJSON, len(fs))
	for i, f := range fs {
		out[i] = failureJSON{Path: f.Path, Pattern: rawOrString(f.Pattern), Event: rawOrString(f.Event), Reason: f.Reason}
	}
	return appendJSON(dst, out)
}

// rawOrString embeds s as JSON when it is JSON, as a string otherwise, and
// leaves it out when empty.
func rawOrString(s string) json.RawMessage {
	switch {
	case s == "":
		return nil
	case json.Valid([]byte(s)):
		return json.RawMessage(s)
	}
	return appendJSON(nil, s)
}

// appendJSON appends v compactly on one line, without escaping <, > and &
// (this output is read by people and jq, not embedded in HTML). Raw messages
// keep their spelling, numbers included.
func appendJSON(dst []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only reachable with invalid raw JSON, which rawOrString rules out.
		panic("patterntest: " + err.Error())
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}
