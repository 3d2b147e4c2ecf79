package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/tidwall/gjson"
)

// Limits that keep one pattern from exploding the matcher. EventBridge has
// similar quotas; PATTERNS.md documents ours.
const (
	// MaxPatternBytes is the largest pattern source accepted.
	MaxPatternBytes = 64 << 10
	// MaxDepth is the deepest nesting of objects in a pattern.
	MaxDepth = 32
	// MaxAlternatives bounds the alternatives a pattern's $or expand into:
	// EventBridge refuses a pattern whose $or make over 1,000 "rule
	// combinations" ("Content filtering in Amazon EventBridge event
	// patterns", complex example with $or).
	MaxAlternatives = 1000
	// MaxValues bounds the values listed for one field.
	MaxValues = 1024
	// MaxWildcards bounds the '*' in one wildcard expression.
	MaxWildcards = 32
)

// condition is one field of an alternative: the values listed for it are
// ORed. A condition holds when some leaf value at the path matches one of
// ms, or, when absentOK, when no leaf value is there.
type condition struct {
	keys     []string
	path     string // keys joined by "." for messages
	ms       []matcher
	absentOK bool   // the list holds {"exists": false}
	src      string // the JSON of the value list, for Explain
}

// alternative is one conjunction of conditions, sorted by path, one per path.
type alternative []condition

// group is a pattern object before $or expansion: its fields and its $ors in
// document order, those of nested objects in their place.
type group struct {
	items []item
}

// item is one entry of a group: a field's condition, or the branches of an
// $or when or is set.
type item struct {
	cond condition
	or   []*group
}

func compile(src []byte) ([]alternative, error) {
	if len(src) > MaxPatternBytes {
		return nil, &Error{Reason: fmt.Sprintf("pattern is %d bytes, more than the limit of %d", len(src), MaxPatternBytes)}
	}
	if d := NestingDepth(src); d > MaxDepth*2+2 {
		return nil, &Error{Reason: fmt.Sprintf("pattern nests deeper than %d levels", MaxDepth)}
	}
	if !gjson.ValidBytes(src) {
		return nil, &Error{Reason: "invalid JSON: " + syntaxError(src)}
	}
	root := gjson.ParseBytes(src)
	if !root.IsObject() {
		return nil, &Error{Reason: "pattern must be a JSON object"}
	}
	g, err := compileObject(root, nil, 0, false)
	if err != nil {
		return nil, err
	}
	alts, err := expand(g, []alternative{nil})
	if err != nil {
		return nil, err
	}
	for i := range alts {
		alts[i] = sortConds(alts[i])
	}
	return alts, nil
}

// syntaxError describes why src is not valid JSON, with the byte offset.
func syntaxError(src []byte) string {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, err2 := dec.Token(); err2 == nil {
			return fmt.Sprintf("unexpected data after the top-level value at offset %d", dec.InputOffset())
		}
		return "malformed JSON"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read, the offending one included.
		return fmt.Sprintf("%s at offset %d", se.Error(), max(se.Offset-1, 0))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

func joinPath(keys []string) string { return strings.Join(keys, ".") }

// reservedInOr are the names that aws/event-ruler refuses as field names
// inside an $or branch (its README, "The $or Primitive", and the list it
// points to, RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP): the operators, the
// numeric comparisons and names it keeps for later ones.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true,
	"anything-but": true, "exists": true, "wildcard": true, "numeric": true,
	"cidr": true, "html": true, "=": true, "<": true, "<=": true, ">": true,
	">=": true, "regex": true, "not-wildcard": true, "not-equals-ignore-case": true,
	"date-after": true, "date-on-or-after": true, "date-before": true,
	"date-on-or-before": true, "in-date-range": true, "ip-address-in-range": true,
	"ip-address-not-in-range": true,
}

// compileObject compiles a pattern object found at prefix; inOr says it lies
// inside an $or branch. A field given twice is not an error: as on
// EventBridge, the later one counts ("Content filtering in Amazon
// EventBridge event patterns": if you include a key more than once the last
// reference is the one used), which expand does by keeping items in order.
func compileObject(obj gjson.Result, prefix []string, depth int, inOr bool) (*group, error) {
	if depth >= MaxDepth {
		return nil, &Error{Path: joinPath(prefix), Reason: fmt.Sprintf("pattern nests deeper than %d levels", MaxDepth)}
	}
	g := &group{}
	var err error
	n := 0
	obj.ForEach(func(k, v gjson.Result) bool {
		n++
		key := k.Str
		keys := append(append([]string(nil), prefix...), key)
		switch {
		case key == "$or":
			var branches []*group
			branches, err = compileOr(v, prefix, keys, depth)
			if err == nil {
				g.items = append(g.items, item{or: branches})
			}
		case inOr && reservedInOr[key]:
			err = &Error{Path: joinPath(keys), Reason: fmt.Sprintf("%q is an operator name, which cannot be a field name inside $or", key)}
		case v.IsObject():
			var sub *group
			sub, err = compileObject(v, keys, depth+1, inOr)
			if err == nil {
				g.items = append(g.items, sub.items...)
			}
		case v.IsArray():
			var c condition
			c, err = compileValues(v, keys)
			g.items = append(g.items, item{cond: c})
		default:
			err = &Error{Path: joinPath(keys), Reason: "value must be an array of values or an object, not " + describe(v)}
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &Error{Path: joinPath(prefix), Reason: "object must not be empty"}
	}
	return g, nil
}

func compileOr(v gjson.Result, prefix, keys []string, depth int) ([]*group, error) {
	path := joinPath(keys)
	if !v.IsArray() {
		return nil, &Error{Path: path, Reason: "must be an array of at least two objects, not " + describe(v)}
	}
	var branches []*group
	var err error
	i := 0
	v.ForEach(func(_, b gjson.Result) bool {
		if !b.IsObject() {
			err = &Error{Path: fmt.Sprintf("%s[%d]", path, i), Reason: "each $or branch must be an object, not " + describe(b)}
			return false
		}
		var g *group
		g, err = compileObject(b, prefix, depth+1, true)
		if err != nil {
			return false
		}
		branches = append(branches, g)
		i++
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(branches) < 2 {
		return nil, &Error{Path: path, Reason: fmt.Sprintf("needs at least two branches, got %d", len(branches))}
	}
	return branches, nil
}

// expand applies the items of g, in document order, to each of alts and
// returns the alternatives that result: the pattern in disjunctive normal
// form. A field sets its condition in every alternative, replacing one set
// earlier for the same path; an $or replaces each alternative by one copy
// per branch, the branch's items applied to it. So the later of two
// mentions of a field wins, wherever they stand, as in aws/event-ruler,
// which compiles a pattern in this order.
func expand(g *group, alts []alternative) ([]alternative, error) {
	for _, it := range g.items {
		if it.or == nil {
			for i, a := range alts {
				alts[i] = put(a, it.cond)
			}
			continue
		}
		var next []alternative
		for _, b := range it.or {
			sub, err := expand(b, slices.Clone(alts))
			if err != nil {
				return nil, err
			}
			next = append(next, sub...)
			if len(next) > MaxAlternatives {
				return nil, &Error{Reason: fmt.Sprintf("$or: pattern expands to more than %d alternatives", MaxAlternatives)}
			}
		}
		alts = next
	}
	return alts, nil
}

// put returns a with c set: a copy, since alternatives share their backing
// arrays after an $or, with c in place of a condition on the same path.
func put(a alternative, c condition) alternative {
	out := make(alternative, 0, len(a)+1)
	for _, x := range a {
		if !samePath(x.keys, c.keys) {
			out = append(out, x)
		}
	}
	return append(out, c)
}

func sortConds(cs []condition) alternative {
	out := append(alternative(nil), cs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func describe(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "a string"
	case gjson.Number:
		return "a number"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.Null:
		return "null"
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}

// NestingDepth is the deepest nesting of arrays and objects in JSON text b,
// counted without recursion and without validating: gjson's validator
// recurses, and a hostile document millions of levels deep would overflow
// the stack and crash the process. Check depth first.
func NestingDepth(b []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}
