package citylots

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Subscriptions returns n patterns shaped like per-subscriber rules: each
// watches one place (a block, a parcel, a stretch of a street, a few
// neighbouring blocks) with its own filters, mixing exact values, prefixes,
// numeric ranges, anything-but and exists. This is the many-tenant case a
// router with thousands of rules serves: each event concerns few
// subscribers, so matches per event stay small as rules grow, and the
// benchmark measures what indexing must keep flat — the cost of the rules
// that do not match. Rules, by contrast, are broad analyses whose matches
// grow with their number.
//
// Rule i depends only on seed and i, as in Rules.
func Subscriptions(n int, seed uint64) map[string]string {
	out := make(map[string]string, n)
	t := streetTable()
	for i := range n {
		g := &ruleGen{r: rand.New(rand.NewPCG(seed^0x5eb5, uint64(i))), t: t}
		out[fmt.Sprintf("sub-%05d", i)] = encode(g.subscription())
	}
	return out
}

func (g *ruleGen) blockNum() string { return fmt.Sprintf("%04d", g.block()) }

func (g *ruleGen) subscription() obj {
	switch g.r.IntN(8) {
	case 0: // large lots of one block
		return props(obj{
			"BLOCK_NUM": list{g.blockNum()},
			"LOT_AREA":  list{obj{"numeric": list{">=", 1000 * (2 + g.r.IntN(3))}}},
		})
	case 1: // one block, except avenues
		return props(obj{
			"MAPBLKLOT": list{obj{"prefix": g.blockNum()}},
			"ST_TYPE":   list{obj{"anything-but": list{"AVE", "BLVD"}}},
		})
	case 2: // one parcel, when its area is known
		return props(obj{
			"BLKLOT":   list{g.blockNum() + g.lotNum()},
			"LOT_AREA": list{obj{"exists": true}},
		})
	case 3: // a stretch of a street, one side
		s := g.street()
		return props(obj{
			"STREET":   list{s.Name},
			"FROM_ST":  list{obj{"prefix": strconv.Itoa((s.base + g.r.IntN(100)) / 10)}},
			"ODD_EVEN": list{g.oddEven()},
		})
	case 4: // two neighbouring blocks, first lots, with a street number
		b := g.block()
		return props(obj{
			"BLOCK_NUM": list{fmt.Sprintf("%04d", b), fmt.Sprintf("%04d", min(b+1, maxBlock))},
			"LOT_NUM":   list{obj{"prefix": "00"}},
			"FROM_ST":   list{obj{"exists": true}},
		})
	case 5: // lots missing an area in one block
		return props(obj{
			"BLOCK_NUM": list{g.blockNum()},
			"LOT_AREA":  list{obj{"exists": false}},
		})
	case 6: // a street's lots in a size band
		lo := 1000 * (1 + g.r.IntN(6))
		return props(obj{
			"STREET":   list{g.street().Name},
			"LOT_AREA": list{obj{"numeric": list{">=", lo, "<", lo + 1500}}},
		})
	}
	// one block, by its parcels' prefix, not on the main street type
	return props(obj{
		"MAPBLKLOT": list{obj{"prefix": g.blockNum()}},
		"ST_TYPE":   list{obj{"anything-but": "ST"}},
	})
}
