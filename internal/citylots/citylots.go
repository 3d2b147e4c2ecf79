// Package citylots generates synthetic "citylots"-shaped GeoJSON Feature
// events and EventBridge rule sets over them, so that the matcher can be
// benchmarked on any machine without the San Francisco lots data set
// (citylots.jlines.gz, ~213k lines of ~900 bytes) that quamina and
// aws/event-ruler measure against.
//
// One event looks like (spaced like the original data set, one line each):
//
//	{ "type": "Feature", "properties": { "MAPBLKLOT": "0522019", "BLKLOT": "0522019",
//	  "BLOCK_NUM": "0522", "LOT_NUM": "019", "FROM_ST": "1501", "TO_ST": "1501",
//	  "STREET": "GREENWICH", "ST_TYPE": "ST", "ODD_EVEN": "O", "LOT_AREA": 2500 },
//	  "geometry": { "type": "Polygon", "coordinates": [ [ [ -122.42485025893909,
//	  37.79987617371178, 0.0 ], ... ] ] } }
//
// The shape and statistics follow the team's stand-in generator
// (shared/bench/gen-citylots.go): ~650 streets with Zipf-like popularity,
// blocks of ~28 lots, ~1.7% condominium lots repeated under one MAPBLKLOT,
// 2% null street numbers, LOT_AREA absent on ~8%, Polygons of 5-150 vertices
// and ~0.1% MultiPolygons, ~890 bytes per event. The output is deterministic
// for a seed but not byte-identical to that tool; see New for the one
// deliberate difference.
package citylots

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// maxBlock is the highest block number; BLOCK_NUM is four digits.
const maxBlock = 9999

// blockStride steps through the block numbers in a scattered order. It is
// coprime with maxBlock, so every block number comes up once per cycle.
const blockStride = 7919

// Generator produces citylots events. It is not safe for concurrent use.
type Generator struct {
	r       *rand.Rand
	blocks  int      // blocks begun so far
	pending [][]byte // lines of the current block not yet returned
	head    int      // next line of pending
	buf     []byte   // scratch for building one line
}

// New returns a generator whose event stream is fully determined by seed.
//
// Unlike the stand-in tool, which numbers blocks sequentially, blocks are
// visited in a scattered order, so that any prefix of the stream (a
// benchmark holds ~20k events, not 213k) covers the whole BLOCK_NUM and
// MAPBLKLOT range and rules on them match at their full-data-set rate.
func New(seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// Next returns the next event, a JSON object without a trailing newline.
// The slice is the caller's to keep.
func (g *Generator) Next() []byte {
	for g.head == len(g.pending) {
		g.pending, g.head = g.pending[:0], 0
		g.emitBlock()
	}
	ev := g.pending[g.head]
	g.pending[g.head] = nil
	g.head++
	return ev
}

// Events returns the next n events.
func (g *Generator) Events(n int) [][]byte {
	evs := make([][]byte, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs
}

// Street is one street of the synthetic city.
type Street struct {
	Name  string  // the STREET value
	Type  string  // the ST_TYPE value; "" stands for null
	Share float64 // expected fraction of events on this street
	base  int     // street numbers on it start here
}

// Streets returns the city's streets, most popular first. The table is the
// same for every seed, so rule generators can use real values and know how
// often each occurs.
func Streets() []Street { return slices.Clone(streetTable().streets) }

type streets struct {
	streets []Street
	cum     []float64 // cumulative Share, for picking by popularity
}

// streetTable is built from a fixed seed; it is the stand-in tool's table
// for its seed 1 (most popular street SANCHEZ).
var streetTable = sync.OnceValue(func() *streets {
	r := rand.New(rand.NewPCG(1, 0x9e3779b97f4a7c15))
	seen := map[string]bool{}
	var names []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	for _, s := range realStreets {
		add(s)
	}
	numbered := map[string]bool{}
	for i := 1; i <= 48; i++ {
		s := ordinal(i)
		numbered[s] = true
		add(s)
	}
	for len(names) < 650 {
		k := 2 + r.IntN(2)
		s := ""
		for range k {
			s += syllables[r.IntN(len(syllables))]
		}
		add(s)
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })

	var typeTotal float64
	for _, t := range streetTypes {
		typeTotal += t.weight
	}
	t := &streets{}
	total := 0.0
	for rank, name := range names {
		st := Street{Name: name, base: 1 + r.IntN(40)*100}
		if numbered[name] {
			st.Type = "ST"
			if r.IntN(2) == 0 {
				st.Type = "AVE"
			}
		} else {
			x := r.Float64() * typeTotal
			for _, ty := range streetTypes {
				if x < ty.weight {
					st.Type = ty.name
					break
				}
				x -= ty.weight
			}
		}
		t.streets = append(t.streets, st)
		total += 1.0 / float64(rank+8) // Zipf-like: the top street ~3%
		t.cum = append(t.cum, total)
	}
	for i := range t.streets {
		t.cum[i] /= total
		t.streets[i].Share = 1.0 / float64(i+8) / total
	}
	return t
})

// ordinal spells a numbered street as the data set does: "01ST", "22ND".
func ordinal(i int) string {
	suf := "TH"
	if i%100 < 11 || i%100 > 13 {
		switch i % 10 {
		case 1:
			suf = "ST"
		case 2:
			suf = "ND"
		case 3:
			suf = "RD"
		}
	}
	return fmt.Sprintf("%02d%s", i, suf)
}

// pick returns the index of a street drawn by popularity.
func (t *streets) pick(r *rand.Rand) int {
	i := sort.SearchFloat64s(t.cum, r.Float64())
	return min(i, len(t.cum)-1)
}

// standardAreas are the stock lot sizes that ~30% of LOT_AREA values take
// (repeats weight the draw).
var standardAreas = []float64{2500, 2500, 2500, 3000, 3000, 2750, 3125, 2250, 1875, 5000, 3437.5, 2996.25}

// The other LOT_AREA values are log-normal: exp(areaMu + areaSigma*N(0,1)).
const (
	areaMu    = 7.9
	areaSigma = 0.6
	// Rates of LOT_AREA being absent and, when present, a standard size.
	areaAbsent   = 0.08
	areaStandard = 0.30
)

// emitBlock queues the lines of the next block.
func (g *Generator) emitBlock() {
	var block int
	for {
		block = 1 + g.blocks*blockStride%maxBlock
		g.blocks++
		if g.r.IntN(3) != 0 { // a third of block numbers are unused
			break
		}
	}
	blockNum := fmt.Sprintf("%04d", block)
	if g.r.IntN(200) == 0 {
		blockNum += string(rune('A' + g.r.IntN(4))) // e.g. "3723A"
	}
	// Block centre: spread blocks over San Francisco's extent.
	cx := -122.512 + 0.150*float64(block%97)/97.0 + 0.001*g.r.NormFloat64()
	cy := 37.708 + 0.124*float64((block*37)%101)/101.0 + 0.001*g.r.NormFloat64()

	nLots := int(28 + 14*g.r.NormFloat64())
	if nLots < 1 {
		nLots = 1 + g.r.IntN(3)
	}
	// A block fronts a primary street and a few others.
	st := streetTable()
	fronts := []int{st.pick(g.r)}
	for range 1 + g.r.IntN(3) {
		fronts = append(fronts, st.pick(g.r))
	}
	for lot := 1; lot <= nLots; lot++ {
		si := fronts[0]
		if g.r.IntN(10) >= 6 {
			si = fronts[1+g.r.IntN(len(fronts)-1)]
		}
		l := lotLine{blockNum: blockNum, lotNum: fmt.Sprintf("%03d", lot), street: &st.streets[si]}
		l.mapblklot = blockNum + l.lotNum
		if g.r.IntN(2000) == 0 { // a vacated street
			l.mapblklot = "VACST" + string(rune('A'+g.r.IntN(26))) + string(rune('A'+g.r.IntN(26))) + string(rune('A'+g.r.IntN(26)))
		}
		l.noNumber = g.r.IntN(50) == 0
		if !l.noNumber {
			f := l.street.base + g.r.IntN(100)
			t := f
			if g.r.IntN(10) < 3 {
				t = f + 2*(1+g.r.IntN(10))
			}
			l.from, l.to = strconv.Itoa(f), strconv.Itoa(t)
			l.oddEven = "O"
			if f%2 == 0 {
				l.oddEven = "E"
			}
		}
		l.area, l.hasArea = g.lotArea()
		l.poly = g.polygon(cx, cy, lot)

		units := 1
		if g.r.IntN(60) == 0 { // condominium parcel
			units = 2 + int(g.r.ExpFloat64()*10)
			if g.r.IntN(20) == 0 { // large complex
				units *= 10
			}
			units = min(units, 700)
		}
		blklot := l.mapblklot
		for u := range units {
			if units > 1 {
				l.lotNum = fmt.Sprintf("%03d", (100+u+lot*3)%1000)
				blklot = blockNum + l.lotNum
			}
			g.pending = append(g.pending, g.line(&l, blklot))
		}
	}
}

func (g *Generator) lotArea() (float64, bool) {
	if g.r.Float64() < areaAbsent {
		return 0, false
	}
	if g.r.Float64() < areaStandard {
		return standardAreas[g.r.IntN(len(standardAreas))], true
	}
	a := math.Exp(areaMu + areaSigma*g.r.NormFloat64())
	return math.Round(a*100) / 100, true
}

// polygon is a lot outline: one outer ring per polygon.
type polygon struct {
	multi bool
	rings [][][2]float64
}

func (g *Generator) vertexCount() int {
	x := g.r.IntN(100)
	switch {
	case x < 40:
		return 5
	case x < 70:
		return 6 + g.r.IntN(5) // 6-10
	case x < 90:
		return 11 + g.r.IntN(10) // 11-20
	case x < 98:
		return 21 + g.r.IntN(20) // 21-40
	default:
		return 41 + g.r.IntN(110) // 41-150
	}
}

// ring is a lot-sized rotated rectangle-ish outline, closed (first == last).
func (g *Generator) ring(cx, cy float64, n int) [][2]float64 {
	w := 0.00008 * (0.5 + g.r.Float64())
	h := 0.00025 * (0.5 + g.r.Float64())
	sin, cos := math.Sincos(g.r.Float64() * math.Pi)
	pts := make([][2]float64, 0, n)
	for i := range n - 1 {
		t := float64(i) / float64(n-1) * 4 // walk the rectangle's perimeter
		var x, y float64
		switch {
		case t < 1:
			x, y = -w/2+w*t, -h/2
		case t < 2:
			x, y = w/2, -h/2+h*(t-1)
		case t < 3:
			x, y = w/2-w*(t-2), h/2
		default:
			x, y = -w/2, h/2-h*(t-3)
		}
		x += 0.000003 * g.r.NormFloat64()
		y += 0.000003 * g.r.NormFloat64()
		pts = append(pts, [2]float64{cx + x*cos - y*sin, cy + x*sin + y*cos})
	}
	return append(pts, pts[0])
}

func (g *Generator) polygon(cx, cy float64, lot int) polygon {
	ox := cx + 0.00009*float64(lot%14) - 0.0006
	oy := cy + 0.0003*float64(lot/14) - 0.0003
	if g.r.IntN(1700) == 0 {
		p := polygon{multi: true}
		for i := range 2 + g.r.IntN(4) {
			p.rings = append(p.rings, g.ring(ox+0.0002*float64(i), oy, g.vertexCount()))
		}
		return p
	}
	return polygon{rings: [][][2]float64{g.ring(ox, oy, g.vertexCount())}}
}

// lotLine holds the values of one line; condominium units share all but
// BLKLOT and LOT_NUM.
type lotLine struct {
	mapblklot, blockNum, lotNum string
	from, to, oddEven           string
	noNumber                    bool // FROM_ST, TO_ST and ODD_EVEN are null
	street                      *Street
	area                        float64
	hasArea                     bool
	poly                        polygon
}

// line renders one event. Coordinates get 14 or 15 decimals at random, as
// in the original, so units of one condominium differ in their geometry text.
func (g *Generator) line(l *lotLine, blklot string) []byte {
	b := g.buf[:0]
	b = append(b, `{ "type": "Feature", "properties": { "MAPBLKLOT": `...)
	b = strconv.AppendQuote(b, l.mapblklot)
	b = append(b, `, "BLKLOT": `...)
	b = strconv.AppendQuote(b, blklot)
	b = append(b, `, "BLOCK_NUM": `...)
	b = strconv.AppendQuote(b, l.blockNum)
	b = append(b, `, "LOT_NUM": `...)
	b = strconv.AppendQuote(b, l.lotNum)
	b = append(b, `, "FROM_ST": `...)
	b = appendStr(b, l.from, l.noNumber)
	b = append(b, `, "TO_ST": `...)
	b = appendStr(b, l.to, l.noNumber)
	b = append(b, `, "STREET": `...)
	b = strconv.AppendQuote(b, l.street.Name)
	b = append(b, `, "ST_TYPE": `...)
	b = appendStr(b, l.street.Type, l.street.Type == "")
	b = append(b, `, "ODD_EVEN": `...)
	b = appendStr(b, l.oddEven, l.noNumber)
	if l.hasArea {
		b = append(b, `, "LOT_AREA": `...)
		b = strconv.AppendFloat(b, l.area, 'f', -1, 64)
	}
	b = append(b, ` }, "geometry": { "type": `...)
	if l.poly.multi {
		b = append(b, `"MultiPolygon", "coordinates": [ `...)
	} else {
		b = append(b, `"Polygon", "coordinates": `...)
	}
	for i, r := range l.poly.rings {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "[ [ "...)
		first, firstEnd := len(b), 0 // the first point's text closes the ring
		for j, pt := range r[:len(r)-1] {
			b = append(b, "[ "...)
			b = strconv.AppendFloat(b, pt[0], 'f', 14+g.r.IntN(2), 64)
			b = append(b, ", "...)
			b = strconv.AppendFloat(b, pt[1], 'f', 14+g.r.IntN(2), 64)
			b = append(b, ", 0.0 ], "...)
			if j == 0 {
				firstEnd = len(b) - len(", ")
			}
		}
		b = append(b, b[first:firstEnd]...)
		b = append(b, " ] ]"...)
	}
	if l.poly.multi {
		b = append(b, " ]"...)
	}
	b = append(b, " } }"...)
	g.buf = b
	return slices.Clone(b)
}

// appendStr appends s quoted, or null.
func appendStr(b []byte, s string, null bool) []byte {
	if null {
		return append(b, "null"...)
	}
	return strconv.AppendQuote(b, s)
}
