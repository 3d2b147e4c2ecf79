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

	// The event's leaf values at the paths the patterns name.
	leaves     []leafRec
	fieldHead  []int32 // first leaf of each field, valid when fieldStamp matches
	fieldStamp []stamp
	mem        []arrayPos // array positions of every leaf, leafRec.mem* slices it
	stack      []arrayPos // positions of the value being walked
	arrays     int32      // arrays seen so far in this event
	nodeSeen   []uint32   // per path node: the object visit that saw its key
	visits     uint32
	arena      []byte // decoded strings that held escapes, and folded values being probed

	// Candidates and results.
	subs     []subIndex // the index's, for hits
	checks   []check    // the index's, for hits
	matchers []matcher  // the index's, for checks
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
	field          int32
	next           int32 // next leaf of the same field, or -1
	memOff, memLen int32
}

// arrayPos says a value lies in element idx of the event's array number arr.
type arrayPos struct {
	arr, idx int32
}

func newMatchState(ix *index) *matchState {
	return &matchState{
		fieldHead:  make([]int32, len(ix.fields)),
		fieldStamp: make([]stamp, len(ix.fields)),
		nodeSeen:   make([]uint32, ix.nodes),
		altStamp:   make([]stamp, len(ix.alts)),
	}
}

// match returns the indexes of the matching rules, ascending. The slice is
// the state's own and valid until its next use.
func (s *matchState) match(ix *index, event []byte) []int32 {
	s.reset(ix)
	if !s.walkEvent(ix, bytesString(event)) {
		return s.matched // not an event: nothing matches, not even exists:false
	}
	// Drivers are looked up once the walk is over, so that a second-level
	// index can read the values of its field wherever they stood. They are
	// looked up field by field in a fixed order, not in the event's order:
	// the branches taken then repeat from one event to the next, which the
	// processor predicts far better (which fields an event holds, and in
	// what order, varies).
	s.subs, s.checks, s.matchers = ix.subs, ix.checks, ix.matchers
	for _, f := range ix.probed {
		if s.fieldStamp[f] != s.gen {
			continue
		}
		fi := ix.fields[f]
		for i := s.fieldHead[f]; i >= 0; i = s.leaves[i].next {
			s.probe(fi, &s.leaves[i].leaf)
		}
	}
	// The candidates hits queued (only in events with arrays), then the
	// alternatives that hold without any driver value.
	for _, cands := range [2][]posting{s.cands, ix.always} {
		for i := range cands {
			c := &cands[i]
			var ok bool
			if s.arrays == 0 {
				ok = s.evalChecks(ix.checks[c.checks : c.checks+int32(c.nchecks)])
			} else {
				ok = s.eval(ix.alts[c.alt].conds)
			}
			if ok {
				s.matched = append(s.matched, c.rule)
			}
		}
	}
	if len(s.matched) > 1 {
		// A rule is in once for each of its alternatives that holds.
		// Removing the copies here costs less than marking every matched
		// rule: a mark is one more random read per hit.
		slices.Sort(s.matched)
		s.matched = slices.Compact(s.matched)
	}
	return s.matched
}

func (s *matchState) reset(ix *index) {
	s.gen++
	if s.gen == 0 { // wrapped: old stamps could collide
		clear(s.fieldStamp)
		clear(s.altStamp)
		s.gen = 1
	}
	s.leaves = s.leaves[:0]
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
			s.probeSub(&s.subs[-p.alt])
			continue
		}
		if s.altStamp[p.alt] == s.gen {
			continue
		}
		s.altStamp[p.alt] = s.gen
		switch {
		case s.arrays != 0 && !p.sure:
			// Values that different hits proved might lie in different
			// elements of one array: the alternative is evaluated whole
			// once every hit is in.
			s.cands = append(s.cands, *p)
		case p.sure || s.evalChecks(s.checks[p.checks:p.checks+int32(p.nchecks)]):
			// Without arrays every value stands alone: what the hits that
			// led here proved holds, and the rest is checked now, while the
			// posting is at hand.
			s.matched = append(s.matched, p.rule)
		}
	}
}

// addLeaf records a leaf value of a named field. The record is written in
// place, not built and copied: with thousands of patterns nearly every value
// an event holds is recorded.
func (s *matchState) addLeaf(n *pathNode, v leaf) {
	f := n.field
	if f < 0 {
		return
	}
	at := int32(len(s.leaves))
	if s.fieldStamp[f] == s.gen {
		// Append at the tail so leaves keep document order.
		i := s.fieldHead[f]
		for s.leaves[i].next >= 0 {
			i = s.leaves[i].next
		}
		s.leaves[i].next = at
	} else {
		s.fieldStamp[f] = s.gen
		s.fieldHead[f] = at
	}
	if len(s.leaves) < cap(s.leaves) {
		s.leaves = s.leaves[:at+1]
	} else {
		s.leaves = append(s.leaves, leafRec{})
	}
	r := &s.leaves[at]
	r.leaf = v
	r.field, r.next = f, -1
	r.memOff, r.memLen = int32(len(s.mem)), int32(len(s.stack))
	if len(s.stack) > 0 {
		s.mem = append(s.mem, s.stack...)
	}
}

func (s *matchState) probe(fi *fieldIndex, v *leaf) {
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
			ri := &fi.ranges
			if slot := ri.slot(v.num); ri.flatOff != nil {
				s.hits(ri.flat[ri.flatOff[slot]:ri.flatOff[slot+1]])
			} else {
				ri.walk(slot, s.hits)
			}
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

// probeSub looks the values of a second-level index's field up in it.
func (s *matchState) probeSub(sub *subIndex) {
	if s.fieldStamp[sub.field] != s.gen {
		return
	}
	for i := s.fieldHead[sub.field]; i >= 0; i = s.leaves[i].next {
		s.probe(sub.fi, &s.leaves[i].leaf)
	}
}

// eval decides one alternative against the recorded leaves: every condition
// needs a matching value, and values taken from objects inside the same
// event array must come from the same element (array consistency).
// evalChecks is eval for an event whose walked part holds no array: every
// field then has at most one value, and array consistency cannot fail.
func (s *matchState) evalChecks(checks []check) bool {
	for i := range checks {
		c := &checks[i]
		if s.fieldStamp[c.field] != s.gen {
			if !c.absentOK {
				return false
			}
			continue
		}
		if !c.test(s.matchers, &s.leaves[s.fieldHead[c.field]].leaf, &s.fold) {
			return false // a value is there, so exists:false cannot help
		}
	}
	return true
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
	if s.fieldStamp[c.field] == s.gen {
		for i := s.fieldHead[c.field]; i >= 0; i = s.leaves[i].next {
			l := &s.leaves[i]
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
		if s.fieldStamp[f] != s.gen {
			continue
		}
		for i := s.fieldHead[f]; i >= 0; i = s.leaves[i].next {
			if s.consistent(&s.leaves[i]) {
				return false
			}
		}
	}
	return true
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
