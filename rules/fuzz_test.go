package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatch compares Table.Match and Pattern.Match with refMatch. The fuzz
// bytes gen drive a generator of patterns and an event over a small
// vocabulary, so that fields, values and array shapes collide often. A raw
// pattern and event (seeded from the conformance vectors) join in when they
// are clean JSON: the pattern as one more rule, the event as a second event.
func FuzzMatch(f *testing.F) {
	for _, c := range loadConformance(f) {
		if string(c.Match) != `"error"` {
			f.Add([]byte(c.Pattern), []byte(c.Event), []byte(nil))
		}
	}
	for _, s := range handMatchSeeds {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(nil))
	}
	for _, g := range []string{
		"",
		"\x04\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
		"\x02\x07\x08\x09\x05\x00\x03\x01\x06\x02\x09\x04\x00\x08\x07\x01\x03\x05",
		strings.Repeat("\x09\x08\x07\x06", 16),
		strings.Repeat("\xff\x80\x41\x13\x27", 20),
	} {
		f.Add([]byte(nil), []byte(nil), []byte(g))
	}
	f.Fuzz(func(t *testing.T, pattern, event, gen []byte) {
		g := &fuzzGen{b: gen}
		pats := g.patterns()
		events := []string{g.event(pats)}
		if len(pattern) > 0 && refClean(pattern) {
			pats = append(pats, string(pattern))
		}
		if len(event) > 0 && refClean(event) {
			if v, err := refDecode(event); err == nil {
				if _, ok := v.(refObject); ok {
					events = append(events, string(event))
				}
			}
		}
		checkAgainstReference(t, pats, events)
		if len(event) > 0 && len(events) == 1 {
			// Not an object, not JSON or not clean: Match must still not
			// panic.
			tab, err := NewTable([]Rule{{Name: "x", Pattern: MustCompile(`{"a":[{"exists":false}],"b":{"c":[1]}}`)}})
			if err != nil {
				t.Fatal(err)
			}
			tab.Match(event)
		}
	})
}

// handMatchSeeds are pattern and event pairs aimed at the corners where a
// fast matcher can go wrong: array consistency with exists:false, $or
// replacement, repeated keys, number spellings, case folding.
var handMatchSeeds = [][2]string{
	{`{"a":{"b":["x"],"c":[{"exists":false}]}}`, `{"a":[{"b":"x","c":1},{"b":"x"}]}`},
	{`{"a":{"b":["x"],"c":["y",{"exists":false}]}}`, `{"a":[{"b":"x","c":"z"},{"b":"x","c":[]}]}`},
	{`{"a":{"b":["x"]},"c":[{"exists":false}]}`, `{"a":[{"b":"x"}],"c":{"d":1}}`},
	{`{"a":["x"],"$or":[{"a":["y"]},{"b":[{"exists":false}]}]}`, `{"a":"y","b":null}`},
	{`{"$or":[{"b":{"e":["1"]}},{"c":["z"]}],"b":{"$or":[{"e":["2"]},{"d":["y"]}]}}`, `{"b":{"e":"2"}}`},
	{`{"a":{"$or":[{"b":[1]},{"c":{"$or":[{"d":[null]},{"e":[true]}]}}]}}`, `{"a":[{"c":[{"d":false},{"e":true}]}]}`},
	{`{"a":[1],"b":[{"numeric":[">=",1,"<",2]}]}`, `{"a":1e0,"a":2,"b":[[1.5],[-0]]}`},
	{`{"a":[{"anything-but":[1,2]}],"b":[{"anything-but":{"suffix":"c"}}]}`, `{"a":[1,"1",null],"b":[true,"abc"]}`},
	{`{"a":[{"equals-ignore-case":"STRASSE"},{"prefix":{"equals-ignore-case":"K"}}]}`, `{"a":["stra\u00dfe","\u212a"]}`},
	{`{"a":[{"cidr":"10.0.0.7/24"},{"cidr":"2001:db8::/32"}]}`, `{"a":["10.0.0.255","2001:db8::1","::ffff:10.0.0.1"]}`},
	{`{"a":[{"wildcard":"a*b\\*c*"}],"b":[{"anything-but":{"wildcard":["*x*","y*"]}}]}`, `{"a":"aab*cc","b":["yx",5]}`},
	{`{"a":{"b":{"c":["x"]},"d":["y"]}}`, `{"a":[[{"b":[{"c":"x"}],"d":"z"}],{"d":"y","b":{"c":"w"}}]}`},
}

// checkAgainstReference builds one Table from the patterns that compile and
// checks, for each event, that it matches exactly the rules refMatch says,
// and that every Pattern.Match agrees.
func checkAgainstReference(t *testing.T, pats, events []string) {
	t.Helper()
	var rules []Rule
	var srcs []string
	for i, p := range pats {
		cp, err := Compile([]byte(p))
		if err != nil {
			continue
		}
		rules = append(rules, Rule{Name: fmt.Sprintf("r%d", i), Pattern: cp})
		srcs = append(srcs, p)
	}
	if len(rules) == 0 {
		return
	}
	tab, err := NewTable(rules)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	for _, ev := range events {
		var want []string
		for i, r := range rules {
			ok, err := refMatch([]byte(srcs[i]), []byte(ev))
			if err != nil {
				t.Fatalf("refMatch failed on a pattern Compile accepted: %v\npattern %s\nevent %s", err, srcs[i], ev)
			}
			if ok {
				want = append(want, r.Name)
			}
			if got := r.Pattern.Match([]byte(ev)); got != ok {
				t.Errorf("Pattern.Match = %v, reference says %v\npattern %s\nevent %s", got, ok, srcs[i], ev)
			}
		}
		// Twice, so that a pooled match state is reused on the second call.
		got, again := tab.Match([]byte(ev)), tab.Match([]byte(ev))
		if !slices.Equal(got, want) || !slices.Equal(again, want) {
			t.Errorf("Table.Match = %q, then %q; reference says %q\npatterns:\n%s\nevent %s", got, again, want, describeRules(rules, srcs), ev)
		}
	}
}

func describeRules(rules []Rule, srcs []string) string {
	var b strings.Builder
	for i, r := range rules {
		fmt.Fprintf(&b, "  %s: %s\n", r.Name, srcs[i])
	}
	return b.String()
}

// surrogateEscape finds \uD800-\uDFFF escapes, which gjson (reading
// patterns) and encoding/json decode differently when unpaired.
var surrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f]`)

// refClean reports whether the fast matcher (gjson for patterns, its own
// scanner for events) and encoding/json (the reference) are sure to read b
// the same way: the two replace invalid UTF-8
// and unpaired surrogates differently, which is a decoding choice, not a
// matching disagreement.
func refClean(b []byte) bool {
	return utf8.Valid(b) && !surrogateEscape.Match(b)
}

// fuzzGen turns fuzz bytes into patterns and events. The bytes are read
// as choices one by one; past their end, choices come from a PRNG seeded
// with a hash of them, so short inputs still give varied shapes and every
// input gives the same output each time.
type fuzzGen struct {
	b     []byte
	i     int
	state uint64
}

func (g *fuzzGen) byte() byte {
	if g.i < len(g.b) {
		g.i++
		return g.b[g.i-1]
	}
	if g.state == 0 {
		h := fnv.New64a()
		h.Write(g.b)
		g.state = h.Sum64() | 1
	}
	// xorshift64*
	g.state ^= g.state >> 12
	g.state ^= g.state << 25
	g.state ^= g.state >> 27
	return byte((g.state * 2685821657736338717) >> 56)
}

func (g *fuzzGen) intn(n int) int { return int(g.byte()) % n }

// pick chooses from xs, half the time among its first eight entries, so
// that patterns and events often meet on the same values.
func (g *fuzzGen) pick(xs []string) string {
	if g.intn(2) == 0 {
		return xs[g.intn(min(8, len(xs)))]
	}
	return xs[g.intn(len(xs))]
}

// ws is the white space between two JSON tokens: mostly none, as in the
// conformance vectors, now and then some, which the parsers must skip.
func (g *fuzzGen) ws() string {
	switch g.intn(16) {
	case 0:
		return " "
	case 1:
		return "\n\t "
	}
	return ""
}

// key picks a member name for an object that already has the keys in used.
// A repeated key is kept only once in sixteen times: for patterns a case of
// "the later mention counts", for events of "the first occurrence counts".
func (g *fuzzGen) key(vocab []string, used map[string]bool) string {
	k := g.pick(vocab)
	if used[k] && g.intn(16) != 0 {
		for _, c := range vocab {
			if !used[c] {
				k = c
				break
			}
		}
	}
	used[k] = true
	return k
}

// The vocabulary, as raw JSON so that spelling is under control. Keys are
// few so that patterns and events meet; "\u0061" is "a" escaped.
var (
	genKeys    = []string{`"a"`, `"b"`, `"c"`, `"a"`, `"b"`, `"c"`, `"\u0061"`, `"a.b"`}
	genPatKeys = []string{`"a"`, `"b"`, `"c"`, `"a"`, `"b"`, `"c"`, `"a.b"`}
	genWords   = []string{`""`, `"a"`, `"ab"`, `"abc"`, `"ABC"`, `"aBc"`, `"xbc"`, `"abx"`, `"bc"`, `"c"`, `"C"`, `"a*c"`, `"a\\c"`, `"\u0061bc"`, `"stra\u00dfe"`, `"STRASSE"`, `"\u00df"`, `"SS"`, `"ss"`, `"k"`, `"K"`, `"\u212a"`, `"\u01f0"`, `"J\u030c"`, `"1"`, `"true"`, `"null"`}
	genIPs     = []string{`"10.0.0.1"`, `"10.0.0.255"`, `"10.0.1.0"`, `"192.168.1.1"`, `"::1"`, `"2001:db8::1"`, `"2001:db8:1::1"`, `"::ffff:10.0.0.1"`, `"10.0.0.256"`, `"fe80::1%eth0"`, `"2001:DB8::1"`}
	genStrings = slices.Concat(genWords, genIPs)
	// Numbers in float64 range, with several spellings of the same value.
	genInRange = []string{`0`, `-0`, `0.0`, `1`, `1.0`, `1e0`, `10e-1`, `0.1e1`, `-1`, `2`, `1.5`, `15e-1`, `100`, `1e2`, `1E+2`, `5`, `-5.5`, `0.3`, `0.30000000000000004`, `9007199254740992`, `9007199254740993`, `5e-324`, `1.7976931348623157e308`}
	// Events may hold numbers beyond float64 range; patterns must not.
	genNumbers  = slices.Concat(genInRange, []string{`1e400`, `-1e400`, `1e-400`})
	genLiterals = []string{`true`, `false`, `null`}
	genAffixes  = []string{`"a"`, `"ab"`, `"AB"`, `"c"`, `"bc"`, `"BC"`, `""`, `"x"`, `"\u00df"`, `"ss"`, `"SS"`, `"k"`, `"\u212a"`, `"10.0."`, `"stra"`, `"e"`}
	genFolds    = slices.Concat(genAffixes, genWords)
	genWilds    = []string{`"*"`, `"a*"`, `"*c"`, `"a*c"`, `"*b*"`, `"a\\*c"`, `"a\\\\c"`, `"ab*"`, `"A*"`, `"a*b*c"`, `"*a*b*"`, `"abc"`, `""`, `"**"`, `"*\\\\*"`, `"10.*.1"`, `"*s*e"`}
	genBounds   = []string{`0`, `-0`, `1`, `1.0`, `1.5`, `2`, `-1`, `100`, `1e2`, `5e-324`, `1.7976931348623157e308`, `-1.7976931348623157e308`, `0.3`, `9007199254740992`}
	genCIDRs    = []string{`"10.0.0.0/24"`, `"10.0.0.7/24"`, `"10.0.0.0/8"`, `"10.0.0.1/32"`, `"0.0.0.0/0"`, `"::/0"`, `"2001:db8::/32"`, `"2001:db8::1/128"`, `"::ffff:10.0.0.0/104"`, `"192.168.1.0/31"`, `"10.0.0.0/33"`}
	genLower    = []string{`">"`, `">="`}
	genUpper    = []string{`"<"`, `"<="`}
)

// patterns returns one to five patterns.
func (g *fuzzGen) patterns() []string {
	pats := make([]string, 1+g.intn(5))
	for i := range pats {
		pats[i] = g.patternObject(0)
	}
	return pats
}

// patternObject is a pattern object of one to three fields: value lists,
// nested objects and $or, up to three levels deep. Keys may repeat (the
// later mention counts).
func (g *fuzzGen) patternObject(depth int) string {
	var b strings.Builder
	b.WriteByte('{')
	used := map[string]bool{}
	n := 1 + g.intn(2) + g.intn(4)/3 // 1, 2, sometimes 3 fields
	for i := range n {
		if i > 0 {
			b.WriteString(g.ws() + "," + g.ws())
		}
		// $or and nested objects get rarer with depth, keeping patterns
		// small enough to read in a failure message.
		switch k := g.intn(100); {
		case k < []int{20, 12, 6, 0}[depth] && (!used["$or"] || g.intn(16) == 0):
			used["$or"] = true
			b.WriteString(`"$or":[`)
			branches := 2 + g.intn(3)/2
			for j := range branches {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(g.patternObject(depth + 1))
			}
			b.WriteByte(']')
		case k >= 70 && k < 70+[]int{25, 15, 8, 0}[depth]:
			b.WriteString(g.key(genPatKeys, used) + g.ws() + ":" + g.ws() + g.patternObject(depth+1))
		default:
			b.WriteString(g.key(genPatKeys, used) + g.ws() + ":" + g.ws() + g.valueList())
		}
	}
	b.WriteByte('}')
	return b.String()
}

// valueList is a list of one to three values, literals or operators.
func (g *fuzzGen) valueList() string {
	vals := make([]string, 1+g.intn(2)+g.intn(4)/3)
	for i := range vals {
		vals[i] = g.patternValue()
	}
	return "[" + strings.Join(vals, ",") + "]"
}

func (g *fuzzGen) patternValue() string {
	switch g.intn(20) {
	case 0, 1:
		return g.pick(genStrings)
	case 2:
		return g.pick(genNumbers)
	case 3:
		return g.pick(genLiterals)
	case 4:
		return `{"prefix":` + g.pick(genAffixes) + `}`
	case 5:
		return `{"prefix":{"equals-ignore-case":` + g.pick(genAffixes) + `}}`
	case 6:
		return `{"suffix":` + g.pick(genAffixes) + `}`
	case 7:
		return `{"suffix":{"equals-ignore-case":` + g.pick(genAffixes) + `}}`
	case 8:
		return `{"equals-ignore-case":` + g.pick(genFolds) + `}`
	case 9:
		return `{"wildcard":` + g.pick(genWilds) + `}`
	case 10, 11:
		return `{"anything-but":` + g.anythingBut() + `}`
	case 12, 13:
		return `{"numeric":` + g.numeric() + `}`
	case 14:
		return `{"exists":true}`
	case 15, 16:
		return `{"exists":false}`
	case 17:
		return `{"cidr":` + g.pick(genCIDRs) + `}`
	case 18:
		return g.pick(genInRange)
	}
	return g.pick(genIPs)
}

// anythingBut is the argument of anything-but, in each of its forms.
func (g *fuzzGen) anythingBut() string {
	list := func(xs []string) string {
		vals := make([]string, 1+g.intn(3))
		for i := range vals {
			vals[i] = g.pick(xs)
		}
		return "[" + strings.Join(vals, ",") + "]"
	}
	one := func(xs []string) string {
		if g.intn(2) == 0 {
			return g.pick(xs)
		}
		return list(xs)
	}
	switch g.intn(9) {
	case 0:
		return g.pick(genStrings)
	case 1:
		return g.pick(genBounds)
	case 2:
		return list(genStrings)
	case 3:
		return list(genBounds)
	case 4:
		return `{"prefix":` + one(genAffixes) + `}`
	case 5:
		return `{"suffix":` + one(genAffixes) + `}`
	case 6:
		return `{"equals-ignore-case":` + one(genAffixes) + `}`
	case 7:
		return `{"wildcard":` + one(genWilds) + `}`
	}
	return list(append(genStrings[:4:4], genBounds[:3]...)) // mixed: an error
}

// numeric is the argument of numeric: "=", one bound or a range. Ranges
// are mostly in order; one in eight is left as drawn, often an error.
func (g *fuzzGen) numeric() string {
	switch g.intn(5) {
	case 0:
		return `["=",` + g.pick(genBounds) + `]`
	case 1:
		return `[` + g.pick(genLower) + `,` + g.pick(genBounds) + `]`
	case 2:
		return `[` + g.pick(genUpper) + `,` + g.pick(genBounds) + `]`
	}
	i, j := g.intn(len(genBounds)), g.intn(len(genBounds))
	if genBoundValue[i] > genBoundValue[j] && g.intn(8) != 0 {
		i, j = j, i
	}
	return `[` + g.pick(genLower) + `,` + genBounds[i] + `,` + g.pick(genUpper) + `,` + genBounds[j] + `]`
}

// genBoundValue holds the values of genBounds, for ordering ranges.
var genBoundValue = func() []float64 {
	v := make([]float64, len(genBounds))
	for i, b := range genBounds {
		v[i] = refNumber(json.Number(b))
	}
	return v
}()

// event is half the time a random event, half the time one shaped after
// one of the patterns, so that fields line up, literal values recur and
// arrays of objects meet patterns that look inside them.
func (g *fuzzGen) event(pats []string) string {
	if g.intn(2) == 0 {
		return g.eventObject(0)
	}
	v, err := refDecode([]byte(pats[g.intn(len(pats))]))
	if err != nil {
		panic(err) // the generator writes valid JSON
	}
	return g.eventLike(v.(refObject))
}

// eventLike builds an event object after a pattern object: it keeps most
// fields, takes the fields of some $or branches, and adds a stray one now
// and then.
func (g *fuzzGen) eventLike(p refObject) string {
	var members []string
	var add func(obj refObject)
	add = func(obj refObject) {
		for _, m := range obj {
			if g.intn(8) == 0 {
				continue
			}
			key, _ := json.Marshal(m.key)
			switch v := m.val.(type) {
			case []any:
				if m.key == "$or" {
					for _, b := range v {
						if g.intn(2) == 0 {
							add(b.(refObject))
						}
					}
					continue
				}
				members = append(members, string(key)+":"+g.valueLike(v))
			case refObject:
				members = append(members, string(key)+":"+g.objectLike(v))
			}
		}
	}
	add(p)
	if len(members) == 0 || g.intn(4) == 0 {
		members = append(members, g.pick(genKeys)+":"+g.eventValue(2))
	}
	return "{" + strings.Join(members, ",") + "}"
}

// objectLike is an object after a pattern object, or an array of them.
func (g *fuzzGen) objectLike(p refObject) string {
	if g.intn(3) != 0 {
		return g.eventLike(p)
	}
	items := []string{g.eventLike(p)}
	for range g.intn(3) {
		if g.intn(5) == 0 {
			items = append(items, g.eventScalar())
		} else {
			items = append(items, g.eventLike(p))
		}
	}
	return "[" + strings.Join(items, ",") + "]"
}

// valueLike is a value for a field with the given value list: one of its
// literals or a random scalar, alone or in an (at times nested) array.
func (g *fuzzGen) valueLike(list []any) string {
	one := func() string {
		switch v := list[g.intn(len(list))].(type) {
		case string, bool, nil:
			b, _ := json.Marshal(v)
			return string(b)
		case json.Number:
			return string(v)
		}
		return g.eventScalar()
	}
	switch g.intn(6) {
	case 0:
		return "[" + one() + "," + g.eventScalar() + "]"
	case 1:
		return "[" + g.eventScalar() + ",[" + one() + "]]"
	case 2:
		return "[" + g.eventScalar() + "]"
	}
	return one()
}

// eventObject is an event object of one to four members, up to three levels
// deep. Keys may repeat: the first occurrence counts.
func (g *fuzzGen) eventObject(depth int) string {
	var b strings.Builder
	b.WriteByte('{')
	used := map[string]bool{}
	n := 2 + g.intn(3)
	for i := range n {
		if i > 0 {
			b.WriteString(g.ws() + "," + g.ws())
		}
		b.WriteString(g.key(genKeys, used) + g.ws() + ":" + g.ws() + g.eventValue(depth))
	}
	b.WriteByte('}')
	return b.String()
}

func (g *fuzzGen) eventValue(depth int) string {
	switch k := g.intn(12); {
	case k == 6 && depth < 3:
		return g.eventObject(depth + 1)
	case k == 7:
		return g.eventArray(depth, false)
	case k == 8 && depth < 3:
		return g.eventArray(depth, true)
	case k == 9 && depth < 3:
		return `[` + g.eventValue(depth+1) + `,[` + g.eventScalar() + `,` + g.eventValue(depth+1) + `]]` // nested arrays
	case k == 10:
		return `[]`
	case k == 11 && depth < 3:
		return `{}`
	}
	return g.eventScalar()
}

// eventArray is an array of zero to three scalars, or of one to three
// objects (with a scalar or two mixed in now and then).
func (g *fuzzGen) eventArray(depth int, objects bool) string {
	var items []string
	if objects {
		for range 1 + g.intn(3) {
			if g.intn(6) == 0 {
				items = append(items, g.eventScalar())
			} else {
				items = append(items, g.eventObject(depth+1))
			}
		}
	} else {
		for range g.intn(4) {
			items = append(items, g.eventScalar())
		}
	}
	return "[" + strings.Join(items, g.ws()+","+g.ws()) + "]"
}

func (g *fuzzGen) eventScalar() string {
	switch g.intn(6) {
	case 0, 1, 2:
		return g.pick(genStrings)
	case 3, 4:
		return g.pick(genNumbers)
	}
	return g.pick(genLiterals)
}

// FuzzCompile feeds arbitrary bytes to Compile: it must not panic, must
// give the same verdict twice, must refuse what is not JSON, and must report
// failures as *Error. An accepted pattern is matched against fixed events
// (including malformed ones) without panicking and, when the bytes are clean
// JSON, in agreement with refMatch.
func FuzzCompile(f *testing.F) {
	for _, c := range loadConformance(f) {
		f.Add([]byte(c.Pattern))
	}
	for _, s := range handMatchSeeds {
		f.Add([]byte(s[0]))
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"a":[]}`, `{"a":{}}`, `{"a":1}`, `{"a":[1]} x`,
		`{"a":[1],"a":[2]}`, `{"$or":[{"a":[1]}]}`, `{"$or":[{"a":[1]},{}]}`,
		`{"a":[{"numeric":[">",1,"<",1]}]}`, `{"a":[{"numeric":["<",2,">",1]}]}`,
		`{"a":[{"wildcard":"a**"}]}`, `{"a":[{"wildcard":"a\\"}]}`, `{"a":[{"cidr":"1.2.3.4/40"}]}`,
		`{"a":[{"anything-but":["a",1]}]}`, `{"a":[{"anything-but":{"prefix":""}}]}`,
		`{"a":[1e400]}`, `{"a":[1e-400]}`, `{"a":[{"exists":"true"}]}`, `{"a":[{"prefix":"a","suffix":"b"}]}`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{"g":["x"]}}}}}}}`, `{"\u0061":["\ud83d\ude00","\ud800"]}`,
	} {
		f.Add([]byte(s))
	}
	events := [][]byte{
		[]byte(`{}`),
		[]byte(`{"a":1,"b":"x","c":null,"d":true}`),
		[]byte(`{"a":[1,"x",null,true,false,[2,[3,"10.0.0.1"]],{"b":"y","c":[{"d":null},{"e":[]}]}],"b":{"c":[],"d":{}},"c":"ABC"}`),
		[]byte(`{"source":"aws.ec2","detail":{"state":"running","count":[1,2.5e1,-0],"c-count":3},"resources":[],"detail-type":"x"}`),
		[]byte(`{"a":"straße","b":1e400,"c":[{"a":1},{"a":"1"}],"a":2}`),
		[]byte(`[1,2]`),
		[]byte(`{"a":`),
		[]byte(`not json`),
		nil,
	}
	f.Fuzz(func(t *testing.T, pattern []byte) {
		p, err := Compile(pattern)
		p2, err2 := Compile(pattern)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Compile(%q) twice: %v, then %v", pattern, err, err2)
		}
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Compile(%q) error %T %v, want *Error", pattern, err, err)
			}
			return
		}
		if !json.Valid(pattern) {
			t.Fatalf("Compile accepted invalid JSON %q", pattern)
		}
		if p.String() != string(pattern) {
			t.Fatalf("String() = %q, want %q", p.String(), pattern)
		}
		tab, err := NewTable([]Rule{{Name: "x", Pattern: p}, {Name: "y", Pattern: p2}})
		if err != nil {
			t.Fatalf("NewTable: %v", err)
		}
		clean := refClean(pattern)
		for _, ev := range events {
			got := p.Match(ev)
			if n := len(tab.Match(ev)); n != 0 && n != 2 || got != (n == 2) {
				t.Fatalf("pattern %s event %s: Pattern.Match = %v, but the table of it twice matched %d", pattern, ev, got, n)
			}
			if !clean || !json.Valid(ev) || ev[0] != '{' {
				continue
			}
			want, err := refMatch(pattern, ev)
			if err != nil {
				t.Fatalf("refMatch failed on a pattern Compile accepted: %v\npattern %s\nevent %s", err, pattern, ev)
			}
			if got != want {
				t.Fatalf("Pattern.Match = %v, reference says %v\npattern %s\nevent %s", got, want, pattern, ev)
			}
		}
	})
}
