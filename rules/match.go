package rules

import (
	"slices"
	"unsafe"
)

// matchState is the scratch space of one Match call. Tables keep a pool of
// them so that matching allocates nothing in steady state; every per-event
// mark is a stamp compared with gen, so nothing needs clearing between events.
type matchState struct {
	gen stamp

	// The event's leaf values at the paths the patterns name: each field's
	// first in first, valid when its gen matches (see leafOf), and further
	// ones (only inside arrays) in more, chained by next.
	first    []leafRec
	more     []leafRec
	mem      []arrayPos // array positions of every leaf, leafRec.mem* slices it
	stack    []arrayPos // positions of the value being walked
	arrays   int32      // arrays seen so far in this event
	nodeSeen []uint32   // per path node: the object visit that saw its key
	visits   uint32
	guess    []childKey // per path node, twice: the named keys that began its object and followed it last (see walkObject)
	arena    []byte     // decoded strings that held escapes, and folded values being probed

	// Candidates and results.
	ix       *index
	altStamp []stamp
	cands    []posting
	matched  []int32

	// Evaluation of one alternative.
	assign   []arrayPos // array positions the chosen values pin down
	deferred []int32    // fields that must hold no value consistent with assign
	fold     []byte
}

// stamp marks an entry as set for the event whose gen it holds.
type stamp uint32

// leafRec is a leaf value of the event with its place.
type leafRec struct {
	leaf
	gen            stamp // in first: the event it was recorded for
	next           int32 // next leaf of the same field in more, or -1
	memOff, memLen int32
}

// arrayPos says a value lies in element idx of the event's array number arr.
type arrayPos struct {
	arr, idx int32
}

func newMatchState(ix *index) *matchState {
	return &matchState{
		first:    make([]leafRec, len(ix.fields)),
		nodeSeen: make([]uint32, ix.nodes),
		guess:    make([]childKey, 2*ix.nodes),
		altStamp: make([]stamp, len(ix.alts)),
	}
}

// match returns the indexes of the matching rules, ascending. The slice is
// the state's own and valid until its next use.
func (s *matchState) match(ix *index, event []byte) []int32 {
	s.reset(ix)
	s.ix = ix
	if !s.walkEvent(ix, bytesString(event)) {
		return s.matched // not an event: nothing matches, not even exists:false
	}
	// Drivers are looked up once the walk is over, so that a second-level
	// index can read the values of its field wherever they stood. They are
	// looked up field by field in a fixed order, not in the event's order:
	// the branches taken then repeat from one event to the next, which the
	// processor predicts far better (which fields an event holds, and in
	// what order, varies).
	for _, f := range ix.probed {
		fi := ix.fields[f]
		for l := s.leafOf(f); l != nil; l = s.next(l) {
			s.probe(fi, &l.leaf)
		}
	}
	// The candidates hits queued (only in events with arrays), then the
	// alternatives that hold without any driver value.
	if len(s.cands) > 0 {
		s.evalCands(s.cands)
	}
	if len(ix.always) > 0 {
		s.evalCands(ix.always)
	}
	if len(s.matched) > 1 {
		// A rule is in once for each of its alternatives that holds (in
		// events without arrays, for each hit that led to one). Removing
		// the copies here costs less than marking every matched rule or
		// hit alternative: a mark is one more random read per hit.
		slices.Sort(s.matched)
		s.matched = slices.Compact(s.matched)
	}
	return s.matched
}

// evalCands evaluates candidates in full.
func (s *matchState) evalCands(cands []posting) {
	for i := range cands {
		c := &cands[i]
		var ok bool
		if s.arrays == 0 {
			ok = s.checksHold(c)
		} else {
			ok = s.eval(s.ix.alts[c.alt].conds)
		}
		if ok {
			s.matched = append(s.matched, c.rule)
		}
	}
}

func (s *matchState) reset(ix *index) {
	s.gen++
	if s.gen == 0 { // wrapped: old stamps could collide
		for i := range s.first {
			s.first[i].gen = 0
		}
		clear(s.altStamp)
		s.gen = 1
	}
	s.more = s.more[:0]
	s.mem = s.mem[:0]
	s.stack = s.stack[:0]
	s.arena = s.arena[:0]
	s.arrays = 0
	s.cands = s.cands[:0]
	s.matched = s.matched[:0]
}

func (s *matchState) hits(ps []posting) {
	for i := range ps {
		p := &ps[i]
		if p.alt < 0 {
			s.probeSub(&s.ix.subs[-p.alt])
			continue
		}
		if s.arrays != 0 {
			// Each element of an array can hit an alternative again: it is
			// taken once. Values that different hits proved might lie in
			// different elements of one array, so unless the hit proves it
			// whole, the alternative is evaluated once every hit is in.
			if s.altStamp[p.alt] == s.gen {
				continue
			}
			s.altStamp[p.alt] = s.gen
			if !p.sure {
				s.cands = append(s.cands, *p)
				continue
			}
		}
		// Without arrays every value stands alone: what the hits that led
		// here proved holds, and the rest is checked now, while the posting
		// is at hand (nothing, for a posting in a second-level index whose
		// two hits proved both conditions). No stamp is needed: two hits
		// lead to one alternative only when two values of its driver hold
		// (a prefix and the exact string), and the rule listed twice is
		// compacted in match.
		if p.sure || s.checksHold(p) {
			s.matched = append(s.matched, p.rule)
		}
	}
}

// addLeaf records a leaf value of a named field. The record is written in
// place, not built and copied: with thousands of patterns nearly every value
// an event holds is recorded.
func (s *matchState) addLeaf(n *pathNode, v leaf) {
	if !s.addFirst(n, v) {
		s.addMore(&s.first[n.field], v)
	}
}

// addFirst is addLeaf for the usual case, a field's first value outside any
// array, and reports false for the others. It is short enough to be inlined
// into the walk, where it saves a call per named value.
func (s *matchState) addFirst(n *pathNode, v leaf) bool {
	f := n.field
	if f < 0 {
		return true // nothing to record
	}
	r := &s.first[f]
	if r.gen == s.gen || len(s.stack) > 0 {
		return false
	}
	*r = leafRec{leaf: v, gen: s.gen, next: -1}
	return true
}

// addMore records a leaf inside an array, or a further value of a field:
// r is the field's slot in first.
func (s *matchState) addMore(r *leafRec, v leaf) {
	if r.gen != s.gen {
		r.gen = s.gen
	} else {
		// Append at the tail so leaves keep document order.
		at := int32(len(s.more))
		s.more = append(s.more, leafRec{})
		tail := r
		for tail.next >= 0 {
			tail = &s.more[tail.next]
		}
		tail.next = at
		r = &s.more[at]
	}
	r.leaf, r.next = v, -1
	r.memOff, r.memLen = int32(len(s.mem)), int32(len(s.stack))
	s.mem = append(s.mem, s.stack...)
}

func (s *matchState) probe(fi *fieldIndex, v *leaf) {
	// Most fields, and nearly every second-level index, hold one kind of
	// driver: the structure is probed directly, without the tests below,
	// whose branches follow the event's values.
	switch fi.only {
	case hasStrs:
		if v.kind == lkString {
			s.hits(fi.strs.get(v.str))
		}
		return
	case hasPrefix:
		if v.kind == lkString {
			s.affix(&fi.prefix, v.str)
		}
		return
	case hasRanges:
		if v.kind == lkNumber {
			s.rangeHits(&fi.ranges, v.num)
		}
		return
	}
	has := fi.has
	switch v.kind {
	case lkString:
		if has&hasStrs != 0 {
			s.hits(fi.strs.get(v.str))
		}
		if has&hasPrefix != 0 {
			s.affix(&fi.prefix, v.str)
		}
		if has&hasSuffix != 0 {
			s.affix(&fi.suffix, v.str)
		}
		if has&hasFold != 0 {
			// Folded into the arena, not the fold scratch space: the hits
			// below may probe second-level indexes, which fold values too.
			start := len(s.arena)
			s.arena = foldCase(s.arena, v.str)
			folded := bytesString(s.arena[start:])
			s.hits(fi.eqFold.get(folded))
			if fi.prefixFold.nodes != nil {
				s.affix(&fi.prefixFold, folded)
			}
			if fi.suffixFold.nodes != nil {
				s.affix(&fi.suffixFold, folded)
			}
		}
	case lkNumber:
		if has&hasNums != 0 {
			s.hits(fi.nums[v.num])
		}
		if has&hasRanges != 0 {
			s.rangeHits(&fi.ranges, v.num)
		}
	case lkTrue, lkFalse, lkNull:
		if has&hasLits != 0 {
			s.hits(fi.lits[v.kind-lkTrue])
		}
	}
	if has&hasPresent != 0 {
		s.hits(fi.present)
	}
}

// rangeHits hits the postings of every range of ri that holds x: one
// flat list, or the lists on the way down the tree.
func (s *matchState) rangeHits(ri *rangeIndex, x float64) {
	if slot := ri.slot(x); ri.flatOff != nil {
		s.hits(ri.flat[ri.flatOff[slot]:ri.flatOff[slot+1]])
	} else {
		ri.walk(slot, s.hits)
	}
}

// probeSub looks the values of a second-level index's field up in it.
func (s *matchState) probeSub(sub *subIndex) {
	for l := s.leafOf(sub.field); l != nil; l = s.next(l) {
		s.probe(sub.fi, &l.leaf)
	}
}

// eval decides one alternative against the recorded leaves: every condition
// needs a matching value, and values taken from objects inside the same
// event array must come from the same element (array consistency).
// evalChecks is eval for an event whose walked part holds no array: every
// field then has at most one value, and array consistency cannot fail.
func (s *matchState) evalChecks(checks []check) bool {
	for i := range checks {
		if !s.holds(&checks[i]) {
			return false
		}
	}
	return true
}

// checksHold reports whether what is left to check of p's alternative
// holds, in an event without arrays.
func (s *matchState) checksHold(p *posting) bool {
	return p.nchecks == 0 || s.holds(&p.first) && (p.nchecks == 1 || s.evalChecks(s.ix.moreChecks(p)))
}

// holds reports whether check c holds in an event without arrays: the
// field's value passes it, or the field has none and c allows that (a
// value that fails cannot be saved by exists:false).
func (s *matchState) holds(c *check) bool {
	if l := &s.first[c.field]; l.gen == s.gen {
		return c.test(s.ix.matchers, &l.leaf, &s.fold)
	}
	return c.absentOK
}

func (s *matchState) eval(conds []acond) bool {
	s.assign = s.assign[:0]
	s.deferred = s.deferred[:0]
	return s.satisfy(conds)
}

func (s *matchState) satisfy(conds []acond) bool {
	if len(conds) == 0 {
		return s.absencesHold()
	}
	c := conds[0]
	mark := len(s.assign)
	for l := s.leafOf(c.field); l != nil; l = s.next(l) {
		if !s.consistent(l) || !matchAny(c.c.ms, &l.leaf, &s.fold) {
			continue
		}
		pos := s.mem[l.memOff : l.memOff+l.memLen]
		free := s.pinned(pos)
		if !free {
			s.assign = append(s.assign, pos...)
		}
		if s.satisfy(conds[1:]) {
			return true
		}
		s.assign = s.assign[:mark]
		if free {
			// A value that pins nothing new is at least as good as any
			// other choice: trying the rest cannot succeed where it failed.
			break
		}
	}
	if c.c.absentOK {
		s.deferred = append(s.deferred, c.field)
		if s.satisfy(conds[1:]) {
			return true
		}
		s.deferred = s.deferred[:len(s.deferred)-1]
	}
	return false
}

// absencesHold checks the deferred exists:false fields: none may hold a value
// consistent with the chosen array elements.
func (s *matchState) absencesHold() bool {
	for _, f := range s.deferred {
		for l := s.leafOf(f); l != nil; l = s.next(l) {
			if s.consistent(l) {
				return false
			}
		}
	}
	return true
}

// leafOf returns the first leaf of field f, or nil if the event has none.
func (s *matchState) leafOf(f int32) *leafRec {
	if l := &s.first[f]; l.gen == s.gen {
		return l
	}
	return nil
}

// next returns the leaf after l of the same field, or nil.
func (s *matchState) next(l *leafRec) *leafRec {
	if l.next < 0 {
		return nil
	}
	return &s.more[l.next]
}

// consistent reports whether the leaf lies in the same element of every
// array that the values chosen so far lie in.
func (s *matchState) consistent(l *leafRec) bool {
	for _, p := range s.mem[l.memOff : l.memOff+l.memLen] {
		for _, q := range s.assign {
			if p.arr == q.arr && p.idx != q.idx {
				return false
			}
		}
	}
	return true
}

// pinned reports whether every position is already in assign.
func (s *matchState) pinned(pos []arrayPos) bool {
	for _, p := range pos {
		if !slices.Contains(s.assign, p) {
			return false
		}
	}
	return true
}

func matchAny(ms []matcher, v *leaf, fold *[]byte) bool {
	for i := range ms {
		if ms[i].match(v, fold) {
			return true
		}
	}
	return false
}

// bytesString views b as a string without copying; b must not change while
// the string is in use.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
