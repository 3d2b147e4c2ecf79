package rules

import (
	"fmt"
	"maps"
	"math"
	stdbits "math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// index is a Table's compiled form. Every alternative of every pattern gets
// one driver condition, chosen to be as selective as possible, and only
// drivers are indexed: an event value that hits a driver makes its
// alternative a candidate, and only candidates are checked in full; the
// alternatives sharing a popular driver value are indexed again on a second
// field (split). Cost per event therefore follows the number of fields the
// patterns name and the number of candidates, not the number of rules.
type index struct {
	root     *pathNode
	nodes    int           // path nodes, for per-state stamps
	fields   []*fieldIndex // by field id
	alts     []altInfo
	always   []posting  // alternatives with nothing but exists:false: checked for every event
	checks   []check    // what postings leave to check, see posting
	matchers []matcher  // the checks' matchers
	subs     []subIndex // second-level indexes; subs[0] is unused
	probed   []int32    // the fields with drivers, in id order: probed in this order
}

// pathNode is one step of the trie of field paths the patterns name.
type pathNode struct {
	id       int32
	field    int32 // field id of a condition on exactly this path, or -1
	children map[string]*pathNode
	table    childTable // the children, looked up with one probe when table.slots is set

	// The node as the walk's guess of a key (see walkObject), compared
	// with an event's key without reading the node. Its node is nil for
	// the root and for a key whose raw JSON text cannot be the key itself
	// (it holds a quote or a backslash, which JSON escapes).
	guess childKey
}

// childKey is a path node with its key, in the form keys are compared in.
type childKey struct {
	head, tail uint64 // keyWords(key): with its length, the whole of a key of up to 16 bytes
	key        string
	node       *pathNode
}

func newChildKey(key string, node *pathNode) childKey {
	head, tail := keyWords(key)
	return childKey{head: head, tail: tail, key: key, node: node}
}

// is reports whether key is c's. Keys are compared as two words and a
// length, not with a string comparison: most keys of an event are short,
// and a named one would otherwise cost a call to compare its bytes.
func (c *childKey) is(key string) bool {
	if len(c.key) != len(key) {
		return false
	}
	head, tail := keyWords(key)
	return head == c.head && tail == c.tail && (len(key) <= 16 || c.key == key)
}

// childTable finds a child by its key with one probe and one comparison: a
// perfect hash on the key's length and three of its bytes, found when the
// table is built. Every key of every event object the walk enters is
// looked up here, most of them keys no pattern names.
type childTable struct {
	slots []childKey
	mul   uint64
	shift uint8
}

func keySig(key string) uint64 {
	n := len(key)
	if n == 0 {
		return 0
	}
	return uint64(n) | uint64(key[0])<<16 | uint64(key[n/2])<<24 | uint64(key[n-1])<<32
}

func (t *childTable) slot(sig uint64) uint64 { return (sig * t.mul) >> t.shift }

// build finds a perfect hash for the keys, or leaves t empty when none of
// the sizes and multipliers tried separates them (keys alike in length and
// in the bytes hashed): then the map is used.
func (t *childTable) build(children map[string]*pathNode) {
	r := rand.New(rand.NewPCG(uint64(len(children)), 0x9e3779b97f4a7c15))
	for bits := max(1, stdbits.Len(uint(len(children)))); bits <= stdbits.Len(uint(len(children)))+3; bits++ {
		used := make([]bool, 1<<bits)
	tries:
		for range 64 {
			t.mul, t.shift = r.Uint64()|1, uint8(64-bits)
			clear(used)
			for k := range children {
				i := t.slot(keySig(k))
				if used[i] {
					continue tries
				}
				used[i] = true
			}
			t.slots = make([]childKey, 1<<bits)
			for k, c := range children {
				t.slots[t.slot(keySig(k))] = newChildKey(k, c)
			}
			return
		}
	}
	*t = childTable{}
}

func (n *pathNode) child(key string) *pathNode {
	if n.table.slots != nil {
		// c.is(key), written out: is is not inlined, and a call here, for
		// every key the walk does not guess, costs the one-rule case ~8%.
		c := &n.table.slots[n.table.slot(keySig(key))]
		if len(c.key) != len(key) || c.node == nil {
			return nil
		}
		if head, tail := keyWords(key); head != c.head || tail != c.tail || len(key) > 16 && c.key != key {
			return nil
		}
		return c.node
	}
	return n.children[key]
}

// finish prepares the lookup structures of n and its subtree.
func (n *pathNode) finish() {
	if len(n.children) > 0 {
		n.table.build(n.children)
	}
	for k, c := range n.children {
		if !strings.ContainsAny(k, `"\`) {
			c.guess = newChildKey(k, c)
		}
		c.finish()
	}
}

// altInfo is one alternative of one rule, ready for evaluation.
type altInfo struct {
	rule   int32
	driver int16   // the condition indexed as the driver, -1 for none
	conds  []acond // positive conditions, most selective first, then exists:false-only ones
}

type acond struct {
	field int32
	c     *condition
}

// posting is an index entry: the alternative a driver value leads to.
// exact means the hit proves the driver condition holds (a wildcard's
// literal start does not), and in a second-level index also the condition
// indexed there; sure means it proves the whole alternative. nchecks says
// how many conditions are left to check when the event holds no array:
// the first is held in the posting itself (first), most postings' only
// one, so that checking a candidate reads the line it was found on; the
// rest lie in index.checks from checks on, the posting lists of one value
// and their checks together, so that checking a value's candidates reads
// memory in order instead of chasing pointers into the patterns.
//
// A posting with a negative alt is not an alternative but the second-level
// index index.subs[-alt]: see split.
//
// A posting is 28 bytes: with 10,000 rules the index holds over 13,000,
// and what a probe reads of them is what decides its speed. nchecks fits:
// a condition takes at least six bytes of a pattern (`"a":[1]`), so an
// alternative has fewer than MaxPatternBytes/6 of them.
type posting struct {
	alt     int32
	rule    int32
	first   check
	checks  int32
	nchecks uint16
	exact   bool
	sure    bool
}

// moreChecks returns what is left to check of p's alternative, when the
// event holds no array, after p.first.
func (ix *index) moreChecks(p *posting) []check {
	return ix.checks[p.checks : p.checks+int32(p.nchecks)-1]
}

// subIndex indexes, on a second field, the alternatives that share a
// popular driver value.
type subIndex struct {
	field int32
	fi    *fieldIndex
}

// check is one condition in the form evalChecks reads: its field, and where
// its matchers lie in index.matchers. A check is 12 bytes and matchers are
// shared: thousands of rules check the same few conditions ("ODD_EVEN":
// ["E"], "exists": true), so checking a candidate reads little memory, and
// what it reads is likely in cache. With 10,000 rules a check holding its
// own copy of a matcher made the checks 1.2 MB, most of the index.
type check struct {
	field    int32
	mOff     int32
	mLen     int16 // 0 for exists:false alone: no value will do
	absentOK bool
}

// matcherKey identifies a matcher by what it tests, for sharing: thousands
// of rules test the same few conditions, anything-but lists among them
// ("ST_TYPE": [{"anything-but": ["AVE", "BLVD"]}]), and a check then reads
// a matcher, and its list, that other candidates keep in cache.
type matcherKey struct {
	kind  mkind
	s     string
	num   float64
	rng   numRange
	extra string // extraKey of the matcher's extras
}

// extraKey spells out what a matcher's extras hold, so that two with the
// same lists, prefix or wildcards get the same key.
func extraKey(m *matcher) string {
	x := m.matcherExtra
	if x == nil {
		return ""
	}
	var b strings.Builder
	quote := func(tag string, ss []string) {
		b.WriteString(tag)
		for _, s := range ss {
			b.WriteString(strconv.Quote(s))
		}
	}
	if x.pfx.IsValid() {
		b.WriteString("p" + x.pfx.String())
	}
	if x.wc != nil {
		quote("w", x.wc.parts)
	}
	quote("s", x.strs)
	b.WriteString("n")
	for _, n := range x.nums {
		b.WriteString(strconv.FormatFloat(n, 'g', -1, 64) + ",")
	}
	for _, w := range x.wcs {
		quote("W", w.parts)
	}
	quote("S", slices.Sorted(maps.Keys(x.set)))
	return b.String()
}

// newCheck makes the check of condition c, its matchers appended to
// ix.matchers unless an earlier check's can be shared.
func (ix *index) newCheck(c acond, shared map[matcherKey]int32) check {
	k := check{field: c.field, absentOK: c.c.absentOK, mOff: int32(len(ix.matchers)), mLen: int16(len(c.c.ms))}
	if len(c.c.ms) == 1 {
		m := c.c.ms[0]
		key := matcherKey{m.kind, m.s, m.num, m.rng, extraKey(&m)}
		if off, ok := shared[key]; ok {
			k.mOff = off
			return k
		}
		shared[key] = k.mOff
	}
	ix.matchers = append(ix.matchers, c.c.ms...)
	return k
}

// test reports whether the value satisfies the condition. An exact string,
// the most common check, is compared here: most differ in length or first
// byte, which settles it without a call.
func (k *check) test(matchers []matcher, v *leaf, fold *[]byte) bool {
	if k.mLen == 1 {
		m := &matchers[k.mOff]
		if m.kind == mString {
			return v.kind == lkString && len(v.str) == len(m.s) && (len(v.str) == 0 || v.str[0] == m.s[0] && v.str == m.s)
		}
		return m.match(v, fold)
	}
	return matchAny(matchers[k.mOff:k.mOff+int32(k.mLen)], v, fold)
}

// fieldIndex holds the drivers on one field path.
type fieldIndex struct {
	// has says which of the structures below hold drivers, so that a probe
	// reads one word to learn where to look instead of a word in each: a
	// fieldIndex spans a dozen cache lines, and second-level ones, of
	// which there are many, are rarely in cache.
	has        fieldHas
	only       fieldHas // has, when it is one of hasStrs, hasPrefix and flat hasRanges alone: see probe
	strs       strIndex
	nums       map[float64][]posting
	lits       [3][]posting // true, false, null
	prefix     affixIndex
	suffix     affixIndex
	prefixFold affixIndex
	suffixFold affixIndex
	eqFold     strIndex
	ranges     rangeIndex
	present    []posting // drivers that any value at the path triggers
	needFold   bool
}

// build turns what the drivers added into the lookup structures.
// The range index is built before (see buildIndex), the rest here.
func (fi *fieldIndex) build() {
	fi.strs.build()
	fi.eqFold.build()
	fi.prefix.build(false)
	fi.suffix.build(true)
	fi.prefixFold.build(false)
	fi.suffixFold.build(true)
	fi.has = 0
	for _, h := range []struct {
		on  bool
		bit fieldHas
	}{
		{fi.strs.slots != nil, hasStrs},
		{fi.prefix.nodes != nil, hasPrefix},
		{fi.suffix.nodes != nil, hasSuffix},
		{fi.needFold, hasFold},
		{fi.nums != nil, hasNums},
		{fi.ranges.slots > 0, hasRanges},
		{len(fi.lits[0])+len(fi.lits[1])+len(fi.lits[2]) > 0, hasLits},
		{len(fi.present) > 0, hasPresent},
	} {
		if h.on {
			fi.has |= h.bit
		}
	}
}

// setOnly sets only, once the range index is flattened (or not): see
// buildIndex, which calls it for every field and second-level index.
func (fi *fieldIndex) setOnly() {
	fi.only = 0
	switch fi.has {
	case hasStrs, hasPrefix:
		fi.only = fi.has
	case hasRanges:
		if fi.ranges.flatOff != nil {
			fi.only = hasRanges
		}
	}
}

// fieldHas is a set of a fieldIndex's structures.
type fieldHas uint8

const (
	hasStrs fieldHas = 1 << iota
	hasPrefix
	hasSuffix
	hasFold // eqFold, prefixFold or suffixFold
	hasNums
	hasRanges
	hasLits
	hasPresent
)

// fieldStats counts, per field path, how often rules name each value. A
// field with few distinct values across all rules (ODD_EVEN: "E", "O") is
// probably one whose every value is common in events, a poor driver; a
// field with hundreds (STREET) makes a selective one — except for the
// values many rules name, which are named because they are common (the
// busiest street).
type fieldStats struct {
	exact    map[string]map[string]int // path → value → conditions naming it
	prefixes map[string]map[string]int // path → prefix or suffix → conditions naming it
	exactN   map[string]int            // path → conditions naming exact values
	prefixN  map[string]int
}

func collectStats(rules []Rule) fieldStats {
	st := fieldStats{exact: map[string]map[string]int{}, prefixes: map[string]map[string]int{}, exactN: map[string]int{}, prefixN: map[string]int{}}
	add := func(m map[string]map[string]int, n map[string]int, path, v string) {
		if m[path] == nil {
			m[path] = map[string]int{}
		}
		m[path][v]++
		n[path]++
	}
	for _, r := range rules {
		for _, alt := range r.Pattern.alts {
			for i := range alt {
				c := &alt[i]
				for j := range c.ms {
					m := &c.ms[j]
					switch m.kind {
					case mString, mEqualsFold:
						add(st.exact, st.exactN, c.path, "s"+m.s)
					case mStringSet:
						for v := range m.set {
							add(st.exact, st.exactN, c.path, "s"+v)
						}
					case mNumber:
						add(st.exact, st.exactN, c.path, fmt.Sprint("n", m.num))
					case mTrue, mFalse, mNull:
						add(st.exact, st.exactN, c.path, fmt.Sprint("l", m.kind))
					case mPrefix, mPrefixFold, mSuffix, mSuffixFold:
						add(st.prefixes, st.prefixN, c.path, fmt.Sprint(m.kind, m.s))
					}
				}
			}
		}
	}
	return st
}

// valueRate estimates the share of events holding value v at a field: at
// least one over the distinct values rules name there, more for a value
// many rules name.
func valueRate(counts map[string]int, total int, v string, floor int) float64 {
	uniform := 1 / float64(max(len(counts), floor))
	if total == 0 {
		return uniform
	}
	return max(uniform, float64(counts[v])/float64(total))
}

// condRate estimates the share of events holding a value that satisfies c,
// and reports whether c can drive its alternative.
func (st fieldStats) condRate(c *condition) (float64, bool) {
	if c.absentOK {
		return 1, false
	}
	rate, ok := 0.0, true
	for i := range c.ms {
		r, mok := st.hitRate(c.path, &c.ms[i])
		rate += r
		ok = ok && mok
	}
	return min(rate, 1), ok
}

// splitGroup names the alternatives that an exact value at a path would
// drive and a second-level index would hold by a second path.
type splitGroup struct{ path, value, second string }

// likelySplits counts, for every exact value, the alternatives it could
// drive, by the path their second-level index would use. A value many
// rules name (the busiest street) is common in events and so a poor
// driver, which is why valueRate ranks it low, except when at least
// groupMin of its alternatives can be held again by one more field: split
// then makes an event holding the value probe that second index, and few
// of those alternatives become candidates. Without this, a short prefix
// or a value of a few rules drives those alternatives instead, and
// candidates that fail the popular value's check pile up (at 10,000
// subscriptions, 0.6 per event failing STREET where a street number's
// prefix was the driver).
func (st fieldStats) likelySplits(rules []Rule) map[splitGroup]int {
	n := map[splitGroup]int{}
	for _, r := range rules {
		for _, alt := range r.Pattern.alts {
			for ci := range alt {
				if v, second := st.splitKey(alt, ci); second != "" {
					n[splitGroup{alt[ci].path, v, second}]++
				}
			}
		}
	}
	return n
}

// splitKey returns, when condition ci of alt is one exact string, that
// value and the path of the condition a second-level index would hold
// the alternative by if ci drove it (the most selective other condition
// that can be indexed exactly); else second is "".
func (st fieldStats) splitKey(alt []condition, ci int) (value, second string) {
	c := &alt[ci]
	if len(c.ms) != 1 || c.ms[0].kind != mString || c.absentOK {
		return "", ""
	}
	best := math.Inf(1)
	for j := range alt {
		if j == ci || !exactlyIndexable(&alt[j]) {
			continue
		}
		if r, _ := st.condRate(&alt[j]); r < best {
			best, second = r, alt[j].path
		}
	}
	return "s" + c.ms[0].s, second
}

// hitRate estimates the share of events a matcher's index entry is hit by.
func (st fieldStats) hitRate(path string, m *matcher) (rate float64, indexable bool) {
	exact := func(v string) float64 { return valueRate(st.exact[path], st.exactN[path], v, 2) }
	switch m.kind {
	case mString, mEqualsFold:
		return exact("s" + m.s), true
	case mNumber:
		return exact(fmt.Sprint("n", m.num)), true
	case mTrue, mFalse, mNull:
		return exact(fmt.Sprint("l", m.kind)), true
	case mStringSet:
		r := 0.0
		for v := range m.set {
			r += exact("s" + v)
		}
		return min(1, r), true
	case mPrefix, mSuffix, mPrefixFold, mSuffixFold:
		if m.s == "" {
			return 1, true
		}
		// However few rules name it, a short affix is common in events:
		// one of n bytes is taken to hold for at least 8^-n of them, about
		// what digits and letters give.
		return max(valueRate(st.prefixes[path], st.prefixN[path], fmt.Sprint(m.kind, m.s), 4), math.Pow(1.0/8, float64(len(m.s)))), true
	case mWildcard:
		p := m.wc.parts
		return 0.3, p[0] != "" || p[len(p)-1] != ""
	case mNumeric:
		if m.rng.lo == m.rng.hi {
			return exact(fmt.Sprint("n", m.rng.lo)), true
		}
		return 0.25, true
	}
	return 1, false
}

func buildIndex(rules []Rule) *index {
	ix := &index{root: &pathNode{field: -1}, nodes: 1}
	fieldOf := func(keys []string) int32 {
		n := ix.root
		for _, k := range keys {
			c := n.children[k]
			if c == nil {
				if n.children == nil {
					n.children = map[string]*pathNode{}
				}
				c = &pathNode{id: int32(ix.nodes), field: -1}
				ix.nodes++
				n.children[k] = c
			}
			n = c
		}
		if n.field < 0 {
			n.field = int32(len(ix.fields))
			ix.fields = append(ix.fields, &fieldIndex{})
		}
		return n.field
	}
	st := collectStats(rules)
	splits := st.likelySplits(rules)
	for ri, r := range rules {
		for ai := range r.Pattern.alts {
			alt := r.Pattern.alts[ai]
			id := int32(len(ix.alts))
			info := altInfo{rule: int32(ri)}
			var absentOnly []acond
			driver, best := -1, math.Inf(1)
			presence := -1
			rates := make([]float64, 0, len(alt))
			for ci := range alt {
				c := &alt[ci]
				ac := acond{field: fieldOf(c.keys), c: c}
				if len(c.ms) == 0 {
					absentOnly = append(absentOnly, ac)
					continue
				}
				rate, ok := st.condRate(c)
				info.conds = append(info.conds, ac)
				rates = append(rates, rate)
				if c.absentOK {
					continue
				}
				if presence < 0 {
					presence = len(info.conds) - 1
				}
				if v, second := st.splitKey(alt, ci); second != "" && splits[splitGroup{c.path, v, second}] >= groupMin {
					// A popular value is a fine driver for alternatives
					// that a second-level index will hold by another
					// field: see likelySplits.
					rate = valueRate(st.exact[c.path], 0, v, 2) // as rare as any other value
				}
				if ok && rate < best {
					driver, best = len(info.conds)-1, rate
				}
			}
			// Evaluate the most selective conditions first: a candidate
			// that fails, fails fast.
			order := make([]int, len(info.conds))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return rates[order[a]] < rates[order[b]] })
			sorted := make([]acond, 0, len(info.conds)+len(absentOnly))
			for _, i := range order {
				sorted = append(sorted, info.conds[i])
			}
			for i, o := range order {
				if o == driver {
					driver = i
					break
				}
			}
			for i, o := range order {
				if o == presence {
					presence = i
					break
				}
			}
			info.conds = append(sorted, absentOnly...)
			p := posting{alt: id, rule: int32(ri)}
			info.driver = int16(driver)
			switch {
			case driver >= 0:
				c := info.conds[driver]
				p.exact, p.sure = true, len(alt) == 1
				addDriver(ix.fields[c.field], c, p)
			case presence >= 0:
				fi := ix.fields[info.conds[presence].field]
				fi.present = append(fi.present, p)
			default:
				ix.always = append(ix.always, p)
			}
			ix.alts = append(ix.alts, info)
		}
	}
	ix.subs = make([]subIndex, 1)
	for _, fi := range ix.fields {
		fi.ranges.build()
		fi.mapLists(ix.split)
		fi.build()
	}
	for f, fi := range ix.fields {
		if fi.has != 0 { // else the field's values are only checked
			ix.probed = append(ix.probed, int32(f))
		}
	}
	ix.layOutChecks()
	for _, fi := range ix.fields {
		fi.ranges.flatten()
		fi.setOnly()
	}
	for _, sub := range ix.subs[1:] {
		sub.fi.ranges.flatten()
		sub.fi.setOnly()
	}
	ix.root.finish()
	return ix
}

// layOutChecks writes the checks of every posting, list by list, so that
// the checks of one list's postings lie together.
func (ix *index) layOutChecks() {
	shared := map[matcherKey]int32{}
	inSub := false
	add := func(ps []posting) []posting {
		for i := range ps {
			p := &ps[i]
			if p.alt < 0 {
				continue
			}
			info := &ix.alts[p.alt]
			drv, drv2 := -1, -1
			if p.exact {
				drv = int(info.driver)
				if inSub {
					drv2 = ix.secondCond(info)
				}
			}
			p.checks, p.nchecks = int32(len(ix.checks)), 0
			for j, c := range info.conds {
				if j == drv || j == drv2 {
					continue // proven by the hits that lead here
				}
				if k := ix.newCheck(c, shared); p.nchecks == 0 {
					p.first = k
				} else {
					ix.checks = append(ix.checks, k)
				}
				p.nchecks++
			}
		}
		return ps
	}
	for _, fi := range ix.fields {
		fi.mapLists(add)
	}
	add(ix.always)
	inSub = true
	for _, sub := range ix.subs[1:] {
		sub.fi.mapLists(add)
	}
}

// secondCond returns the condition of an alternative that a second-level
// index would hold it by: the most selective one after its driver that can
// be indexed exactly, or -1.
func (ix *index) secondCond(info *altInfo) int {
	for j, ac := range info.conds {
		if j != int(info.driver) && exactlyIndexable(ac.c) {
			return j
		}
	}
	return -1
}

// Splitting long posting lists. Many rules can name one popular value (the
// busiest street, a common source): every event holding it would make all
// of them candidates. A list of at least splitMin postings is split by each
// alternative's next most selective condition that can be indexed: the
// alternatives sharing that condition's field, when at least groupMin, go
// into a second-level index on it, probed with the event's values there
// when the driver value hits.
//
// A second-level index is a fieldIndex of its own, hundreds of bytes and
// cache lines away from everything else, so a group of two or three is
// cheaper checked as candidates: with 10,000 subscriptions, groupMin 4
// instead of 2 leaves 150 second-level indexes instead of 952 (the index
// ~600 KB smaller) for 1,800 more checks, and matching an event takes
// about 5% less time (3% less for the dense rules).
const (
	splitMin = 2
	groupMin = 4
)

// split returns ps with the groups worth a second-level index replaced by
// one posting that leads to it.
func (ix *index) split(ps []posting) []posting {
	if len(ps) < splitMin {
		return ps
	}
	type entry struct {
		p posting
		c int // the condition to index the alternative by
	}
	groups := map[int32][]entry{}
	var out []posting
	for _, p := range ps {
		c := -1
		if p.exact && !p.sure && p.alt >= 0 {
			c = ix.secondCond(&ix.alts[p.alt])
		}
		if c < 0 {
			out = append(out, p)
			continue
		}
		f := ix.alts[p.alt].conds[c].field
		groups[f] = append(groups[f], entry{p, c})
	}
	for _, f := range slices.Sorted(maps.Keys(groups)) {
		g := groups[f]
		if len(g) < groupMin {
			for _, e := range g {
				out = append(out, e.p)
			}
			continue
		}
		fi := &fieldIndex{}
		for _, e := range g {
			addDriver(fi, ix.alts[e.p.alt].conds[e.c], e.p)
		}
		fi.ranges.build()
		fi.build()
		out = append(out, posting{alt: -int32(len(ix.subs))})
		ix.subs = append(ix.subs, subIndex{field: f, fi: fi})
	}
	return out
}

// exactlyIndexable reports whether every value of c can be indexed so that
// a hit proves it: what a second-level index may hold.
func exactlyIndexable(c *condition) bool {
	if c.absentOK || len(c.ms) == 0 {
		return false
	}
	for i := range c.ms {
		switch c.ms[i].kind {
		case mString, mStringSet, mNumber, mTrue, mFalse, mNull,
			mPrefix, mSuffix, mPrefixFold, mSuffixFold, mEqualsFold, mNumeric:
		default:
			return false
		}
	}
	return true
}

// mapLists replaces every posting list of the field by f's result. Before
// build it reaches the lists as drivers added them; after, each built
// table's lists as one.
func (fi *fieldIndex) mapLists(f func([]posting) []posting) {
	for _, x := range []*strIndex{&fi.strs, &fi.eqFold} {
		for k, ps := range x.pending {
			x.pending[k] = f(ps)
		}
		if x.posts != nil {
			x.posts = f(x.posts)
		}
	}
	for _, a := range []*affixIndex{&fi.prefix, &fi.suffix, &fi.prefixFold, &fi.suffixFold} {
		a.mapLists(f)
	}
	for k, ps := range fi.nums {
		fi.nums[k] = f(ps)
	}
	for i := range fi.lits {
		fi.lits[i] = f(fi.lits[i])
	}
	for i := range fi.ranges.tree {
		fi.ranges.tree[i] = f(fi.ranges.tree[i])
	}
	fi.present = f(fi.present)
}

// addDriver indexes every value of the driver condition c for posting p.
func addDriver(fi *fieldIndex, c acond, p posting) {
	for i := range c.c.ms {
		m := &c.c.ms[i]
		switch m.kind {
		case mString:
			fi.strs.add(m.s, p)
		case mStringSet:
			for v := range m.set {
				fi.strs.add(v, p)
			}
		case mNumber:
			if fi.nums == nil {
				fi.nums = map[float64][]posting{}
			}
			fi.nums[m.num] = append(fi.nums[m.num], p)
		case mTrue, mFalse, mNull:
			k := int(m.kind - mTrue)
			fi.lits[k] = append(fi.lits[k], p)
		case mPrefix:
			fi.prefix.add(m.s, p)
		case mSuffix:
			fi.suffix.add(m.s, p)
		case mPrefixFold:
			fi.prefixFold.add(m.s, p)
			fi.needFold = true
		case mSuffixFold:
			fi.suffixFold.add(m.s, p)
			fi.needFold = true
		case mEqualsFold:
			fi.eqFold.add(m.s, p)
			fi.needFold = true
		case mWildcard:
			// The literal start or end narrows the candidates; the whole
			// expression is checked when the alternative is evaluated.
			q := p
			q.exact, q.sure = false, false
			if pre := m.wc.parts[0]; pre != "" {
				fi.prefix.add(pre, q)
			} else {
				fi.suffix.add(m.wc.parts[len(m.wc.parts)-1], q)
			}
		case mNumeric:
			if m.rng.lo == m.rng.hi {
				if fi.nums == nil {
					fi.nums = map[float64][]posting{}
				}
				fi.nums[m.rng.lo] = append(fi.nums[m.rng.lo], p)
			} else {
				fi.ranges.add(m.rng, p)
			}
		}
	}
}

// rangeIndex answers "which intervals contain x" in O(log n + hits) with a
// segment tree over the elementary slots that the interval ends cut the
// number line into: with the m distinct ends in ascending order, slot 2j+1
// is the point end j, slot 2j the open gap below it, slot 2m everything
// above the last end.
//
// When copying costs little memory, flatten also lays out, slot after slot,
// every posting of the ranges holding each slot: a probe then reads one
// list instead of one per level of the tree, each a likely cache miss.
type rangeIndex struct {
	pending []pendingRange
	keys    []uint64 // orderKey of each interval end, ascending, for slot
	tree    [][]posting
	slots   int
	flat    []posting // slot i's postings are flat[flatOff[i]:flatOff[i+1]]
	flatOff []int32   // nil when the tree is probed
}

// flatCopies bounds flat: at most this many postings per posting held in
// the tree, plus flatSlack. A few ranges, or many that overlap little,
// stay well under it; thousands of nested ones (x > 1, x > 2, ...) would
// need a copy per pair and keep the tree.
const (
	flatCopies = 4
	flatSlack  = 256
)

type pendingRange struct {
	r numRange
	p posting
}

func (ri *rangeIndex) add(r numRange, p posting) {
	ri.pending = append(ri.pending, pendingRange{r, p})
}

func (ri *rangeIndex) build() {
	if len(ri.pending) == 0 {
		return
	}
	var ends []float64
	for _, pr := range ri.pending {
		if !math.IsInf(pr.r.lo, 0) {
			ends = append(ends, pr.r.lo)
		}
		if !math.IsInf(pr.r.hi, 0) {
			ends = append(ends, pr.r.hi)
		}
	}
	sort.Float64s(ends)
	ends = slices.Compact(ends)
	ri.keys = make([]uint64, len(ends))
	for i, e := range ends {
		ri.keys[i] = orderKey(e)
	}
	ri.slots = 2*len(ends) + 1
	ri.tree = make([][]posting, 4*ri.slots)
	for _, pr := range ri.pending {
		a, b := 0, ri.slots-1
		if !math.IsInf(pr.r.lo, 0) {
			if a = ri.slot(pr.r.lo); !pr.r.loIncl {
				a++
			}
		}
		if !math.IsInf(pr.r.hi, 0) {
			if b = ri.slot(pr.r.hi); !pr.r.hiIncl {
				b--
			}
		}
		if a <= b {
			ri.insert(1, 0, ri.slots-1, a, b, pr.p)
		}
	}
	ri.pending = nil
}

func (ri *rangeIndex) insert(node, lo, hi, a, b int, p posting) {
	if a <= lo && hi <= b {
		ri.tree[node] = append(ri.tree[node], p)
		return
	}
	mid := (lo + hi) / 2
	if a <= mid {
		ri.insert(2*node, lo, mid, a, b, p)
	}
	if b > mid {
		ri.insert(2*node+1, mid+1, hi, a, b, p)
	}
}

// flatten lays out flat when it stays within bounds. It runs once the
// tree's lists are final (split and layOutChecks have run).
func (ri *rangeIndex) flatten() {
	if ri.slots == 0 {
		return
	}
	held := 0
	for _, ps := range ri.tree {
		held += len(ps)
	}
	limit := flatCopies*held + flatSlack
	var flat []posting
	off := make([]int32, 0, ri.slots+1)
	for slot := range ri.slots {
		off = append(off, int32(len(flat)))
		ri.walk(slot, func(ps []posting) { flat = append(flat, ps...) })
		if len(flat) > limit {
			return
		}
	}
	ri.flat, ri.flatOff = flat, append(off, int32(len(flat)))
	ri.tree = nil // probes read flat
}

// walk calls f with each non-empty list on the way from the root to the
// leaf of slot: the postings of every range holding the slot.
func (ri *rangeIndex) walk(slot int, f func([]posting)) {
	node, lo, hi := 1, 0, ri.slots-1
	for {
		if ps := ri.tree[node]; len(ps) > 0 {
			f(ps)
		}
		if lo == hi {
			return
		}
		mid := (lo + hi) / 2
		if slot <= mid {
			node, hi = 2*node, mid
		} else {
			node, lo = 2*node+1, mid+1
		}
	}
}

// slot returns the elementary slot holding x.
//
// The search halves the range without a branch: where x falls among the
// ends varies from event to event, and a branch on it is mispredicted
// every other step. It compares the ends' order keys (see orderKey),
// integers, so that the comparison's borrow can pick the half.
func (ri *rangeIndex) slot(x float64) int {
	e := ri.keys
	if len(e) == 0 {
		return 0
	}
	k := orderKey(x)
	base, n := 0, len(e)
	for n > 1 {
		half := n >> 1
		_, below := stdbits.Sub64(e[base+half-1], k, 0) // 1 when that end < k
		base += half & -int(below)
		n -= half
	}
	// e[:base] < k; e[base] is the only end left that may not be.
	if e[base] < k {
		return 2*base + 2
	}
	if e[base] == k {
		return 2*base + 1
	}
	return 2 * base
}

// orderKey maps a float64 other than NaN to an integer that orders as the
// number does: the sign bit flipped for positive numbers, every bit for
// negative ones, and -0 taken as 0.
func orderKey(x float64) uint64 {
	b := math.Float64bits(x + 0) // -0 + 0 is 0
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}
