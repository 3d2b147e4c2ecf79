package citylots_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/citylots"
	"github.com/eventrouter/eventrouter/rules"
)

// feature is the shape every event must decode into: a string field that
// holds a number fails to decode, a *string is nil for null.
type feature struct {
	Type       string `json:"type"`
	Properties struct {
		MAPBLKLOT, BLKLOT, BLOCK_NUM, LOT_NUM, STREET *string
		FROM_ST, TO_ST, ST_TYPE, ODD_EVEN             *string
		LOT_AREA                                      *float64
	} `json:"properties"`
	Geometry json.RawMessage `json:"geometry"`
}

type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

func TestDeterministic(t *testing.T) {
	a, b := citylots.New(7).Events(500), citylots.New(7).Events(500)
	for i := range a {
		if string(a[i]) != string(b[i]) {
			t.Fatalf("event %d differs between two generators with seed 7", i)
		}
	}
	c := citylots.New(8).Events(500)
	if slices.EqualFunc(a, c, func(x, y []byte) bool { return string(x) == string(y) }) {
		t.Fatal("seeds 7 and 8 give the same events")
	}
	if !maps.Equal(citylots.Rules(50, 3), citylots.Rules(50, 3)) {
		t.Fatal("Rules(50, 3) differs between calls")
	}
}

// TestShape checks every event's structure and the rates the benchmark
// relies on. The rates are per line and condominium parcels repeat lines,
// so the bounds are wide.
func TestShape(t *testing.T) {
	const n = 20000
	evs := citylots.New(1).Events(n)
	var bytes, noArea, nullFrom, multi int
	streets := map[string]int{}
	for i, ev := range evs {
		bytes += len(ev)
		var f feature
		if err := json.Unmarshal(ev, &f); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, ev)
		}
		if f.Type != "Feature" {
			t.Fatalf("event %d: type %q", i, f.Type)
		}
		p := f.Properties
		if p.MAPBLKLOT == nil || p.BLKLOT == nil || p.BLOCK_NUM == nil || p.LOT_NUM == nil || p.STREET == nil {
			t.Fatalf("event %d: a string property is missing or null\n%s", i, ev)
		}
		for _, k := range []string{`"FROM_ST": `, `"TO_ST": `, `"ST_TYPE": `, `"ODD_EVEN": `} {
			if !strings.Contains(string(ev), k) {
				t.Fatalf("event %d: %s missing", i, k)
			}
		}
		if p.LOT_AREA == nil {
			noArea++
		}
		if p.FROM_ST == nil {
			nullFrom++
		}
		streets[*p.STREET]++
		if i%4 != 0 {
			continue // decoding every geometry is slow under -race
		}
		var g geometry
		if err := json.Unmarshal(f.Geometry, &g); err != nil {
			t.Fatalf("event %d: geometry: %v", i, err)
		}
		var rings [][][]float64
		switch g.Type {
		case "Polygon":
			var poly [][][]float64
			err := json.Unmarshal(g.Coordinates, &poly)
			if err != nil || len(poly) != 1 {
				t.Fatalf("event %d: Polygon coordinates: %v", i, err)
			}
			rings = poly
		case "MultiPolygon":
			multi++
			var mp [][][][]float64
			if err := json.Unmarshal(g.Coordinates, &mp); err != nil || len(mp) < 2 {
				t.Fatalf("event %d: MultiPolygon coordinates: %v", i, err)
			}
			for _, poly := range mp {
				rings = append(rings, poly...)
			}
		default:
			t.Fatalf("event %d: geometry type %q", i, g.Type)
		}
		for _, r := range rings {
			if len(r) < 5 || len(r) > 150 || !slices.Equal(r[0], r[len(r)-1]) || len(r[0]) != 3 {
				t.Fatalf("event %d: ring of %d vertices, want 5-150, closed, x/y/z", i, len(r))
			}
		}
	}
	rate := func(k int) float64 { return float64(k) / n }
	if mean := bytes / n; mean < 800 || mean > 1000 {
		t.Errorf("mean event size %d bytes, want ~890", mean)
	}
	if r := rate(noArea); r < 0.05 || r > 0.12 {
		t.Errorf("LOT_AREA absent on %.3f of events, want ~0.08", r)
	}
	if r := rate(nullFrom); r < 0.01 || r > 0.035 {
		t.Errorf("FROM_ST null on %.3f of events, want ~0.02", r)
	}
	if multi == 0 {
		t.Error("no MultiPolygon in 20k events, want ~0.1%")
	}
	if len(streets) < 300 {
		t.Errorf("%d distinct streets in 20k events, want 400+", len(streets))
	}
	top := 0
	for _, c := range streets {
		top = max(top, c)
	}
	if r := rate(top); r < 0.01 || r > 0.06 {
		t.Errorf("busiest street on %.3f of events, want ~0.03", r)
	}
	if s := citylots.Streets(); len(s) != 650 || s[0].Share < s[len(s)-1].Share {
		t.Errorf("Streets: %d streets, want 650 most popular first", len(s))
	}
}

// TestRules checks that generated rules compile, nest and have the
// selectivity the benchmark claims: most fire on a 20k sample, the median
// rule matches a small share, a few match much.
func TestRules(t *testing.T) {
	const nRules, nEvents = 400, 20000
	pats := citylots.Rules(nRules, 1)
	for name, p := range citylots.Rules(nRules/4, 1) {
		if pats[name] != p {
			t.Fatalf("Rules(%d) is not a subset of Rules(%d): %s", nRules/4, nRules, name)
		}
	}
	names := slices.Sorted(maps.Keys(pats))
	rs := make([]rules.Rule, len(names))
	idx := map[string]int{}
	for i, name := range names {
		p, err := rules.Compile([]byte(pats[name]))
		if err != nil {
			t.Fatalf("%s %s: %v", name, pats[name], err)
		}
		rs[i] = rules.Rule{Name: name, Pattern: p}
		idx[name] = i
	}
	all := strings.Join(slices.Collect(maps.Values(pats)), "\n")
	for _, op := range []string{`"prefix"`, `"suffix"`, `"numeric":[">`, `"numeric":["<`, `"numeric":["="`,
		`"anything-but"`, `"exists":true`, `"exists":false`, `"equals-ignore-case"`, `"$or"`, `"wildcard"`, `"geometry"`} {
		if !strings.Contains(all, op) {
			t.Errorf("no rule uses %s", op)
		}
	}

	tab, err := rules.NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, nRules)
	total := 0
	var buf []string
	for _, ev := range citylots.New(1).Events(nEvents) {
		buf = tab.AppendMatches(buf[:0], ev)
		for _, m := range buf {
			counts[idx[m]]++
		}
		total += len(buf)
	}
	shares := make([]float64, nRules)
	fired, broad := 0, 0
	for i, c := range counts {
		shares[i] = float64(c) / nEvents
		if c > 0 {
			fired++
		}
		if shares[i] > 0.03 {
			broad++
		}
	}
	slices.Sort(shares)
	if median := shares[nRules/2]; median < 0.0001 || median > 0.03 {
		t.Errorf("median rule matches %.5f of events, want 0.0001-0.03", median)
	}
	if fired < nRules*3/4 {
		t.Errorf("only %d of %d rules fire on %d events", fired, nRules, nEvents)
	}
	if broad == 0 || broad > nRules/10 {
		t.Errorf("%d of %d rules match over 3%% of events, want a few", broad, nRules)
	}
	t.Logf("%d rules: %.2f matches/event, %d fire, median share %.5f, %d over 3%%",
		nRules, float64(total)/nEvents, fired, shares[nRules/2], broad)
}
