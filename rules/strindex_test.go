package rules

import (
	"fmt"
	"strings"
	"testing"
)

// The table compares keys by length, 16 inline bytes and the tail: keys
// alike in all but one of these must still be told apart.
func TestStrIndexTellsKeysApart(t *testing.T) {
	long := strings.Repeat("k", 16)
	keys := []string{"", "\x00", "\x00\x00", "a", "a\x00", "ab", long, long + "x", long + "y", long + "xy",
		long[:15], long[:15] + "\x00", strings.Repeat("z", 40), strings.Repeat("z", 39) + "y", "é", "日本"}
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("key-%d", i), fmt.Sprintf("%s-%d", long, i))
	}
	var x strIndex
	for i, k := range keys {
		for j := 0; j <= i%3; j++ { // lists of one, two and three postings
			x.add(k, posting{alt: int32(i), rule: int32(j)})
		}
	}
	x.build()
	for i, k := range keys {
		ps := x.get(k)
		if len(ps) != i%3+1 {
			t.Fatalf("%q: %d postings, want %d", k, len(ps), i%3+1)
		}
		for j, p := range ps {
			if p.alt != int32(i) || p.rule != int32(j) {
				t.Fatalf("%q: posting %d is %+v", k, j, p)
			}
		}
	}
	for _, k := range []string{"b", "\x00\x00\x00", long + "z", long + "x\x00", strings.Repeat("z", 41), "key-300", "Key-1", "日"} {
		if ps := x.get(k); ps != nil {
			t.Errorf("%q: absent key found %+v", k, ps)
		}
	}
	var empty strIndex
	empty.build()
	if empty.get("a") != nil {
		t.Error("empty table found a key")
	}
}

// Keys longer than 16 bytes that differ only between their first and last
// eight bytes (ARNs, paths) must still spread over the table: a probe may
// not have to pass most of them.
func TestStrIndexSpreadsLongKeysAlikeAtTheEnds(t *testing.T) {
	var x strIndex
	for i := range 2000 {
		x.add(fmt.Sprintf("arn:aws:%08d:function:prod", i), posting{alt: int32(i)})
	}
	x.build()
	longest, run := 0, 0
	for i := range 2 * len(x.slots) { // runs may wrap around the end
		if x.slots[i%len(x.slots)].used() {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest > 64 {
		t.Errorf("a run of %d occupied slots among %d: long keys cluster", longest, len(x.slots))
	}
}
