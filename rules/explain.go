package rules

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// Explanation tells why an event did or did not match a pattern.
type Explanation struct {
	Matched bool `json:"matched"`
	// Failures holds, for a non-match, one entry per alternative of the
	// pattern (one, unless it uses $or): the first field that failed.
	Failures []Failure `json:"failures,omitempty"`
}

// Failure names the pattern field that kept one alternative from matching.
type Failure struct {
	Path    string `json:"path"`            // the field, e.g. "detail.total"
	Pattern string `json:"pattern"`         // the pattern's value list there (JSON)
	Event   string `json:"event,omitempty"` // what the event holds there (JSON); empty when missing
	Reason  string `json:"reason"`
}

func (f Failure) String() string {
	got := f.Event
	if got == "" {
		got = "nothing"
	}
	return fmt.Sprintf("%s: %s (pattern %s, event has %s)", f.Path, f.Reason, f.Pattern, got)
}

// ValidateEvent checks that event is one well-formed JSON object, the input
// Match expects, and says what is wrong and where when it is not.
func ValidateEvent(event []byte) error {
	if !gjson.ValidBytes(event) {
		return fmt.Errorf("event: invalid JSON: %s", syntaxError(event))
	}
	if !gjson.ParseBytes(event).IsObject() {
		return fmt.Errorf("event: must be a JSON object")
	}
	return nil
}

// Explain matches the event against the pattern and, when it does not match,
// names for each alternative the field that failed and what the event held
// there. The event should pass ValidateEvent.
func (p *Pattern) Explain(event []byte) Explanation {
	t := p.one
	s := t.pool.Get().(*matchState)
	defer t.pool.Put(s)
	if len(s.match(t.idx, event)) > 0 {
		return Explanation{Matched: true}
	}
	var ex Explanation
	for i := range t.idx.alts {
		ex.Failures = append(ex.Failures, s.explainAlt(&t.idx.alts[i], event))
	}
	return ex
}

// explainAlt finds the first condition of a failed alternative that fails on
// its own; when each holds alone, array consistency is what failed.
func (s *matchState) explainAlt(a *altInfo, event []byte) Failure {
	var paths []string
	for _, c := range a.conds {
		paths = append(paths, c.c.path)
		f := Failure{Path: c.c.path, Pattern: c.c.src}
		vals := s.values(c.field)
		if len(vals) == 0 {
			if c.c.absentOK {
				continue
			}
			f.Event = rawAt(event, c.c.keys)
			if f.Event == "" {
				f.Reason = "field is missing"
			} else {
				f.Reason = "field holds no leaf value (an object or an empty array)"
			}
			return f
		}
		f.Event = leavesJSON(vals)
		if len(c.c.ms) == 0 {
			f.Reason = "field exists, pattern wants it absent"
			return f
		}
		ok := false
		for _, v := range vals {
			if matchAny(c.c.ms, v, &s.fold) {
				ok = true
				break
			}
		}
		if !ok {
			f.Reason = "no value matches"
			return f
		}
	}
	return Failure{
		Path:    strings.Join(paths, ", "),
		Pattern: "",
		Reason:  "each field matches on its own, but not within the same element of an event array",
	}
}

// values lists the recorded leaf values of a field.
func (s *matchState) values(f int32) []leaf {
	var out []leaf
	if s.fieldStamp[f] != s.gen {
		return nil
	}
	for i := s.fieldHead[f]; i >= 0; i = s.leaves[i].next {
		out = append(out, s.leaves[i].leaf)
	}
	return out
}

func leavesJSON(vals []leaf) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v.kind {
		case lkString:
			b, _ := json.Marshal(v.str)
			parts[i] = string(b)
		case lkNumber:
			parts[i] = v.str
		case lkTrue:
			parts[i] = "true"
		case lkFalse:
			parts[i] = "false"
		default:
			parts[i] = "null"
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// rawAt returns the JSON the event holds at the key path, following objects
// only (the first occurrence of a repeated key), or "" when there is none.
func rawAt(event []byte, keys []string) string {
	r := gjson.ParseBytes(event)
	for _, k := range keys {
		if !r.IsObject() {
			return ""
		}
		var next gjson.Result
		r.ForEach(func(key, v gjson.Result) bool {
			if key.Str == k {
				next = v
				return false
			}
			return true
		})
		if !next.Exists() {
			return ""
		}
		r = next
	}
	return r.Raw
}
