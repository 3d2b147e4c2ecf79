package rules

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// The event walk is a hand-written JSON scanner: these events take it through
// what real events hold and citylots does not — whitespace everywhere,
// escapes in keys and values (also past the short-string loop), surrogate
// pairs, repeated keys, objects it must skip or leave early, numbers in
// every spelling — and check it against the reference evaluator, which
// decodes with encoding/json.
func TestWalkAgreesWithReference(t *testing.T) {
	long := strings.Repeat("x", 40)
	pats := []string{
		`{"a":["v"]}`,
		`{"a":[{"prefix":"v"}],"c":[{"exists":true}]}`,
		`{"b":{"c":["w"]}}`,
		`{"b":{"c":["w"],"d":[{"numeric":[">",1]}]}}`,
		`{"b":{"d":[100]}}`,
		`{"k\"q":["1"]}`,
		`{"a":["` + long + `\"` + long + `"]}`,
		`{"a":["😀"]}`,
		`{"a":["\ufffd"]}`,
		`{"a":[{"exists":false}],"z":[true]}`,
		`{"z":[null]}`,
		`{"arr":{"x":["1"],"y":["2"]}}`,
		`{"n":[-0.0]}`,
		`{"n":[{"numeric":[">=",1e300]}]}`,
		`{"s":["a\\b"]}`,
		`{"s":["a/b"]}`,
		// Keys the walk guesses (see walkObject): one the start of another,
		// one longer than 16 bytes, one that only its escaped form spells.
		`{"ab":["1"],"abc":["2"]}`,
		`{"g":{"ab":[{"exists":true}],"` + long + `":["3"]}}`,
		`{"":["e"],"q/r":["4"]}`,
		`{"p":{"g":["1"]}}`,
		`{"g":["2"]}`,
	}
	events := []string{
		`{"a":"v"}`,
		"\n\t{ \"a\" :\r\n \"v\" , \"c\" : { } }\n",
		`{"a":"vw","c":[]}`,
		`{"a":"vw","c":[1]}`,
		`{"\u0061":"v"}`,
		`{"a":"\u0076"}`,
		`{"a":"v","a":"w"}`,
		`{"a":"w","a":"v"}`,
		`{"x":{"a":"v"},"a":"v"}`,
		`{"x":"{\"a\":\"v\"}","a":"v"}`,
		`{"x":"\\","a":"v"}`,
		`{"x":"\\\"","a":"v"}`,
		`{"b":{"c":"w","e":{"f":[1,{"g":"}"}]},"d":2},"a":"q"}`,
		`{"b":{"c":"w"},"b":{"c":"x","d":5}}`,
		`{"b":{"d":1e2}}`,
		`{"b":{"d":100.0}}`,
		`{"b":{"d":1E+2}}`,
		`{"k\"q":"1"}`,
		`{"k\u0022q":"1"}`,
		`{"a":"` + long + `\"` + long + `"}`,
		`{"a":"` + long + `\u0022` + long + `"}`,
		`{"a":"\ud83d\ude00"}`,
		`{"a":"😀"}`,
		`{"z":true}`,
		`{"z":null,"a":"v"}`,
		`{"z":[true,false]}`,
		`{"arr":[{"x":"1","y":"3"},{"x":"4","y":"2"}]}`,
		`{"arr":[{"x":"1","y":"2"}]}`,
		`{"arr":[[{"x":"1"}],{"y":"2"}]}`,
		`{"n":0}`,
		`{"n":-0}`,
		`{"n":1e400}`,
		`{"n":[1,[2,[3e300]]]}`,
		`{"s":"a\\b"}`,
		`{"s":"a\/b"}`,
		`{"s":"a\\\\b"}`,
		`{"ab":"1","abc":"2"}`,
		`{"abc":"2","ab":"1"}`,
		`{"ab":"2","abc":"1"}`,
		`{"abc":"1"}`,
		`{"ab":"1","ab":"2","abc":"2"}`,
		`{"abc":"2","ab":"1"}`,
		`{"a\u0062":"1","abc":"2"}`,
		`{"g":{"ab":0,"` + long + `":"3"}}`,
		`{"g":{"ab":0,"` + long + `x":"3"}}`,
		`{"g":{"ab":0,"` + long[1:] + `":"3"}}`,
		`{"g":{"ab":0,"` + long + `":"3"}}`,
		`{"g":{"ab":0,"` + long[:8] + strings.Repeat("y", len(long)-16) + long[:8] + `":"3"}}`,
		`{"g":{"ab":0,"` + long + `":"3"}}`,
		`{"g":{"` + long + `":"3","ab":0}}`,
		`{"":"e","q/r":"4"}`,
		`{"":"e","q\/r":"4"}`,
		`{"q/r":"4","":"e"}`,
		`{"ab":"1","abc":"2"}`,
		// A key that follows an object's key in one object, and begins
		// the object under it in the next event: the guess must not take
		// one for the other.
		`{"p":{"x":0},"g":"1"}`,
		`{"p":{"g":"2"}}`,
		`{"p":{"g":"1"},"g":"2"}`,
	}
	checkAgainstReference(t, pats, events)
}

// Broken JSON must never panic the walk; what it matches is unspecified.
func TestWalkSurvivesBrokenJSON(t *testing.T) {
	tb, err := NewTable([]Rule{
		{Name: "a", Pattern: MustCompile(`{"a":["v"],"b":{"c":[{"exists":true}]}}`)},
		{Name: "n", Pattern: MustCompile(`{"a":[{"exists":false}]}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	src := `{"a" : "v\u00e9\"", "x":[{"y":[1,2,"z"]}], "b":{"c":[1e5,true,null,"\\"]}}`
	for i := range len(src) + 1 {
		for _, ev := range []string{src[:i], src[:i] + "}", src[:i] + `"`, src[:i] + `\`, src[i:]} {
			tb.Match([]byte(ev))
		}
	}
	for _, ev := range []string{`{"a":"\u12"}`, `{"a":"\ud800\u"}`, `{"a":tru}`, `{"a":-}`, `{"a":1.2.3}`, `{"a" "v"}`, `{"a":"v" "b":1}`, `{,}`, `{"a":[1 2]}`, `{"a":"v"]`, strings.Repeat("[", 5000), `{"a":` + strings.Repeat("[", 5000)} {
		tb.Match([]byte(ev))
	}
}

// Many rules naming the same popular value make its posting list long, and
// the index splits it by a second field (split). This builds such lists
// with every kind of second condition, and events flat and with arrays
// (where the second-level hits only make candidates), and checks the table
// against the reference.
func TestSecondLevelIndexAgreesWithReference(t *testing.T) {
	seconds := []string{
		`"x":["1"]`, `"x":["2"]`, `"x":["1","3"]`, `"x":[{"prefix":"1"}]`, `"x":[{"suffix":"9"}]`,
		`"x":[{"equals-ignore-case":"ab"}]`, `"x":[{"prefix":{"equals-ignore-case":"A"}}]`,
		`"y":[{"numeric":[">",5]}]`, `"y":[{"numeric":[">=",1,"<",5]}]`, `"y":[7]`, `"y":[{"numeric":["=",3]}]`,
		`"z":[true]`, `"z":[null]`, `"z":[false]`,
		`"o":{"p":["q"]}`, `"x":[{"wildcard":"1*9"}]`, `"x":[{"anything-but":"1"}]`,
	}
	thirds := []string{``, `,"w":[{"exists":false}]`, `,"y":[{"numeric":["<",100]}]`, `,"z":[{"exists":true}]`, `,"x":[{"prefix":""}]`}
	var pats []string
	for _, src := range []string{`"src":["s"]`, `"src":["s","t"]`, `"src":[{"prefix":"s"}]`} {
		for _, second := range seconds {
			for _, third := range thirds {
				if strings.HasPrefix(third, `,"`+second[1:2]) {
					continue // one condition per field
				}
				pats = append(pats, "{"+src+","+second+third+"}")
			}
		}
	}
	events := []string{
		`{"src":"s","x":"1","y":3,"z":true}`,
		`{"src":"s","x":"19","y":7,"z":null,"w":1}`,
		`{"src":"t","x":"AB","y":6,"z":false,"o":{"p":"q"}}`,
		`{"src":"s","x":"3","y":100}`,
		`{"src":"s2","x":"ab","y":1,"o":{"p":["r","q"]}}`,
		`{"src":"u","x":"1","y":3}`,
		`{"src":["s","u"],"x":["1","2"],"y":[3,8],"z":[true,null]}`,
		`{"src":"s","o":[{"p":"q"},{"p":"r"}],"x":[],"y":[]}`,
		`{"src":"s","a":[{"x":"1","y":9},{"x":"2","y":3}]}`,
		`{"src":"s","x":"1","y":3,"z":true,"w":[]}`,
		`{"src":"s","x":1,"y":"3","z":"true"}`, // each value of the other kind
	}
	checkAgainstReference(t, pats, events)

	requireSplit(t, pats, 4)
}

// requireSplit fails the test when a table of pats has fewer than n
// second-level indexes: a test meant to reach split would otherwise go on
// passing without testing it, should split's thresholds change.
func requireSplit(t *testing.T, pats []string, n int) {
	t.Helper()
	rs := make([]Rule, len(pats))
	for i, p := range pats {
		rs[i] = Rule{Name: fmt.Sprint(i), Pattern: MustCompile(p)}
	}
	tb, err := NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tb.idx.subs) - 1; got < n {
		t.Fatalf("%d second-level indexes, want at least %d: the test no longer reaches split", got, n)
	}
}

// parseNumber's direct path must give exactly what strconv gives, and
// leave to strconv whatever it cannot read exactly.
func TestParseNumberAgreesWithStrconv(t *testing.T) {
	cases := []string{"0", "-0", "0.0", "-0.0", "1", "-1", "2250", "2215.57", "0.1", "0.3", "1.5e3", "1E-2",
		"123456789012345", "1234567890123456", "12345678901234567890", "123456789.012345", "1234567890.123456",
		"0.000000000000001", "-122.51178712683586", "37.752532223305899", "9007199254740993", "1e400", "-1e400"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		intDigits, fracDigits := 1+r.IntN(10), r.IntN(8)
		s := strconv.FormatUint(r.Uint64N(uint64(math.Pow10(intDigits))), 10)
		if fracDigits > 0 {
			f := strconv.FormatUint(r.Uint64N(uint64(math.Pow10(fracDigits))), 10)
			s += "." + strings.Repeat("0", fracDigits-len(f)) + f
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	for _, c := range cases {
		got, ok := parseNumber(c)
		want, err := strconv.ParseFloat(c, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("%s: strconv: %v", c, err)
		}
		if !ok || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("parseNumber(%s) = %v, %v; strconv gives %v", c, got, ok, want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "--1", "1-", "abc"} {
		if f, ok := parseNumber(bad); ok {
			t.Errorf("parseNumber(%q) = %v, want a refusal", bad, f)
		}
	}
	// The walk reads most numbers in the pass that finds their end: what
	// it records must be what parseNumber gives for the number's text,
	// whatever follows it.
	ix := buildIndex([]Rule{{Name: "n", Pattern: MustCompile(`{"a":[{"exists":true}],"z":[1]}`)}})
	s := newMatchState(ix)
	f := ix.root.child("a").field
	for _, c := range append(cases, "1.", "01.5", "1.2.3", "1e5", "-", "--1", "1-", "12x") {
		want, wantOK := parseNumber(c)
		for _, ev := range []string{`{"a":` + c + `}`, `{"a":` + c + ` ,"z":1}`, `{"a":` + c + `,"z":1}`, `{"a":[` + c + `]}`, `{"a":` + c} {
			s.reset(ix)
			s.walkEvent(ix, ev)
			l := s.leafOf(f)
			switch {
			case l == nil && wantOK:
				t.Errorf("%s: no value recorded, want %v", ev, want)
			case l != nil && !wantOK:
				t.Errorf("%s: recorded %v, want none (parseNumber refuses %q)", ev, l.num, c)
			case l != nil && (l.kind != lkNumber || l.str != c || l.num != want || math.Signbit(l.num) != math.Signbit(want)):
				t.Errorf("%s: recorded %v %q, want %v %q", ev, l.num, l.str, want, c)
			}
		}
	}
}

// shortNumber reads numbers of up to seven digits on each side of the point
// eight bytes at a time: it must give what strconv gives, take every number
// of that shape that is followed by eight more bytes, and leave the rest.
func TestShortNumber(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	for range 50000 {
		intDigits, fracDigits := 1+r.IntN(7), r.IntN(8)
		num := digits(intDigits)
		if fracDigits > 0 {
			num += "." + digits(fracDigits)
		}
		if r.IntN(2) == 0 {
			num = "-" + num
		}
		after := string(",} \t\n\r]"[r.IntN(7)]) + `"x":12345678}`
		end, f, ok := shortNumber(num+after, 0)
		want, _ := strconv.ParseFloat(num, 64)
		if !ok || end != len(num) || f != want || math.Signbit(f) != math.Signbit(want) {
			t.Fatalf("shortNumber(%q) = %d, %v, %v; want %d, %v", num+after, end, f, ok, len(num), want)
		}
	}
	for _, c := range []string{"12345678,1234567", "1.12345678,123456", "1.,12345678", "1e5,12345678",
		"1.5e3,1234567", "1.2.3,1234567", "-,12345678", "--1,12345678", "1x,12345678", "1234567.12345678,",
		"123,456", "1.5,123"} {
		if end, f, ok := shortNumber(c, 0); ok {
			t.Errorf("shortNumber(%q) = %d, %v; want it left to the digit loop", c, end, f)
		}
	}
}

// A case-folded value is walked through the folded prefix trie while the
// hits it makes probe second-level indexes, which fold values of their own:
// the first folded value must not change under the walk.
func TestFoldedValueSurvivesSecondLevelProbe(t *testing.T) {
	// Each affix is shared by groupMin rules, so that its list splits by b,
	// which folds too.
	var pats []string
	for _, a := range []string{`{"prefix":{"equals-ignore-case":"ab"}}`, `{"prefix":{"equals-ignore-case":"abcd"}}`,
		`{"suffix":{"equals-ignore-case":"ef"}}`, `{"suffix":{"equals-ignore-case":"cdef"}}`} {
		for i := range groupMin {
			b := fmt.Sprint("other", i)
			if i < 2 {
				b = []string{"xyzw", "qq"}[i]
			}
			pats = append(pats, fmt.Sprintf(`{"a":[%s],"b":[{"equals-ignore-case":%q}]}`, a, b))
		}
	}
	checkAgainstReference(t, pats, []string{`{"a":"ABCDEF","b":"XYZW"}`, `{"a":"abcdef","b":"QQ"}`})
	requireSplit(t, pats, 1)
}

// When both conditions of an alternative are proven by hits (a first- and a
// second-level index), nothing is left to check only if the event holds no
// array: values from different elements of an array of objects must not
// combine.
func TestProvenConditionsStillNeedOneArrayElement(t *testing.T) {
	// x must be the driver (rarer than y across the rules) and x "1" shared
	// by groupMin rules, so that its list splits by y.
	var pats []string
	for i := range groupMin {
		pats = append(pats, fmt.Sprintf(`{"a":{"x":["1"],"y":["%d"]}}`, 2+i))
	}
	for i := range 8 * groupMin {
		pats = append(pats, fmt.Sprintf(`{"a":{"x":["x%d"],"y":["%d"]}}`, i, 2+i%groupMin))
	}
	checkAgainstReference(t, pats, []string{
		`{"a":[{"x":"1","y":"9"},{"x":"0","y":"2"}]}`,
		`{"a":[{"x":"1","y":"3"},{"x":"0","y":"2"}]}`,
		`{"a":{"x":"1","y":"4"}}`,
		`{"a":{"x":"1","y":"9"}}`,
	})
	requireSplit(t, pats, 1)
}
