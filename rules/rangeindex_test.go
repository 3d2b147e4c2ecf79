package rules

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRangeSlot checks slot, a search on order keys, against a plain
// binary search on the floats, over ends and probes that include -0, the
// infinities, subnormals and values next to the ends.
func TestRangeSlot(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, 1, -1}
	pick := func() float64 {
		switch r.IntN(4) {
		case 0:
			return special[r.IntN(len(special))]
		case 1:
			return float64(r.IntN(21) - 10)
		}
		return r.NormFloat64() * 1e3
	}
	for range 2000 {
		var ends []float64
		for range 1 + r.IntN(40) {
			ends = append(ends, pick())
		}
		slices.Sort(ends)
		ends = slices.Compact(ends)
		ri := rangeIndex{keys: make([]uint64, len(ends))}
		for i, e := range ends {
			ri.keys[i] = orderKey(e)
		}
		for range 50 {
			x := pick()
			if r.IntN(3) == 0 {
				e := ends[r.IntN(len(ends))]
				x = [...]float64{e, math.Nextafter(e, math.Inf(1)), math.Nextafter(e, math.Inf(-1))}[r.IntN(3)]
			}
			j, found := slices.BinarySearch(ends, x)
			want := 2 * j
			if found {
				want++
			}
			if got := ri.slot(x); got != want {
				t.Fatalf("ends %v: slot(%v) = %d, want %d", ends, x, got, want)
			}
		}
	}
}
