package patterntest

import (
	"bytes"
	"encoding/json"

	"github.com/eventrouter/eventrouter/rules"
)

// appendFailures appends fs as a JSON array, one object per failure; the
// pattern and event fragments stay embedded JSON.
func appendFailures(dst []byte, fs []rules.Failure) []byte {
	return appendJSON(dst, fs)
}

// appendJSON appends v compactly on one line, without escaping <, > and &
// (this output is read by people and jq, not embedded in HTML). Raw messages
// keep their spelling, numbers included.
func appendJSON(dst []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only reachable with invalid raw JSON, which rules never produces.
		panic("patterntest: " + err.Error())
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}
