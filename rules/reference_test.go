package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// This file holds refMatch, a slow reference evaluator of event patterns
// written independently of the fast matcher (no compile, matcher, index or
// matchState), so that the fuzzers can compare the two. It favours being
// obviously right over being fast: the event is flattened into every leaf
// value it holds, $or is expanded into alternatives, and an alternative is
// decided by trying every combination of leaves. TestReferenceConformance
// proves it against the shared vectors.

// refMatch reports whether event matches pattern. Pattern validity is not its
// job: call it only on patterns Compile accepted.
func refMatch(pattern, event []byte) (bool, error) {
	pv, err := refDecode(pattern)
	if err != nil {
		return false, fmt.Errorf("pattern: %w", err)
	}
	pobj, ok := pv.(refObject)
	if !ok {
		return false, errors.New("pattern is not an object")
	}
	alts, err := refExpand(pobj, nil, [][]refCond{nil})
	if err != nil {
		return false, err
	}
	ev, err := refDecode(event)
	if err != nil {
		return false, fmt.Errorf("event: %w", err)
	}
	if _, ok := ev.(refObject); !ok {
		return false, errors.New("event is not an object")
	}
	var leaves []refLeaf
	arrays := 0
	refFlatten(ev, nil, nil, &arrays, &leaves)
	for _, alt := range alts {
		ok, err := refMatchAlt(alt, leaves)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// refObject is a decoded JSON object that keeps key order and repeated keys:
// events take the first occurrence of a key, and $or expansion follows
// document order. map[string]any can do neither.
type refObject []refMember

type refMember struct {
	key string
	val any
}

// refDecode decodes JSON into refObject, []any, string, json.Number (numbers
// keep their spelling until compared), bool and nil.
func refDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := refDecodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level value")
	}
	return v, nil
}

func refDecodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := refObject{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := refDecodeValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, refMember{key: k.(string), val: v})
		}
		_, err := dec.Token() // '}'
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := refDecodeValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ']'
		return arr, err
	}
	return tok, nil
}

// refNumber is the float64 value of a JSON number; one beyond float64 range
// is ±Inf (strconv.ParseFloat's result on overflow).
func refNumber(n json.Number) float64 {
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// refLeaf is one scalar value of the event with where it lies: its path of
// keys and, for each event array instance around it, which element it is in.
type refLeaf struct {
	path []string
	val  any // string, float64, bool or nil
	in   []refElem
}

// refElem says a value lies in element idx of the event's array number arr.
type refElem struct{ arr, idx int }

// refFlatten appends every leaf of v. Objects and empty arrays hold no leaf;
// arrays inside arrays are flattened, each still counting as its own array.
func refFlatten(v any, path []string, in []refElem, arrays *int, out *[]refLeaf) {
	switch x := v.(type) {
	case refObject:
		seen := map[string]bool{}
		for _, m := range x {
			if seen[m.key] {
				continue // a repeated key: the first occurrence counts
			}
			seen[m.key] = true
			refFlatten(m.val, append(slices.Clip(path), m.key), in, arrays, out)
		}
	case []any:
		id := *arrays
		*arrays++
		for i, e := range x {
			refFlatten(e, path, append(slices.Clip(in), refElem{id, i}), arrays, out)
		}
	case json.Number:
		*out = append(*out, refLeaf{path: path, val: refNumber(x), in: in})
	default:
		*out = append(*out, refLeaf{path: path, val: x, in: in})
	}
}

// refConsistent reports whether two leaves can be taken together: in every
// array they both lie in, they lie in the same element.
func refConsistent(a, b refLeaf) bool {
	for _, p := range a.in {
		for _, q := range b.in {
			if p.arr == q.arr && p.idx != q.idx {
				return false
			}
		}
	}
	return true
}

// refCond is one field of an alternative: its path and its value list.
type refCond struct {
	path   []string
	values []any
}

// refExpand returns the alternatives (disjunctive normal form) of the pattern
// object obj found at prefix, starting from alts. Members take effect in
// document order, as aws/event-ruler compiles them: a field sets its value
// list in every alternative, replacing one set before for the same path (so
// of a field given twice, the later counts, as EventBridge documents); an
// $or replaces every alternative by one per branch, with the branch's
// members applied; a nested object's members apply in its place.
func refExpand(obj refObject, prefix []string, alts [][]refCond) ([][]refCond, error) {
	for _, m := range obj {
		path := append(slices.Clip(prefix), m.key)
		switch v := m.val.(type) {
		case []any:
			if m.key != "$or" {
				for i, alt := range alts {
					alts[i] = append(refWithout(alt, path), refCond{path: path, values: v})
				}
				continue
			}
			var next [][]refCond
			for _, b := range v {
				bo, ok := b.(refObject)
				if !ok {
					return nil, errors.New("$or branch is not an object")
				}
				sub, err := refExpand(bo, prefix, slices.Clone(alts))
				if err != nil {
					return nil, err
				}
				next = append(next, sub...)
			}
			alts = next
		case refObject:
			var err error
			if alts, err = refExpand(v, path, alts); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("field %q is neither a list nor an object", m.key)
		}
	}
	return alts, nil
}

// refWithout is a copy of alt without a condition on path.
func refWithout(alt []refCond, path []string) []refCond {
	var out []refCond
	for _, c := range alt {
		if !slices.Equal(c.path, path) {
			out = append(out, c)
		}
	}
	return out
}

// refMatchAlt decides one alternative by search: each condition takes a leaf
// at its path that one of its values matches, all chosen leaves pairwise
// consistent, or, when its list holds {"exists": false}, takes "absent". At
// the end every absent condition must have no leaf at its path consistent
// with all the chosen ones.
func refMatchAlt(alt []refCond, leaves []refLeaf) (bool, error) {
	type option struct {
		cands    []refLeaf // leaves at the path that a value matches
		atPath   []refLeaf // all leaves at the path
		absentOK bool
	}
	opts := make([]option, len(alt))
	for i, c := range alt {
		var tests []func(any) bool
		for _, v := range c.values {
			if o, ok := v.(refObject); ok && len(o) == 1 && o[0].key == "exists" && o[0].val == false {
				opts[i].absentOK = true
				continue
			}
			t, err := refValueTest(v)
			if err != nil {
				return false, fmt.Errorf("%s: %w", strings.Join(c.path, "."), err)
			}
			tests = append(tests, t)
		}
		for _, l := range leaves {
			if !slices.Equal(l.path, c.path) {
				continue
			}
			opts[i].atPath = append(opts[i].atPath, l)
			if slices.ContainsFunc(tests, func(t func(any) bool) bool { return t(l.val) }) {
				opts[i].cands = append(opts[i].cands, l)
			}
		}
	}
	var chosen []refLeaf
	var absent []int
	fits := func(l refLeaf) bool {
		return !slices.ContainsFunc(chosen, func(c refLeaf) bool { return !refConsistent(l, c) })
	}
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(opts) {
			for _, a := range absent {
				if slices.ContainsFunc(opts[a].atPath, fits) {
					return false
				}
			}
			return true
		}
		for _, l := range opts[i].cands {
			if fits(l) {
				chosen = append(chosen, l)
				if try(i + 1) {
					return true
				}
				chosen = chosen[:len(chosen)-1]
			}
		}
		if opts[i].absentOK {
			absent = append(absent, i)
			if try(i + 1) {
				return true
			}
			absent = absent[:len(absent)-1]
		}
		return false
	}
	return try(0), nil
}

// refValueTest turns one entry of a value list into a test of a leaf value
// (string, float64, bool or nil).
func refValueTest(v any) (func(any) bool, error) {
	switch x := v.(type) {
	case string, bool, nil:
		return func(l any) bool { return l == x }, nil
	case json.Number:
		n := refNumber(x)
		return func(l any) bool { return l == n }, nil
	case refObject:
		if len(x) != 1 {
			return nil, fmt.Errorf("operator object with %d keys", len(x))
		}
		return refOperator(x[0].key, x[0].val)
	}
	return nil, fmt.Errorf("unexpected value %v", v)
}

// refOperator is refValueTest for the operator object {op: arg}.
func refOperator(op string, arg any) (func(any) bool, error) {
	switch op {
	case "prefix", "suffix":
		affix := strings.HasPrefix
		if op == "suffix" {
			affix = strings.HasSuffix
		}
		if o, ok := arg.(refObject); ok && len(o) == 1 && o[0].key == "equals-ignore-case" {
			a, ok := o[0].val.(string)
			if !ok {
				return nil, errors.New(op + ": bad argument")
			}
			return refOnString(func(s string) bool { return affix(refFold(s), refFold(a)) }), nil
		}
		a, ok := arg.(string)
		if !ok {
			return nil, errors.New(op + ": bad argument")
		}
		return refOnString(func(s string) bool { return affix(s, a) }), nil
	case "equals-ignore-case":
		a, ok := arg.(string)
		if !ok {
			return nil, errors.New(op + ": bad argument")
		}
		return refOnString(func(s string) bool { return refFold(s) == refFold(a) }), nil
	case "wildcard":
		a, ok := arg.(string)
		if !ok {
			return nil, errors.New(op + ": bad argument")
		}
		return refOnString(func(s string) bool { return refWildcard(a, s) }), nil
	case "numeric":
		return refNumeric(arg)
	case "exists":
		if arg != true {
			return nil, errors.New("exists: only true tests a value")
		}
		return func(any) bool { return true }, nil
	case "cidr":
		a, ok := arg.(string)
		if !ok {
			return nil, errors.New(op + ": bad argument")
		}
		// Compile trims spaces around the block, so the reference does too.
		block, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			return nil, err
		}
		block = block.Masked()
		return refOnString(func(s string) bool {
			ip, err := netip.ParseAddr(s)
			return err == nil && block.Contains(ip.Unmap())
		}), nil
	case "anything-but":
		return refAnythingBut(arg)
	}
	return nil, fmt.Errorf("unknown operator %q", op)
}

// refOnString makes a string test a leaf test that non-strings fail.
func refOnString(f func(string) bool) func(any) bool {
	return func(l any) bool {
		s, ok := l.(string)
		return ok && f(s)
	}
}

// refFold is s with case folded, for comparisons that ignore case.
func refFold(s string) string { return string(foldCase(nil, s)) }

// refNumeric tests numbers against ["=", x] or a list of (operator, bound)
// pairs, each checked on its own.
func refNumeric(arg any) (func(any) bool, error) {
	items, ok := arg.([]any)
	if !ok || len(items)%2 != 0 {
		return nil, errors.New("numeric: bad argument")
	}
	type bound struct {
		op string
		x  float64
	}
	var bounds []bound
	for i := 0; i < len(items); i += 2 {
		op, ok1 := items[i].(string)
		x, ok2 := items[i+1].(json.Number)
		if !ok1 || !ok2 {
			return nil, errors.New("numeric: bad argument")
		}
		bounds = append(bounds, bound{op, refNumber(x)})
	}
	return func(l any) bool {
		v, ok := l.(float64)
		if !ok {
			return false
		}
		for _, b := range bounds {
			var holds bool
			switch b.op {
			case "=":
				holds = v == b.x
			case ">":
				holds = v > b.x
			case ">=":
				holds = v >= b.x
			case "<":
				holds = v < b.x
			case "<=":
				holds = v <= b.x
			}
			if !holds {
				return false
			}
		}
		return true
	}, nil
}

// refAnythingBut tests for anything but the values arg excludes. Values of
// another type than the excluded ones always pass.
func refAnythingBut(arg any) (func(any) bool, error) {
	var excluded []any // strings and float64s
	switch x := arg.(type) {
	case string:
		excluded = []any{x}
	case json.Number:
		excluded = []any{refNumber(x)}
	case []any:
		for _, e := range x {
			switch y := e.(type) {
			case string:
				excluded = append(excluded, y)
			case json.Number:
				excluded = append(excluded, refNumber(y))
			default:
				return nil, errors.New("anything-but: bad list")
			}
		}
	case refObject:
		if len(x) != 1 {
			return nil, errors.New("anything-but: bad object")
		}
		var args []string
		switch y := x[0].val.(type) {
		case string:
			args = []string{y}
		case []any:
			for _, e := range y {
				s, ok := e.(string)
				if !ok {
					return nil, errors.New("anything-but: bad list")
				}
				args = append(args, s)
			}
		}
		var hit func(s, a string) bool
		switch x[0].key {
		case "prefix":
			hit = strings.HasPrefix
		case "suffix":
			hit = strings.HasSuffix
		case "equals-ignore-case":
			hit = func(s, a string) bool { return refFold(s) == refFold(a) }
		case "wildcard":
			hit = func(s, a string) bool { return refWildcard(a, s) }
		default:
			return nil, fmt.Errorf("anything-but: unknown option %q", x[0].key)
		}
		return func(l any) bool {
			s, ok := l.(string)
			return !ok || !slices.ContainsFunc(args, func(a string) bool { return hit(s, a) })
		}, nil
	default:
		return nil, errors.New("anything-but: bad argument")
	}
	return func(l any) bool { return !slices.Contains(excluded, l) }, nil
}

// refWildcard matches s against a wildcard expression by plain recursion
// over bytes: '*' is any run, "\*" a literal star, "\\" a literal backslash.
func refWildcard(expr, s string) bool {
	if expr == "" {
		return s == ""
	}
	switch {
	case expr[0] == '*':
		for i := 0; i <= len(s); i++ {
			if refWildcard(expr[1:], s[i:]) {
				return true
			}
		}
		return false
	case expr[0] == '\\' && len(expr) > 1:
		return s != "" && s[0] == expr[1] && refWildcard(expr[2:], s[1:])
	}
	return s != "" && s[0] == expr[0] && refWildcard(expr[1:], s[1:])
}

// TestReferenceConformance proves refMatch right: it must agree with every
// shared vector that has an event.
func TestReferenceConformance(t *testing.T) {
	n := 0
	for _, c := range loadConformance(t) {
		if string(c.Match) == `"error"` {
			continue
		}
		n++
		want := string(c.Match) == "true"
		got, err := refMatch(c.Pattern, c.Event)
		if err != nil {
			t.Errorf("%s: pattern %s\nevent %s\nrefMatch: %v", c.ID, c.Pattern, c.Event, err)
			continue
		}
		if got != want {
			t.Errorf("%s: pattern %s\nevent %s\nrefMatch = %v, want %v", c.ID, c.Pattern, c.Event, got, want)
		}
	}
	if n < 500 {
		t.Fatalf("only %d vectors with events", n)
	}
}

// TestReferenceSemantics pins down reference behaviour that the vectors
// leave open but the fuzzers rely on.
func TestReferenceSemantics(t *testing.T) {
	tests := []struct {
		pattern, event string
		want           bool
	}{
		// A repeated event key: the first occurrence counts.
		{`{"a":["x"]}`, `{"a":"x","a":"y"}`, true},
		{`{"a":["y"]}`, `{"a":"x","a":"y"}`, false},
		// An event number beyond float64 range compares as infinity.
		{`{"a":[{"numeric":[">",1e308]}]}`, `{"a":1e400}`, true},
		{`{"a":[{"numeric":["<",-1e308]}]}`, `{"a":-1e400}`, true},
		{`{"a":[0]}`, `{"a":-0}`, true},
		// Ignore-case affixes compare folded strings.
		{`{"a":[{"prefix":{"equals-ignore-case":"STRASS"}}]}`, `{"a":"straße"}`, true},
		{`{"a":[{"suffix":{"equals-ignore-case":"SS"}}]}`, `{"a":"Fuß"}`, true},
		// anything-but object forms pass every non-string.
		{`{"a":[{"anything-but":{"wildcard":"*"}}]}`, `{"a":null}`, true},
		{`{"a":[{"anything-but":{"wildcard":"*"}}]}`, `{"a":"x"}`, false},
		// exists:false under array consistency.
		{`{"a":{"b":["x"],"c":[{"exists":false}]}}`, `{"a":[{"b":"x","c":1},{"b":"x"}]}`, true},
		{`{"a":{"b":["x"],"c":[{"exists":false}]}}`, `{"a":[{"b":"x","c":1},{"b":"y"}]}`, false},
		{`{"a":{"b":["x"]},"c":[{"exists":false}]}`, `{"a":[{"b":"x"}],"c":[]}`, true},
		// A branch field replaces the outer one. Two sibling $ors naming one
		// field: the README is silent; the later wins, as in aws/event-ruler
		// and in Compile.
		{`{"a":["x"],"$or":[{"a":["y"]},{"b":["z"]}]}`, `{"a":"y"}`, true},
		{`{"$or":[{"b":{"e":["1"]}},{"c":["z"]}],"b":{"$or":[{"e":["2"]},{"d":["y"]}]}}`, `{"b":{"e":"2"}}`, true},
		{`{"$or":[{"b":{"e":["1"]}},{"c":["z"]}],"b":{"$or":[{"e":["2"]},{"d":["y"]}]}}`, `{"b":{"e":"1"}}`, false},
		// Wildcard escapes.
		{`{"a":[{"wildcard":"a\\*b*"}]}`, `{"a":"a*bc"}`, true},
		{`{"a":[{"wildcard":"a\\*b*"}]}`, `{"a":"axbc"}`, false},
		{`{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\b"}`, true},
	}
	for _, tt := range tests {
		got, err := refMatch([]byte(tt.pattern), []byte(tt.event))
		if err != nil || got != tt.want {
			t.Errorf("pattern %s\nevent %s\nrefMatch = %v, %v; want %v", tt.pattern, tt.event, got, err, tt.want)
		}
	}
}
