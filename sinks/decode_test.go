package sinks

import (
	"strings"
	"testing"
)

// Every decode error names the key it is about, also when the value's own
// decoder (a duration) fails.
func TestDecodeNamesTheKey(t *testing.T) {
	type conf struct {
		Path    string    `json:"path"`
		Timeout *Duration `json:"timeout"`
	}
	for msg, spec := range map[string]Spec{
		`unknown key "mode"`:            {"path": "x", "mode": 1},
		"key path: expected string":     {"path": 5},
		`key timeout: invalid duration`: {"path": "x", "timeout": "soon"},
	} {
		var c conf
		err := Decode(spec, &c)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Decode(%v) = %v, want an error containing %q", spec, err, msg)
		}
	}
	var c conf
	if err := Decode(Spec{"path": "x", "timeout": "2s"}, &c); err != nil || c.Path != "x" || c.Timeout == nil {
		t.Errorf("Decode of a good spec: %v, %+v", err, c)
	}
}
