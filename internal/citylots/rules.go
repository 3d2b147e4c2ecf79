package citylots

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Rules returns n EventBridge patterns over citylots events, keyed by rule
// name ("citylots-00000", ...), for benchmarking a matcher the way it is
// used: many independent rules, each naming real values.
//
// The mix follows what people write against such data: exact values (STREET,
// ST_TYPE, BLOCK_NUM lists), MAPBLKLOT prefixes, suffixes, LOT_AREA ranges
// (bands, "=", open-ended), anything-but, exists true and false,
// equals-ignore-case, a little wildcard, $or and nested geometry fields. Most
// rules name two or three fields. Each rule is aimed at a small share of the
// events, roughly 0.01% to 3%. A deployment also has a few catch-all rules
// (archiving, auditing) that match much of the stream; their number does not
// grow with the rule count: rule 3, then one per 5,000 rules, is one. On 20,000 events of seed 1, Rules(10000, 1)
// has a median rule share of 0.1%, 81% of rules between 0.01% and 3%, 15%
// that do not fire (narrow rules on places the sample lacks) and 1.7% above
// 3%, which give ~48 of the ~75 matches per event.
//
// Rule i depends only on seed and i, so Rules(100, s) is a subset of
// Rules(1000, s) and rule-count sweeps compare like with like.
func Rules(n int, seed uint64) map[string]string {
	out := make(map[string]string, n)
	for i := range n {
		g := &ruleGen{r: rand.New(rand.NewPCG(seed, uint64(i))), t: streetTable()}
		out[fmt.Sprintf("citylots-%05d", i)] = g.pattern(isBroad(i))
	}
	return out
}

// obj and list build a pattern; it is marshalled with sorted keys.
type (
	obj  = map[string]any
	list = []any
)

type ruleGen struct {
	r *rand.Rand
	t *streets
}

// templates are the kinds of rule, weighted per thousand.
var templates = []struct {
	weight int
	make   func(*ruleGen) obj
}{
	{145, (*ruleGen).streetExact},
	{80, (*ruleGen).streetList},
	{100, (*ruleGen).blockList},
	{100, (*ruleGen).blockPrefix},
	{70, (*ruleGen).suffix},
	{120, (*ruleGen).areaBand},
	{50, (*ruleGen).areaOpen},
	{50, (*ruleGen).areaEquals},
	{60, (*ruleGen).anythingBut},
	{60, (*ruleGen).exists},
	{60, (*ruleGen).ignoreCase},
	{30, (*ruleGen).geometry},
	{30, (*ruleGen).or},
	{20, (*ruleGen).wildcard},
}

// isBroad says whether rule i is a catch-all rule.
func isBroad(i int) bool { return i == 3 || i%5000 == 4999 }

func (g *ruleGen) pattern(broad bool) string {
	total := 0
	for _, t := range templates {
		total += t.weight
	}
	x := g.r.IntN(total)
	var p obj
	for _, t := range templates {
		if x < t.weight {
			p = t.make(g)
			break
		}
		x -= t.weight
	}
	if broad {
		p = g.broad()
	}
	return encode(p)
}

// encode writes a pattern as JSON with sorted keys.
func encode(p obj) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<" and ">" readable
	if err := enc.Encode(p); err != nil {
		panic(err) // only maps, slices, strings, numbers and nil
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// props wraps conditions on properties fields.
func props(fields obj) obj { return obj{"properties": fields} }

// street draws a street: by popularity two times in three, else uniformly,
// as rule writers care about busy and quiet streets alike.
func (g *ruleGen) street() Street {
	if g.r.IntN(3) != 0 {
		return g.t.streets[g.t.pick(g.r)]
	}
	return g.t.streets[g.r.IntN(len(g.t.streets))]
}

// popular draws a street from the twenty busiest.
func (g *ruleGen) popular() Street { return g.t.streets[g.r.IntN(20)] }

// stType is the ST_TYPE condition value for s: its type or null.
func stType(s Street) any {
	if s.Type == "" {
		return nil
	}
	return s.Type
}

func (g *ruleGen) oddEven() string { return []string{"O", "E"}[g.r.IntN(2)] }

// block draws a block number; two thirds of the numbers are in use.
func (g *ruleGen) block() int { return 1 + g.r.IntN(maxBlock) }

// blockRun lists k neighbouring block numbers from a random start: a
// neighbourhood. Runs rather than single blocks keep such rules firing on a
// benchmark-sized sample (20k events hold ~700 of the ~6,700 blocks).
func (g *ruleGen) blockRun(k int) list {
	start := 1 + g.r.IntN(maxBlock-k+1)
	blocks := make(list, k)
	for i := range blocks {
		blocks[i] = fmt.Sprintf("%04d", start+i)
	}
	return blocks
}

// blockPrefix3 and blockPrefix2 are MAPBLKLOT prefixes naming 10 blocks
// (~0.1% of events) and 100 blocks (~1%).
func (g *ruleGen) blockPrefix3() string { return fmt.Sprintf("%03d", g.block()/10) }
func (g *ruleGen) blockPrefix2() string { return fmt.Sprintf("%02d", g.block()/100) }

// lotNum draws a lot number most blocks have.
func (g *ruleGen) lotNum() string { return fmt.Sprintf("%03d", 1+g.r.IntN(30)) }

// rareType is an ST_TYPE other than ST, the common one.
func (g *ruleGen) rareType() string {
	return []string{"AVE", "WAY", "TER", "DR", "BLVD", "CT", "PL", "LN"}[g.r.IntN(8)]
}

// streetExact: one street, usually narrowed by a second field.
func (g *ruleGen) streetExact() obj {
	s := g.street()
	f := obj{"STREET": list{s.Name}}
	switch g.r.IntN(4) {
	case 0:
		f["ST_TYPE"] = list{stType(s)}
	case 1:
		f["ODD_EVEN"] = list{g.oddEven()}
	case 2: // a stretch of ten street numbers on a busy street
		s = g.popular()
		f["STREET"] = list{s.Name}
		f["ST_TYPE"] = list{stType(s)}
		f["FROM_ST"] = list{obj{"prefix": strconv.Itoa((s.base + 10 + g.r.IntN(90)) / 10)}}
	}
	return props(f)
}

// streetList: a few streets of a neighbourhood, with a second condition.
func (g *ruleGen) streetList() obj {
	names := list{}
	for range 2 + g.r.IntN(4) {
		names = append(names, g.t.streets[g.r.IntN(len(g.t.streets))].Name)
	}
	f := obj{"STREET": names}
	if g.r.IntN(2) == 0 {
		f["ODD_EVEN"] = list{g.oddEven()}
	} else {
		f["LOT_AREA"] = list{obj{"exists": true}}
	}
	return props(f)
}

// blockList: a neighbourhood of 5-40 blocks, often narrowed.
func (g *ruleGen) blockList() obj {
	f := obj{"BLOCK_NUM": g.blockRun(5 + g.r.IntN(36))}
	switch g.r.IntN(4) {
	case 0:
		f["LOT_NUM"] = list{obj{"prefix": "00"}} // the first nine lots
	case 1:
		f["ST_TYPE"] = list{"ST", "AVE"}
	case 2:
		f["ODD_EVEN"] = list{g.oddEven()}
	}
	return props(f)
}

// blockPrefix: the lots of a range of blocks, narrowed by a second field.
func (g *ruleGen) blockPrefix() obj {
	if g.r.IntN(10) < 4 {
		f := obj{"MAPBLKLOT": list{obj{"prefix": g.blockPrefix3()}}}
		if g.r.IntN(2) == 0 {
			f["ODD_EVEN"] = list{g.oddEven()}
		}
		return props(f)
	}
	f := obj{"MAPBLKLOT": list{obj{"prefix": g.blockPrefix2()}}}
	switch g.r.IntN(3) {
	case 0:
		f["ST_TYPE"] = list{g.rareType()}
	case 1:
		f["LOT_AREA"] = list{obj{"numeric": list{">=", 5000}}}
	}
	return props(f)
}

// suffix: lot numbers, street-number endings and numbered streets.
func (g *ruleGen) suffix() obj {
	switch g.r.IntN(3) {
	case 0: // one lot number on streets of a rare type
		return props(obj{
			"BLKLOT":  list{obj{"suffix": g.lotNum()}},
			"ST_TYPE": list{g.rareType()},
		})
	case 1: // street numbers ending so on a busy street (ODD_EVEN agrees)
		d := g.r.IntN(10)
		return props(obj{
			"FROM_ST":  list{obj{"suffix": strconv.Itoa(d)}},
			"STREET":   list{g.popular().Name},
			"ODD_EVEN": list{[]string{"E", "O"}[d%2]},
		})
	}
	// numbered streets ("24TH") with a lot-area band
	lo := 1000 * (1 + g.r.IntN(5))
	return props(obj{
		"STREET":   list{obj{"suffix": []string{"TH", "ST", "ND", "RD"}[g.r.IntN(4)]}},
		"LOT_AREA": list{obj{"numeric": list{">=", lo, "<", lo + 250}}},
	})
}

// Shares of events whose LOT_AREA is a log-normal draw, a standard size.
const (
	logNormalShare = (1 - areaAbsent) * (1 - areaStandard)
	standardShare  = (1 - areaAbsent) * areaStandard
)

// areaAt is the log-normal LOT_AREA value at cumulative probability p.
func areaAt(p float64) float64 {
	return math.Exp(areaMu + areaSigma*math.Sqrt2*math.Erfinv(2*p-1))
}

// round2 rounds x to two significant digits, as people write bounds.
func round2(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x))-1)
	return math.Round(x/e) * e
}

// areaBand: lot areas in a band holding ~0.2-3% of events, alone or with a
// second field.
func (g *ruleGen) areaBand() obj {
	share := 0.002 + 0.028*g.r.Float64()*g.r.Float64()
	p := 0.02 + 0.9*g.r.Float64()
	lo := round2(areaAt(p))
	hi := round2(areaAt(min(p+share/logNormalShare, 0.999)))
	if hi <= lo {
		hi = lo + 10
	}
	var rng list
	switch g.r.IntN(3) {
	case 0:
		rng = list{">=", lo, "<", hi}
	case 1:
		rng = list{">", lo, "<=", hi}
	default:
		rng = list{">=", lo, "<=", hi}
	}
	f := obj{"LOT_AREA": list{obj{"numeric": rng}}}
	switch g.r.IntN(4) {
	case 0:
		f["ODD_EVEN"] = list{g.oddEven()}
	case 1:
		f["MAPBLKLOT"] = list{obj{"prefix": strconv.Itoa(g.r.IntN(10))}}
	}
	return props(f)
}

// areaOpen: the largest or smallest lots, a tail of ~0.05-2%.
func (g *ruleGen) areaOpen() obj {
	tail := 0.0005 + 0.02*g.r.Float64()*g.r.Float64()
	q := tail / logNormalShare
	var rng list
	switch g.r.IntN(4) {
	case 0:
		rng = list{">", round2(areaAt(1 - q))}
	case 1:
		rng = list{">=", round2(areaAt(1 - q))}
	case 2:
		rng = list{"<", round2(areaAt(q))}
	default:
		rng = list{"<=", round2(areaAt(q))}
	}
	f := obj{"LOT_AREA": list{obj{"numeric": rng}}}
	if g.r.IntN(2) == 0 {
		f["ST_TYPE"] = list{list{"ST", "AVE", nil}[g.r.IntN(3)]}
	}
	return props(f)
}

// areaEquals: one standard lot size (2-7% of events), narrowed by place.
func (g *ruleGen) areaEquals() obj {
	a := standardAreas[g.r.IntN(len(standardAreas))]
	f := obj{"LOT_AREA": list{obj{"numeric": list{"=", a}}}}
	if g.r.IntN(2) == 0 {
		f["STREET"] = list{g.t.streets[g.t.pick(g.r)].Name}
	} else {
		f["MAPBLKLOT"] = list{obj{"prefix": g.blockPrefix2()}}
	}
	return props(f)
}

// anythingBut: a place minus some of it.
func (g *ruleGen) anythingBut() obj {
	switch g.r.IntN(4) {
	case 0:
		s := g.street()
		return props(obj{
			"STREET":   list{s.Name},
			"ODD_EVEN": list{obj{"anything-but": g.oddEven()}},
		})
	case 1:
		busy := list{}
		for range 1 + g.r.IntN(4) {
			busy = append(busy, g.popular().Name)
		}
		return props(obj{
			"MAPBLKLOT": list{obj{"prefix": g.blockPrefix3()}},
			"STREET":    list{obj{"anything-but": busy}},
		})
	case 2:
		return props(obj{
			"STREET":    list{g.street().Name},
			"MAPBLKLOT": list{obj{"anything-but": obj{"prefix": "VACST"}}},
		})
	}
	return props(obj{
		"BLOCK_NUM": g.blockRun(10 + g.r.IntN(21)),
		"ST_TYPE":   list{obj{"anything-but": list{"ST", "AVE"}}},
		"LOT_AREA":  list{obj{"numeric": list{">", 0}}},
	})
}

// exists: lots missing an area, or with a value at all, in some place.
func (g *ruleGen) exists() obj {
	switch g.r.IntN(4) {
	case 0:
		return props(obj{
			"STREET":   list{g.street().Name},
			"LOT_AREA": list{obj{"exists": false}},
		})
	case 1:
		return props(obj{
			"MAPBLKLOT": list{obj{"prefix": g.blockPrefix2()}},
			"LOT_AREA":  list{obj{"exists": false}},
		})
	case 2:
		return props(obj{
			"BLOCK_NUM": g.blockRun(5 + g.r.IntN(16)),
			"LOT_AREA":  list{obj{"exists": true}},
		})
	}
	return props(obj{
		"STREET":  list{g.popular().Name},
		"FROM_ST": list{nil},
	})
}

// ignoreCase: values typed in another case.
func (g *ruleGen) ignoreCase() obj {
	s := g.street()
	switch g.r.IntN(3) {
	case 0:
		return props(obj{
			"STREET":   list{obj{"equals-ignore-case": strings.ToLower(s.Name)}},
			"ODD_EVEN": list{g.oddEven()},
		})
	case 1:
		n := min(len(s.Name), 3+g.r.IntN(3))
		return props(obj{
			"STREET":  list{obj{"prefix": obj{"equals-ignore-case": strings.ToLower(s.Name[:n])}}},
			"ST_TYPE": list{stType(s)},
		})
	}
	return props(obj{
		"ST_TYPE":   list{obj{"equals-ignore-case": strings.ToLower(g.rareType())}},
		"MAPBLKLOT": list{obj{"prefix": g.blockPrefix2()}},
	})
}

// geometry: the shape's type, a nested field outside properties.
func (g *ruleGen) geometry() obj {
	switch g.r.IntN(3) {
	case 0:
		return obj{"geometry": obj{"type": list{"MultiPolygon"}}}
	case 1:
		return obj{
			"geometry":   obj{"type": list{"MultiPolygon"}},
			"properties": obj{"ST_TYPE": list{"ST"}},
		}
	}
	return obj{
		"geometry":   obj{"type": list{"Polygon"}},
		"properties": obj{"STREET": list{g.street().Name}},
	}
}

// or: either of two places, or a place or a big lot.
func (g *ruleGen) or() obj {
	if g.r.IntN(2) == 0 {
		return props(obj{"$or": list{
			obj{"STREET": list{g.street().Name}},
			obj{"MAPBLKLOT": list{obj{"prefix": g.blockPrefix3()}}},
		}})
	}
	return props(obj{
		"ODD_EVEN": list{g.oddEven()},
		"$or": list{
			obj{"STREET": list{g.street().Name}},
			obj{"LOT_AREA": list{obj{"numeric": list{">", round2(areaAt(0.999))}}}},
		},
	})
}

// wildcard: a block range and lot, or a street-name ending.
func (g *ruleGen) wildcard() obj {
	if g.r.IntN(2) == 0 {
		return props(obj{"MAPBLKLOT": list{obj{"wildcard": g.blockPrefix2() + "*" + g.lotNum()[1:]}}})
	}
	return props(obj{
		"STREET":   list{obj{"wildcard": "*" + syllables[g.r.IntN(len(syllables))]}},
		"ODD_EVEN": list{g.oddEven()},
	})
}

// broad: catch-all rules that match much of the stream (archiving,
// auditing).
func (g *ruleGen) broad() obj {
	switch g.r.IntN(5) {
	case 0:
		return props(obj{"ST_TYPE": list{"ST"}})
	case 1:
		return props(obj{
			"ODD_EVEN": list{g.oddEven()},
			"LOT_AREA": list{obj{"numeric": list{">=", 2000}}},
		})
	case 2:
		return props(obj{"STREET": list{obj{"anything-but": list{g.popular().Name, g.popular().Name}}}})
	case 3:
		return props(obj{"LOT_AREA": list{obj{"exists": true}}})
	}
	return obj{"geometry": obj{"type": list{"Polygon"}}}
}
