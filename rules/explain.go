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
	// Alternatives is the number of alternatives the pattern has: 1, or
	// more when it uses $or. The event matches when any one matches.
	Alternatives int `json:"alternatives"`
	// Failures lists, for a non-match, every field that failed, for every
	// alternative.
	Failures []Failure `json:"failures,omitempty"`
}

// Failure names a pattern field that kept one alternative from matching.
type Failure struct {
	// Alternative numbers the $or alternative the field belongs to, from 1.
	Alternative int `json:"alternative"`
	// Path is the field, e.g. "detail.total"; for an array-consistency
	// failure, the fields that could not be matched in one element.
	Path string `json:"path"`
	// Pattern is the pattern's value list for the field.
	Pattern json.RawMessage `json:"pattern,omitempty"`
	// Event is what the event holds there; absent when it holds nothing.
	Event  json.RawMessage `json:"event,omitempty"`
	Reason string          `json:"reason"`
}

// String renders the failure for people, leaving out the parts it lacks.
func (f Failure) String() string {
	var b strings.Builder
	b.WriteString(f.Path + ": " + f.Reason)
	switch {
	case f.Pattern != nil && f.Event != nil:
		fmt.Fprintf(&b, " (pattern %s, event has %s)", f.Pattern, f.Event)
	case f.Pattern != nil:
		fmt.Fprintf(&b, " (pattern %s)", f.Pattern)
	}
	return b.String()
}

// MaxEventDepth bounds the nesting of an event ValidateEvent accepts.
const MaxEventDepth = 1000

// ValidateEvent checks that event is one well-formed JSON object, the input
// Match expects, and says what is wrong and where when it is not.
func ValidateEvent(event []byte) error {
	if d := NestingDepth(event); d > MaxEventDepth {
		return fmt.Errorf("nests %d levels deep, more than the limit of %d", d, MaxEventDepth)
	}
	if !gjson.ValidBytes(event) {
		return fmt.Errorf("invalid JSON: %s", syntaxError(event))
	}
	if !gjson.ParseBytes(event).IsObject() {
		return fmt.Errorf("must be a JSON object")
	}
	return nil
}

// Explain matches the event against the pattern and, when it does not match,
// names for each alternative the field that failed and what the event held
// there. The event should pass ValidateEvent.
func (p *Pattern) Explain(event []byte) Explanation {
	t := p.one
	s := t.state()
	defer t.release(s)
	if len(s.match(t.idx, event)) > 0 {
		return Explanation{Matched: true}
	}
	ex := Explanation{Alternatives: len(t.idx.alts)}
	for i := range t.idx.alts {
		ex.Failures = append(ex.Failures, s.explainAlt(i+1, &t.idx.alts[i], event)...)
	}
	return ex
}

// explainAlt lists the conditions of a failed alternative that fail on
// their own; when each holds alone, array consistency is what failed.
func (s *matchState) explainAlt(alt int, a *altInfo, event []byte) []Failure {
	var paths []string
	var out []Failure
	for _, c := range a.conds {
		paths = append(paths, c.c.path)
		f := Failure{Alternative: alt, Path: c.c.path, Pattern: json.RawMessage(c.c.src)}
		vals := s.values(c.field)
		switch {
		case len(vals) == 0 && c.c.absentOK:
			continue
		case len(vals) == 0:
			if raw := rawAt(event, c.c.keys); raw != "" {
				f.Event = json.RawMessage(raw)
				f.Reason = "field holds no leaf value (an object or an empty array)"
			} else {
				f.Reason = "field is missing"
			}
		case len(c.c.ms) == 0:
			f.Event = leavesJSON(vals)
			f.Reason = "field exists, pattern wants it absent"
		default:
			ok := false
			for _, v := range vals {
				if matchAny(c.c.ms, &v, &s.fold) {
					ok = true
					break
				}
			}
			if ok {
				continue
			}
			f.Event = leavesJSON(vals)
			f.Reason = "no value matches"
		}
		out = append(out, f)
	}
	if len(out) > 0 {
		return out
	}
	return []Failure{{
		Alternative: alt,
		Path:        strings.Join(paths, ", "),
		Reason:      "each field matches on its own, but not all within the same element of an event array",
	}}
}

// values lists the recorded leaf values of a field.
func (s *matchState) values(f int32) []leaf {
	var out []leaf
	for l := s.leafOf(f); l != nil; l = s.next(l) {
		out = append(out, l.leaf)
	}
	return out
}

func leavesJSON(vals []leaf) json.RawMessage {
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
		return json.RawMessage(parts[0])
	}
	return json.RawMessage("[" + strings.Join(parts, ",") + "]")
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
