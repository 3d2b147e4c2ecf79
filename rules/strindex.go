package rules

import (
	"encoding/binary"
	"maps"
	"math/bits"
	"slices"
	"unsafe"
)

// strIndex is a read-only hash table from strings to posting lists, built
// once when the table is. Matching probes it for every named string value
// of every event, most of them absent, so a probe is made to cost little
// more than one cache line: the key's length and its first and last eight
// bytes lie in the slot (for keys of up to 16 bytes, the usual case, that
// is the whole key, compared without a call), the hash is computed inline
// from the same words, and posting lists lie back to back in one array,
// each followed by the next key's (and their checks, see layOutChecks, in
// the same order).
type strIndex struct {
	pending map[string][]posting // while building
	slots   []strSlot            // power-of-two length, at most half full
	long    []byte               // keys longer than 16 bytes, back to back
	posts   []posting
	seed    uint64
	shift   uint8 // 64 - log2(len(slots))
}

type strSlot struct {
	head, tail uint64 // keyWords of the key
	keyLen     uint32
	postLen    uint32 // 0: an empty slot (see used)
	postOff    uint32
	longOff    uint32 // where a key longer than 16 bytes lies in long
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
	// A fixed seed keeps a table's layout, and so its speed, the same from
	// run to run. Only rules add keys, so events cannot flood a table;
	// they can only probe it.
	x.seed = 0x9e3779b97f4a7c15
	lg := bits.Len(uint(2*len(x.pending) - 1))
	x.slots = make([]strSlot, 1<<lg)
	x.shift = uint8(64 - lg)
	mask := uint64(len(x.slots) - 1)
	for _, k := range slices.Sorted(maps.Keys(x.pending)) {
		ps := x.pending[k]
		head, tail := keyWords(k)
		i := strHash(head, tail, len(k), middleHash(k, x.seed)) >> x.shift
		for x.slots[i].used() {
			i = (i + 1) & mask
		}
		x.slots[i] = strSlot{
			head: head, tail: tail, keyLen: uint32(len(k)),
			postOff: uint32(len(x.posts)), postLen: uint32(len(ps)),
			longOff: uint32(len(x.long)),
		}
		if len(k) > 16 {
			x.long = append(x.long, k...)
		}
		x.posts = append(x.posts, ps...)
	}
	x.pending = nil
}

// used tells a slot holding a key from an empty one: every key has at
// least one posting.
func (sl *strSlot) used() bool { return sl.postLen != 0 }

// get returns the postings of key, nil if it has none. Keys of up to 16
// bytes, nearly all, are looked up without a call, so that the lookup
// keeps its values in registers; longer ones go to getLong.
func (x *strIndex) get(key string) []posting {
	if x.slots == nil {
		return nil
	}
	if len(key) > 16 {
		return x.getLong(key)
	}
	head, tail := keyWords(key)
	mask := uint64(len(x.slots) - 1)
	for i := strHash(head, tail, len(key), x.seed) >> x.shift; ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if !sl.used() {
			return nil
		}
		if sl.head == head && sl.tail == tail && int(sl.keyLen) == len(key) {
			return x.posts[sl.postOff : sl.postOff+sl.postLen]
		}
	}
}

// getLong is get for a key longer than 16 bytes: the same probe, with the
// bytes between the key's words hashed and compared too. The loop is
// get's, written twice so that get's makes no call (a call in it made the
// compiler keep its values on the stack).
//
//go:noinline
func (x *strIndex) getLong(key string) []posting {
	head, tail := keyWords(key)
	mask := uint64(len(x.slots) - 1)
	for i := strHash(head, tail, len(key), middleHash(key, x.seed)) >> x.shift; ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if !sl.used() {
			return nil
		}
		if sl.head == head && sl.tail == tail && int(sl.keyLen) == len(key) && x.longKeyIs(sl, key) {
			return x.posts[sl.postOff : sl.postOff+sl.postLen]
		}
	}
}

// longKeyIs compares the rest of a key longer than 16 bytes.
func (x *strIndex) longKeyIs(sl *strSlot, key string) bool {
	return bytesString(x.long[sl.longOff:sl.longOff+sl.keyLen]) == key
}

// keyWords packs a string's bytes into two words that, with its length,
// identify it exactly when it is at most 16 bytes long: the first and last
// eight bytes (overlapping for 8 to 15), the first and last four (4 to 7),
// or the first, middle and last byte (1 to 3). Longer strings get their
// first and last eight bytes. The loads compile to single moves where the
// machine allows unaligned ones.
func keyWords(s string) (head, tail uint64) {
	n := len(s)
	b := unsafe.Slice(unsafe.StringData(s), n)
	switch {
	case n >= 8:
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		return uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1]), 0
	}
	return 0, 0
}

// strHash mixes a key's words and length into a hash whose high bits pick
// the slot. For a key longer than 16 bytes, seed must have the bytes
// between the words mixed in (middleHash).
func strHash(head, tail uint64, n int, seed uint64) uint64 {
	return mix(head^seed, tail^uint64(n)^0xbf58476d1ce4e5b9)
}

// middleHash mixes into h the bytes of key after its first eight, eight at
// a time, up to its last eight: none for a key of up to 16 bytes.
//
//go:noinline
func middleHash(key string, h uint64) uint64 {
	b := unsafe.Slice(unsafe.StringData(key), len(key))
	for i := 8; i < len(key)-8; i += 8 {
		h = mix(h^binary.LittleEndian.Uint64(b[i:]), 0xa0761d6478bd642f)
	}
	return h
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
