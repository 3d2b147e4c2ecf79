package rules

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCompileErrors checks that invalid patterns are refused with the JSON
// path and the reason (cases in testdata/compile_errors.jsonl; "error" is a
// prefix of the expected message).
func TestCompileErrors(t *testing.T) {
	f, err := os.Open("testdata/compile_errors.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var c struct{ Pattern, Error string }
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		_, err := Compile([]byte(c.Pattern))
		if err == nil {
			t.Errorf("line %d: %s compiled, want error %q", line, c.Pattern, c.Error)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.Error) {
			t.Errorf("line %d: %s\n got error %q\nwant prefix %q", line, c.Pattern, err, c.Error)
		}
		if _, ok := err.(*Error); !ok {
			t.Errorf("line %d: error is %T, want *rules.Error", line, err)
		}
	}
}

// TestComplexityGuard checks that patterns beyond the limits are refused.
func TestComplexityGuard(t *testing.T) {
	var or []string
	for i := 0; i < 6; i++ {
		or = append(or, fmt.Sprintf(`{"$or":[{"a%d":[1]},{"b%d":[2]},{"c%d":[3]},{"d%d":[4]}]}`, i, i, i, i))
	}
	// Six nested four-way $or expand to 4^6 = 4096 alternatives.
	nested := `{"x":["y"]`
	for i, o := range or {
		nested += fmt.Sprintf(`,"f%d":%s`, i, o)
	}
	nested += "}"
	cases := map[string]string{
		"or explosion": nested,
		"too deep":     strings.Repeat(`{"a":`, MaxDepth+1) + `["x"]` + strings.Repeat("}", MaxDepth+1),
		"too big":      `{"a":["` + strings.Repeat("x", MaxPatternBytes) + `"]}`,
		"many values":  `{"a":[` + strings.TrimSuffix(strings.Repeat(`"x",`, MaxValues+1), ",") + `]}`,
		"many stars":   `{"a":[{"wildcard":"` + strings.Repeat("a*", MaxWildcards+1) + `"}]}`,
	}
	for name, p := range cases {
		if _, err := Compile([]byte(p)); err == nil {
			t.Errorf("%s: compiled, want a limit error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestTableRules(t *testing.T) {
	a := MustCompile(`{"source":["a"]}`)
	if _, err := NewTable([]Rule{{Name: "x", Pattern: a}, {Name: "x", Pattern: a}}); err == nil {
		t.Error("duplicate names accepted")
	}
	if _, err := NewTable([]Rule{{Name: "", Pattern: a}}); err == nil {
		t.Error("empty name accepted")
	}
	tb, err := NewTable([]Rule{{Name: "b", Pattern: MustCompile(`{"n":[{"numeric":[">",1]}]}`)}, {Name: "a", Pattern: a}})
	if err != nil {
		t.Fatal(err)
	}
	got := tb.Match([]byte(`{"source":"a","n":5}`))
	if strings.Join(got, ",") != "b,a" {
		t.Errorf("Match = %v, want [b a] (table order)", got)
	}
	if got := tb.Match([]byte(`not json`)); len(got) != 0 {
		t.Errorf("Match(invalid) = %v", got)
	}
	// A rule is named once however many of its alternatives hold, with
	// and without arrays in the event, and also when one alternative is
	// checked for every event (exists:false alone).
	tb, err = NewTable([]Rule{
		{Name: "or", Pattern: MustCompile(`{"$or":[{"a":["1"]},{"b":["2"]},{"c":[{"exists":false}]}]}`)},
		{Name: "or2", Pattern: MustCompile(`{"$or":[{"a":[{"prefix":"1"}]},{"a":[{"numeric":["=",1]}]},{"a":["1"]}]}`)},
		// Two values of one driver that both hold lead to the alternative
		// twice: alone (sure), and with a condition left to check.
		{Name: "two", Pattern: MustCompile(`{"a":["1",{"prefix":"1"}]}`)},
		{Name: "two+", Pattern: MustCompile(`{"a":["1",{"prefix":"1"}],"b":[{"exists":true}]}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`{"a":"1","b":"2"}`, `{"a":["1"],"b":["2",3]}`, `{"a":["1",1],"b":"2"}`} {
		if got := tb.Match([]byte(ev)); strings.Join(got, ",") != "or,or2,two,two+" {
			t.Errorf("Match(%s) = %v, want [or or2 two two+]", ev, got)
		}
	}
}

// TestNonObjectEventsMatchNothing checks that only JSON objects are events:
// a pattern of nothing but exists:false must not match a scalar or array.
func TestNonObjectEventsMatchNothing(t *testing.T) {
	p := MustCompile(`{"a":[{"exists":false}]}`)
	for _, ev := range []string{`[1]`, `null`, ``, `not json`, `"x"`, `3`} {
		if p.Match([]byte(ev)) {
			t.Errorf("%q matched", ev)
		}
	}
	if !p.Match([]byte(`{"b":1}`)) {
		t.Error("an object without a should match")
	}
}

func TestCIDRMappedIPv4(t *testing.T) {
	p := MustCompile(`{"ip":[{"cidr":"10.0.0.0/24"}]}`)
	if !p.Match([]byte(`{"ip":"::ffff:10.0.0.7"}`)) {
		t.Error("IPv4-mapped address not matched by its IPv4 block")
	}
}

// TestDeepNestingRefused checks that documents nested millions of levels
// deep are refused without recursing (which would crash the process).
func TestDeepNestingRefused(t *testing.T) {
	deep := []byte(`{"a":` + strings.Repeat("[", 5_000_000) + strings.Repeat("]", 5_000_000) + `}`)
	if err := ValidateEvent(deep); err == nil || !strings.Contains(err.Error(), "levels deep") {
		t.Errorf("ValidateEvent = %v", err)
	}
	if _, err := Compile(deep[:60000]); err == nil {
		t.Error("deep pattern compiled")
	}
	if err := ValidateEvent([]byte(`{"a":"[[[[{{{\"\\\\"}`)); err != nil {
		t.Errorf("brackets inside strings counted: %v", err)
	}
}

// A value many rules name is a poor driver, except for alternatives that a
// second-level index will hold by another field: then it should drive them
// (and split), rather than a short prefix that looks rarer on paper.
func TestPopularValueDrivesWhenItSplits(t *testing.T) {
	// Many streets and street-number prefixes, so that one street, and a
	// three-digit prefix, look rare; MAIN, named by more rules, less so.
	var rs []Rule
	for i := range 600 {
		rs = append(rs, Rule{Name: fmt.Sprint("s", i), Pattern: MustCompile(fmt.Sprintf(`{"street":["S%d"]}`, i))})
		rs = append(rs, Rule{Name: fmt.Sprint("n", i), Pattern: MustCompile(fmt.Sprintf(`{"num":[{"prefix":"%d"}]}`, 300+i))})
	}
	for i := range groupMin {
		rs = append(rs, Rule{Name: fmt.Sprint("main", i), Pattern: MustCompile(fmt.Sprintf(`{"street":["MAIN"],"num":[{"prefix":"12%d"}]}`, i))})
	}
	tb, err := NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range tb.idx.alts[1200:] {
		if got := a.conds[a.driver].c.path; got != "street" {
			t.Errorf("%s is driven by %s, want street", rs[a.rule].Name, got)
		}
	}
	if len(tb.idx.subs) != 2 {
		t.Errorf("%d second-level indexes, want one (MAIN by num)", len(tb.idx.subs)-1)
	}
	if got := tb.Match([]byte(`{"street":"MAIN","num":"1234"}`)); strings.Join(got, ",") != "main3" {
		t.Errorf("Match = %v, want [main3]", got)
	}
}

// Rules that check the same condition share its matcher, lists and all, so
// that checking candidates of thousands of rules reads a few matchers that
// stay in cache; conditions that differ in any value do not share.
func TestEqualConditionsShareAMatcher(t *testing.T) {
	checks := []string{
		`{"anything-but":["AVE","BLVD"]}`, `{"anything-but":["AVE","BLVD"]}`, `{"anything-but":["AVE","BLV"]}`,
		`{"anything-but":{"prefix":"A"}}`, `{"anything-but":{"prefix":"A"}}`, `{"anything-but":{"suffix":"A"}}`,
		`{"wildcard":"a*b"}`, `{"wildcard":"a*b"}`, `{"wildcard":"a*c"}`,
		`{"cidr":"10.0.0.0/8"}`, `{"cidr":"10.0.0.0/8"}`, `{"cidr":"10.0.0.0/16"}`,
		`{"anything-but":[1,2]}`, `{"anything-but":[1,2]}`, `{"anything-but":[1,3]}`,
	}
	var rs []Rule
	for i, c := range checks {
		rs = append(rs, Rule{Name: fmt.Sprint(i), Pattern: MustCompile(fmt.Sprintf(`{"id":["%d"],"v":[%s]}`, i, c))})
	}
	tb, err := NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	ix := tb.idx
	mOff := func(i int) int32 {
		ps := ix.fields[ix.alts[i].conds[ix.alts[i].driver].field].strs.get(fmt.Sprint(i))
		if len(ps) != 1 || ps[0].nchecks != 1 {
			t.Fatalf("rule %d: postings %+v, want one with one check", i, ps)
		}
		return ps[0].first.mOff
	}
	for i := 0; i < len(checks); i += 3 {
		if a, b := mOff(i), mOff(i+1); a != b {
			t.Errorf("%s and its copy use matchers %d and %d, want one", checks[i], a, b)
		}
		if a, c := mOff(i), mOff(i+2); a == c {
			t.Errorf("%s and %s share matcher %d", checks[i], checks[i+2], a)
		}
	}
}
