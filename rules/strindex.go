package rules

import (
	"hash/maphash"
	"maps"
	"math/bits"
	"slices"
)

// strIndex is a read-only hash table from strings to posting lists, built
// once when the table is. Matching probes it for every named string value
// of every event, so it is laid out for few cache misses: slots in one
// array carry a hash tag, keys lie back to back in one byte array and
// posting lists back to back in one posting array, each list followed in
// memory by the next key's (and their checks, see layOutChecks, in the
// same order).
type strIndex struct {
	pending map[string][]posting // while building
	slots   []strSlot            // power-of-two length, at most half full
	keys    []byte
	posts   []posting
	seed    maphash.Seed
}

type strSlot struct {
	tag     uint32 // the hash's low bits with the lowest set; 0: empty slot
	keyOff  uint32
	keyLen  uint32
	postOff uint32
	postLen uint32
}

func (x *strIndex) add(key string, p posting) {
	if x.pending == nil {
		x.pending = map[string][]posting{}
	}
	x.pending[key] = append(x.pending[key], p)
}

// build turns the pending lists into the table.
func (x *strIndex) build() {
	if len(x.pending) == 0 {
		x.pending = nil
		return
	}
	x.seed = maphash.MakeSeed()
	n := 1 << bits.Len(uint(2*len(x.pending)-1))
	x.slots = make([]strSlot, n)
	mask := uint64(n - 1)
	for _, k := range slices.Sorted(maps.Keys(x.pending)) {
		ps := x.pending[k]
		h := maphash.String(x.seed, k)
		i := (h >> 32) & mask
		for x.slots[i].tag != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = strSlot{
			tag:    uint32(h) | 1,
			keyOff: uint32(len(x.keys)), keyLen: uint32(len(k)),
			postOff: uint32(len(x.posts)), postLen: uint32(len(ps)),
		}
		x.keys = append(x.keys, k...)
		x.posts = append(x.posts, ps...)
	}
	x.pending = nil
}

// get returns the postings of key, nil if it has none.
func (x *strIndex) get(key string) []posting {
	if x.slots == nil {
		return nil
	}
	h := maphash.String(x.seed, key)
	tag := uint32(h) | 1
	mask := uint64(len(x.slots) - 1)
	for i := (h >> 32) & mask; ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if sl.tag == 0 {
			return nil
		}
		if sl.tag == tag && int(sl.keyLen) == len(key) && bytesString(x.keys[sl.keyOff:sl.keyOff+sl.keyLen]) == key {
			return x.posts[sl.postOff : sl.postOff+sl.postLen]
		}
	}
}

// affixIndex finds the prefixes (or suffixes) of a value among a set: one
// table per distinct affix length, so that the short affixes' small tables
// stay in cache.
type affixIndex struct {
	byLen []affixLen // ascending length
}

type affixLen struct {
	n int
	x strIndex
}

func (a *affixIndex) add(s string, p posting) {
	i, found := slices.BinarySearchFunc(a.byLen, len(s), func(e affixLen, n int) int { return e.n - n })
	if !found {
		a.byLen = slices.Insert(a.byLen, i, affixLen{n: len(s)})
	}
	a.byLen[i].x.add(s, p)
}

func (a *affixIndex) build() {
	for i := range a.byLen {
		a.byLen[i].x.build()
	}
}
