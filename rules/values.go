package rules

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// mkind says what one entry of a field's value list tests.
type mkind uint8

const (
	mString              mkind = iota // exact string s
	mNumber                           // exact number num, compared by value
	mTrue                             // the literal true
	mFalse                            // the literal false
	mNull                             // the literal null
	mPrefix                           // string starting with s
	mPrefixFold                       // string starting with s, ignoring case (s folded)
	mSuffix                           // string ending with s
	mSuffixFold                       // string ending with s, ignoring case (s folded)
	mEqualsFold                       // string equal to s ignoring case (s folded)
	mWildcard                         // string matching wc
	mNumeric                          // number inside rng
	mCIDR                             // string holding an IP address inside pfx
	mExists                           // any leaf value
	mAnythingBut                      // any value but the strings strs and numbers nums
	mAnythingButPrefix                // anything but a string starting with one of strs
	mAnythingButSuffix                // anything but a string ending with one of strs
	mAnythingButFold                  // anything but a string equal to one of strs ignoring case
	mAnythingButWildcard              // anything but a string matching one of wcs
	mStringSet                        // one of the strings in set (a long value list)
)

// matcher is one compiled entry of a field's value list. The fields the
// common tests read come first and the rest sit behind a pointer, so that a
// matcher copied into a check fills one cache line.
type matcher struct {
	kind mkind
	s    string
	num  float64
	rng  numRange
	*matcherExtra
}

// matcherExtra holds what the less common tests need.
type matcherExtra struct {
	pfx  netip.Prefix
	wc   *wildcard
	strs []string
	nums []float64
	wcs  []*wildcard
	set  map[string]struct{}
}

// numRange is a numeric interval; an absent bound is infinite.
type numRange struct {
	lo, hi         float64
	loIncl, hiIncl bool
}

func (r numRange) contains(x float64) bool {
	if x < r.lo || (x == r.lo && !r.loIncl) {
		return false
	}
	if x > r.hi || (x == r.hi && !r.hiIncl) {
		return false
	}
	return true
}

// leafKind is the JSON type of one leaf value of an event.
type leafKind uint8

const (
	lkString leafKind = iota
	lkNumber
	lkTrue
	lkFalse
	lkNull
)

// leaf is one scalar value found in an event.
type leaf struct {
	kind leafKind
	str  string  // the unescaped string, or a number's JSON text
	num  float64 // a number's value
}

// match reports whether the leaf satisfies the matcher. fold is scratch space
// for case folding, reused across calls.
func (m *matcher) match(v *leaf, fold *[]byte) bool {
	switch m.kind {
	case mString:
		return v.kind == lkString && v.str == m.s
	case mNumeric:
		return v.kind == lkNumber && m.rng.contains(v.num)
	case mStringSet:
		if v.kind != lkString {
			return false
		}
		_, ok := m.set[v.str]
		return ok
	case mNumber:
		return v.kind == lkNumber && v.num == m.num
	case mTrue:
		return v.kind == lkTrue
	case mFalse:
		return v.kind == lkFalse
	case mNull:
		return v.kind == lkNull
	case mPrefix:
		return v.kind == lkString && strings.HasPrefix(v.str, m.s)
	case mSuffix:
		return v.kind == lkString && strings.HasSuffix(v.str, m.s)
	case mPrefixFold, mSuffixFold, mEqualsFold:
		if v.kind != lkString {
			return false
		}
		*fold = foldCase((*fold)[:0], v.str)
		f := bytesString(*fold)
		switch m.kind {
		case mPrefixFold:
			return strings.HasPrefix(f, m.s)
		case mSuffixFold:
			return strings.HasSuffix(f, m.s)
		}
		return f == m.s
	case mWildcard:
		return v.kind == lkString && m.wc.match(v.str)
	case mCIDR:
		if v.kind != lkString {
			return false
		}
		a, err := netip.ParseAddr(v.str)
		// An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is its IPv4 address.
		return err == nil && a.Zone() == "" && m.pfx.Contains(a.Unmap())
	case mExists:
		return true
	case mAnythingBut:
		switch v.kind {
		case lkString:
			for _, s := range m.strs {
				if v.str == s {
					return false
				}
			}
		case lkNumber:
			for _, n := range m.nums {
				if v.num == n {
					return false
				}
			}
		}
		return true
	case mAnythingButPrefix, mAnythingButSuffix:
		if v.kind != lkString {
			return true
		}
		for _, s := range m.strs {
			if (m.kind == mAnythingButPrefix && strings.HasPrefix(v.str, s)) ||
				(m.kind == mAnythingButSuffix && strings.HasSuffix(v.str, s)) {
				return false
			}
		}
		return true
	case mAnythingButFold:
		if v.kind != lkString {
			return true
		}
		*fold = foldCase((*fold)[:0], v.str)
		for _, s := range m.strs {
			if bytesString(*fold) == s {
				return false
			}
		}
		return true
	case mAnythingButWildcard:
		if v.kind != lkString {
			return true
		}
		for _, w := range m.wcs {
			if w.match(v.str) {
				return false
			}
		}
		return true
	}
	return false
}

// compileValues compiles a field's value list: literals and one-key operator
// objects, ORed.
func compileValues(list gjson.Result, keys []string) (condition, error) {
	c := condition{keys: keys, path: joinPath(keys), src: list.Raw}
	var err error
	n := 0
	list.ForEach(func(_, v gjson.Result) bool {
		n++
		if n > MaxValues {
			err = &Error{Path: c.path, Reason: fmt.Sprintf("more than %d values for one field", MaxValues)}
			return false
		}
		var m matcher
		absent := false
		switch v.Type {
		case gjson.String:
			m = matcher{kind: mString, s: v.Str}
		case gjson.Number:
			var f float64
			if f, err = patternNumber(v.Raw); err == nil {
				m = matcher{kind: mNumber, num: f}
			}
		case gjson.True:
			m = matcher{kind: mTrue}
		case gjson.False:
			m = matcher{kind: mFalse}
		case gjson.Null:
			m = matcher{kind: mNull}
		default:
			if v.IsArray() {
				err = fmt.Errorf("a value list must not contain an array")
				break
			}
			m, absent, err = compileOperator(v)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				err = &Error{Path: c.path, Reason: err.Error()}
			}
			return false
		}
		if absent {
			c.absentOK = true
		} else {
			c.ms = append(c.ms, m)
		}
		return true
	})
	if err != nil {
		return c, err
	}
	if n == 0 {
		return c, &Error{Path: c.path, Reason: "value list must not be empty"}
	}
	c.ms = collapseStrings(c.ms)
	return c, nil
}

// setThreshold is the length from which a list's exact strings are looked
// up in a set rather than compared one by one.
const setThreshold = 8

// collapseStrings replaces many exact strings in one value list by a set.
func collapseStrings(ms []matcher) []matcher {
	n := 0
	for i := range ms {
		if ms[i].kind == mString {
			n++
		}
	}
	if n < setThreshold {
		return ms
	}
	set := matcher{kind: mStringSet, matcherExtra: &matcherExtra{set: make(map[string]struct{}, n)}}
	out := []matcher{}
	for _, m := range ms {
		if m.kind == mString {
			set.set[m.s] = struct{}{}
		} else {
			out = append(out, m)
		}
	}
	return append([]matcher{set}, out...)
}

// patternNumber parses a number written in a pattern; it must fit a float64.
func patternNumber(raw string) (float64, error) {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("number %s is out of range", raw)
	}
	if f == 0 && strings.ContainsAny(mantissa(raw), "123456789") {
		return 0, fmt.Errorf("number %s is out of range (too small)", raw)
	}
	return f, nil
}

func mantissa(raw string) string {
	if i := strings.IndexAny(raw, "eE"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// onlyKey returns the single key and value of a one-key object.
func onlyKey(v gjson.Result) (string, gjson.Result, error) {
	var key string
	var val gjson.Result
	n := 0
	v.ForEach(func(k, x gjson.Result) bool {
		n++
		key, val = k.Str, x
		return n < 2
	})
	if n != 1 {
		return "", val, fmt.Errorf("an operator object must have exactly one key, got %s", v.Raw)
	}
	return key, val, nil
}

// compileOperator compiles one operator object such as {"prefix": "a"}.
// absent is true for {"exists": false}.
func compileOperator(v gjson.Result) (m matcher, absent bool, err error) {
	op, arg, err := onlyKey(v)
	if err != nil {
		return m, false, err
	}
	switch op {
	case "prefix", "suffix":
		s, fold, err := stringOrFold(op, arg)
		if err != nil {
			return m, false, err
		}
		kind := mPrefix
		if op == "suffix" {
			kind = mSuffix
		}
		if fold {
			kind++ // mPrefixFold, mSuffixFold
			s = string(foldCase(nil, s))
		}
		return matcher{kind: kind, s: s}, false, nil
	case "equals-ignore-case":
		if arg.Type != gjson.String {
			return m, false, fmt.Errorf("equals-ignore-case: value must be a string, not %s", describe(arg))
		}
		return matcher{kind: mEqualsFold, s: string(foldCase(nil, arg.Str))}, false, nil
	case "wildcard":
		if arg.Type != gjson.String {
			return m, false, fmt.Errorf("wildcard: value must be a string, not %s", describe(arg))
		}
		w, err := compileWildcard(arg.Str)
		if err != nil {
			return m, false, fmt.Errorf("wildcard: %w", err)
		}
		return matcher{kind: mWildcard, matcherExtra: &matcherExtra{wc: w}}, false, nil
	case "numeric":
		r, err := compileNumeric(arg)
		if err != nil {
			return m, false, fmt.Errorf("numeric: %w", err)
		}
		return matcher{kind: mNumeric, rng: r}, false, nil
	case "exists":
		switch arg.Type {
		case gjson.True:
			return matcher{kind: mExists}, false, nil
		case gjson.False:
			return m, true, nil
		}
		return m, false, fmt.Errorf("exists: value must be true or false, not %s", arg.Raw)
	case "cidr":
		if arg.Type != gjson.String {
			return m, false, fmt.Errorf("cidr: value must be a string, not %s", describe(arg))
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(arg.Str))
		if err != nil {
			return m, false, fmt.Errorf("cidr: %q is not an IPv4 or IPv6 block such as 10.0.0.0/24", arg.Str)
		}
		return matcher{kind: mCIDR, matcherExtra: &matcherExtra{pfx: p.Masked()}}, false, nil
	case "anything-but":
		m, err := compileAnythingBut(arg)
		if err != nil {
			return m, false, fmt.Errorf("anything-but: %w", err)
		}
		return m, false, nil
	}
	return m, false, fmt.Errorf("unknown operator %q (known: prefix, suffix, equals-ignore-case, wildcard, numeric, exists, cidr, anything-but)", op)
}

// stringOrFold reads the argument of prefix or suffix: a string, or
// {"equals-ignore-case": string}.
func stringOrFold(op string, arg gjson.Result) (string, bool, error) {
	if arg.Type == gjson.String {
		return arg.Str, false, nil
	}
	if arg.IsObject() {
		k, v, err := onlyKey(arg)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", op, err)
		}
		if k != "equals-ignore-case" {
			return "", false, fmt.Errorf("%s: unknown option %q (only equals-ignore-case)", op, k)
		}
		if v.Type != gjson.String {
			return "", false, fmt.Errorf("%s: equals-ignore-case: value must be a string, not %s", op, describe(v))
		}
		return v.Str, true, nil
	}
	return "", false, fmt.Errorf("%s: value must be a string or {\"equals-ignore-case\": string}, not %s", op, describe(arg))
}

// compileNumeric reads ["=", x], [op, x] or [lower-op, x, upper-op, y].
func compileNumeric(arg gjson.Result) (numRange, error) {
	r := numRange{lo: math.Inf(-1), hi: math.Inf(1), loIncl: true, hiIncl: true}
	if !arg.IsArray() {
		return r, fmt.Errorf("value must be an array such as [\">\", 0, \"<=\", 5], not %s", describe(arg))
	}
	items := arg.Array()
	if len(items) != 2 && len(items) != 4 {
		return r, fmt.Errorf("expected an operator and a number, or a lower and an upper bound; got %d items", len(items))
	}
	hasLo, hasHi := false, false
	for i := 0; i < len(items); i += 2 {
		op, num := items[i], items[i+1]
		if op.Type != gjson.String {
			return r, fmt.Errorf("item %d must be an operator string (=, <, <=, >, >=), not %s", i, describe(op))
		}
		if num.Type != gjson.Number {
			return r, fmt.Errorf("operand of %q must be a number, not %s", op.Str, describe(num))
		}
		x, err := patternNumber(num.Raw)
		if err != nil {
			return r, err
		}
		switch op.Str {
		case "=":
			if len(items) != 2 {
				return r, fmt.Errorf("\"=\" takes exactly one number")
			}
			r.lo, r.hi = x, x
			return r, nil
		case ">", ">=":
			if hasLo {
				return r, fmt.Errorf("two lower bounds")
			}
			if i != 0 {
				return r, fmt.Errorf("lower bound must come before upper")
			}
			r.lo, r.loIncl, hasLo = x, op.Str == ">=", true
		case "<", "<=":
			if hasHi {
				return r, fmt.Errorf("two upper bounds")
			}
			// An upper bound first is judged with the second operator:
			// a lower one then comes after it, or there are two upper.
			r.hi, r.hiIncl, hasHi = x, op.Str == "<=", true
		default:
			return r, fmt.Errorf("unknown operator %q (use =, <, <=, >, >=)", op.Str)
		}
	}
	if hasLo && hasHi && r.lo >= r.hi {
		return r, fmt.Errorf("lower bound %v must be below upper bound %v", r.lo, r.hi)
	}
	return r, nil
}

// compileAnythingBut reads the argument of anything-but: a string, a number,
// a list of all strings or all numbers, or an object with one of prefix,
// suffix, equals-ignore-case or wildcard.
func compileAnythingBut(arg gjson.Result) (matcher, error) {
	m := matcher{kind: mAnythingBut, matcherExtra: &matcherExtra{}}
	switch {
	case arg.Type == gjson.String:
		m.strs = []string{arg.Str}
	case arg.Type == gjson.Number:
		f, err := patternNumber(arg.Raw)
		if err != nil {
			return m, err
		}
		m.nums = []float64{f}
	case arg.IsArray():
		items := arg.Array()
		if len(items) == 0 {
			return m, fmt.Errorf("list must not be empty")
		}
		for _, it := range items {
			switch it.Type {
			case gjson.String:
				m.strs = append(m.strs, it.Str)
			case gjson.Number:
				f, err := patternNumber(it.Raw)
				if err != nil {
					return m, err
				}
				m.nums = append(m.nums, f)
			default:
				return m, fmt.Errorf("list may hold only strings or only numbers, not %s", describe(it))
			}
		}
		if len(m.strs) > 0 && len(m.nums) > 0 {
			return m, fmt.Errorf("list mixes strings and numbers")
		}
	case arg.IsObject():
		op, v, err := onlyKey(arg)
		if err != nil {
			return m, err
		}
		var strs []string
		if v.Type == gjson.String {
			strs = []string{v.Str}
		} else if v.IsArray() && len(v.Array()) > 0 {
			for _, it := range v.Array() {
				if it.Type != gjson.String {
					return m, fmt.Errorf("%s: list may hold only strings, not %s", op, describe(it))
				}
				strs = append(strs, it.Str)
			}
		} else {
			return m, fmt.Errorf("%s: value must be a string or a non-empty list of strings, not %s", op, describe(v))
		}
		switch op {
		case "prefix", "suffix":
			for _, s := range strs {
				if s == "" {
					return m, fmt.Errorf("%s: value must not be empty", op)
				}
			}
			m.kind, m.strs = mAnythingButPrefix, strs
			if op == "suffix" {
				m.kind = mAnythingButSuffix
			}
		case "equals-ignore-case":
			m.kind = mAnythingButFold
			for _, s := range strs {
				m.strs = append(m.strs, string(foldCase(nil, s)))
			}
		case "wildcard":
			m.kind = mAnythingButWildcard
			for _, s := range strs {
				w, err := compileWildcard(s)
				if err != nil {
					return m, fmt.Errorf("wildcard: %w", err)
				}
				m.wcs = append(m.wcs, w)
			}
		default:
			return m, fmt.Errorf("unknown option %q (use prefix, suffix, equals-ignore-case or wildcard)", op)
		}
	default:
		return m, fmt.Errorf("value must be a string, a number, a list or an object, not %s", describe(arg))
	}
	return m, nil
}
