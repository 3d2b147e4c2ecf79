package rules

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The event walk reads the event's raw bytes once, front to back, and stops
// as soon as every key the patterns name has been seen. Values under keys no
// pattern names are skipped without being decoded; strings are decoded only
// when they hold escapes (into the state's arena, so nothing is allocated);
// numbers are parsed only when a pattern names their field.
//
// It is a purpose-built scanner rather than gjson's Result.ForEach, which
// must find the end of every nested object before handing it over, so that
// the objects patterns look into were scanned twice, and which decodes every
// value it passes. The walk's only promise for malformed JSON is that it
// does not panic; events are validated where they enter (ValidateEvent).

// walkDone is returned by a walk that stopped early because nothing the
// patterns name can follow: the callers up the chain stop too.
const walkDone = -2

// walkBroken is returned when the bytes are not JSON: the walk stops and
// matching goes on with the values seen so far.
const walkBroken = -1

// walkEvent walks the event against the trie of named paths; it reports
// false when the event is not a JSON object.
func (s *matchState) walkEvent(ix *index, ev string) bool {
	i := skipSpace(ev, 0)
	if i >= len(ev) || ev[i] != '{' {
		return false
	}
	if ix.root.children != nil {
		s.walkObject(ix, ev, i, ix.root, false, 0)
	}
	return true
}

// walkObject walks the object starting at ev[i] ('{') whose path node is n
// and returns the position after it. When needEnd is false and every named
// key has been seen it returns walkDone without reading further.
func (s *matchState) walkObject(ix *index, ev string, i int, n *pathNode, needEnd bool, depth int) int {
	s.visits++
	if s.visits == 0 {
		clear(s.nodeSeen)
		s.visits = 1
	}
	visit := s.visits
	remaining := len(n.children)
	last := 2 * n.id // guess's entry for the key being read: see below
	i++
	for first := true; ; first = false {
		i = skipSpace(ev, i)
		if i >= len(ev) {
			return walkBroken
		}
		if ev[i] == '}' {
			return i + 1
		}
		if !first {
			if ev[i] != ',' {
				return walkBroken
			}
			i = skipSpace(ev, i+1)
			if i >= len(ev) {
				return walkBroken
			}
		}
		if ev[i] != '"' {
			return walkBroken
		}
		// Events of one kind hold their keys in one order: the named key
		// that followed the last one (or began the object) last time is
		// tried first, by comparing the event's bytes with it, without
		// finding the string's end or hashing it. A guess is only a
		// guess: a key that is not it is read and looked up as usual.
		// guess[2*id] is the named key that began object id's value last
		// time, guess[2*id+1] the one that followed key id: either is a
		// child of the object being walked, never of another.
		var c *pathNode
		if g := &s.guess[last]; g.node != nil {
			if end := i + 1 + len(g.key); end < len(ev) && ev[end] == '"' && g.is(ev[i+1:end]) {
				c, i = g.node, end+1
			}
		}
		if c == nil {
			key, j := s.readString(ev, i)
			if j < 0 {
				return walkBroken
			}
			i = j
			c = n.child(key)
		}
		i = skipSpace(ev, i)
		if i >= len(ev) || ev[i] != ':' {
			return walkBroken
		}
		i = skipSpace(ev, i+1)
		if i >= len(ev) {
			return walkBroken
		}
		if c != nil {
			if s.guess[last].node != c {
				s.guess[last] = c.guess
			}
			last = 2*c.id + 1
		}
		if c == nil || s.nodeSeen[c.id] == visit {
			// Not named, or a repeated key: only the first counts.
			if i = skipValue(ev, i); i < 0 {
				return walkBroken
			}
			continue
		}
		s.nodeSeen[c.id] = visit
		remaining--
		// The usual named value, a string without escapes, is recorded
		// here rather than through walkValue and readString: with
		// thousands of patterns most keys of an event are named, and the
		// two calls cost a third of recording one.
		q := -1
		if ev[i] == '"' && depth < MaxEventDepth {
			q = plainEnd(ev, i+1)
		}
		if q >= 0 && ev[q] == '"' {
			if v := (leaf{kind: lkString, str: ev[i+1 : q]}); !s.addFirst(c, v) {
				s.addLeaf(c, v)
			}
			i = q + 1
		} else if b := ev[i]; (b == '-' || b-'0' <= 9) && depth < MaxEventDepth {
			if i = s.number(ev, i, c); i < 0 {
				return i
			}
		} else if i = s.walkValue(ix, ev, i, c, needEnd || remaining > 0, depth+1); i < 0 {
			return i
		}
		if remaining == 0 {
			if !needEnd {
				return walkDone
			}
			return skipRest(ev, i)
		}
	}
}

// walkValue records the value at ev[i] under path node n and returns the
// position after it.
func (s *matchState) walkValue(ix *index, ev string, i int, n *pathNode, needEnd bool, depth int) int {
	if depth > MaxEventDepth {
		return walkBroken
	}
	switch c := ev[i]; {
	case c == '"':
		str, j := s.readString(ev, i)
		if j >= 0 {
			s.addLeaf(n, leaf{kind: lkString, str: str})
		}
		return j
	case c == '{':
		if n.children == nil {
			return skipValue(ev, i)
		}
		return s.walkObject(ix, ev, i, n, needEnd, depth)
	case c == '[':
		return s.walkArray(ix, ev, i, n, depth)
	case c == 't':
		return s.literal(ev, i, n, "true", lkTrue)
	case c == 'f':
		return s.literal(ev, i, n, "false", lkFalse)
	case c == 'n':
		return s.literal(ev, i, n, "null", lkNull)
	case c == '-' || c >= '0' && c <= '9':
		return s.number(ev, i, n)
	}
	return walkBroken
}

// number records the number at ev[i] and returns the position after it.
// The usual number (see parseNumber) is read in the same pass that finds
// its end; one that does not end where that pass stops goes the long way.
// Either way the value is parseNumber's.
func (s *matchState) number(ev string, i int, n *pathNode) int {
	if j, f, ok := shortNumber(ev, i); ok {
		if v := (leaf{kind: lkNumber, str: ev[i:j], num: f}); !s.addFirst(n, v) {
			s.addLeaf(n, v)
		}
		return j
	}
	j := i
	if ev[j] == '-' {
		j++
	}
	start := j
	var v uint64
	dot := -1
	for ; j < len(ev); j++ {
		d := ev[j] - '0'
		if d > 9 {
			if ev[j] != '.' || dot >= 0 {
				break
			}
			dot = j
			continue
		}
		v = v*10 + uint64(d)
	}
	digits := j - start
	end := j == len(ev)
	if !end {
		switch ev[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			end = true
		}
	}
	if !end || digits == 0 || digits > 16 || dot == start || dot == j-1 || dot < 0 && digits > 15 {
		j = scalarEnd(ev, i)
		f, ok := parseNumber(ev[i:j])
		if !ok {
			return walkBroken
		}
		s.addLeaf(n, leaf{kind: lkNumber, str: ev[i:j], num: f})
		return j
	}
	f := float64(v)
	if dot >= 0 {
		f /= pow10[j-1-dot]
	}
	if start > i {
		f = -f
	}
	if v := (leaf{kind: lkNumber, str: ev[i:j], num: f}); !s.addFirst(n, v) {
		s.addLeaf(n, v)
	}
	return j
}

// shortNumber reads the number at ev[i] when it has at most seven digits
// before its point and seven after, fifteen in all, and ev holds eight bytes
// past each part: an area, an amount, a count. Each part's digits are found
// and converted eight bytes at a time, without a loop whose exit depends on
// the digit count, which the branch predictor cannot learn across events.
// The value is exact for the same reason as in parseNumber. ok is false for
// any other number, which the caller reads digit by digit.
func shortNumber(ev string, i int) (end int, f float64, ok bool) {
	j := i
	if ev[j] == '-' {
		j++
	}
	if j+8 > len(ev) {
		return 0, 0, false
	}
	w := loadWord(ev[j:])
	n := digitRun(w)
	if n == 0 || n == 8 {
		return 0, 0, false
	}
	v := digitsValue(w, n)
	k, scale := j+n, 0
	if ev[k] == '.' {
		k++
		if k+8 > len(ev) {
			return 0, 0, false
		}
		w = loadWord(ev[k:])
		m := digitRun(w)
		if m == 0 || m == 8 || n+m > 15 {
			return 0, 0, false
		}
		v = v*uint64(pow10[m]) + digitsValue(w, m)
		k += m
		scale = m
	}
	switch ev[k] {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
	default:
		return 0, 0, false // an exponent, a second point, or not a number
	}
	f = float64(v) / pow10[scale]
	if j > i {
		f = -f
	}
	return k, f, true
}

// loadWord reads the first eight bytes of s, the first in the low byte.
func loadWord(s string) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
}

// digitRun counts the ASCII digits that w (as loadWord reads it) starts with.
// Subtracting '0' from every byte leaves a digit 0–9 and sets the top bit of
// any byte below '0'; adding 0x76 sets it in any byte above '9'. A borrow or
// carry only moves towards later bytes, so the first flagged byte is right.
func digitRun(w uint64) int {
	t := w - 0x3030303030303030
	flags := (t | (t + 0x7676767676767676)) & 0x8080808080808080
	return bits.TrailingZeros64(flags) >> 3
}

// digitsValue converts the first n (1–7) digits of w: they are moved to the
// top of the word, so that zero bytes lead them, and combined in pairs,
// fours and eights.
func digitsValue(w uint64, n int) uint64 {
	w = (w - 0x3030303030303030) << (64 - 8*n)
	w = (w * 10) + (w >> 8)
	w = ((w & 0x000000FF000000FF) * (100 + 1000000<<32)) + (((w >> 16) & 0x000000FF000000FF) * (1 + 10000<<32))
	return w >> 32
}

// parseNumber reads a JSON number. Numbers of up to 15 significant digits
// without an exponent, the usual case (ids, counts, amounts, areas), are
// read directly: the digits and the power of ten that scales them are both
// exact in a float64, so one division rounds correctly. The rest go to
// strconv. One out of range is ±Inf.
func parseNumber(raw string) (float64, bool) {
	digits := raw
	if digits != "" && digits[0] == '-' {
		digits = digits[1:]
	}
	if n := len(digits); n > 0 && n <= 16 {
		var v uint64
		dot := -1
		for i := range n {
			c := digits[i] - '0'
			if c > 9 {
				if digits[i] != '.' || dot >= 0 || i == 0 || i == n-1 {
					goto general
				}
				dot = i
				continue
			}
			v = v*10 + uint64(c)
		}
		f := float64(v)
		if dot >= 0 {
			f /= pow10[n-1-dot]
		} else if n > 15 {
			goto general
		}
		if len(digits) < len(raw) {
			f = -f
		}
		return f, true
	}
general:
	f, err := strconv.ParseFloat(raw, 64)
	if ne, ok := err.(*strconv.NumError); err != nil && (!ok || ne.Err != strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// pow10 holds the powers of ten exact in a float64 that parseNumber divides by.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

func (s *matchState) literal(ev string, i int, n *pathNode, word string, k leafKind) int {
	if !strings.HasPrefix(ev[i:], word) {
		return walkBroken
	}
	s.addLeaf(n, leaf{kind: k})
	return i + len(word)
}

// walkArray walks every element of the array at ev[i], each under n: a
// pattern field matches any element. Each element's leaves remember their
// array position, for array consistency.
func (s *matchState) walkArray(ix *index, ev string, i int, n *pathNode, depth int) int {
	arr := s.arrays
	s.arrays++
	i++
	for idx := int32(0); ; idx++ {
		i = skipSpace(ev, i)
		if i >= len(ev) {
			return walkBroken
		}
		if ev[i] == ']' {
			return i + 1
		}
		if idx > 0 {
			if ev[i] != ',' {
				return walkBroken
			}
			if i = skipSpace(ev, i+1); i >= len(ev) {
				return walkBroken
			}
		}
		s.stack = append(s.stack, arrayPos{arr: arr, idx: idx})
		i = s.walkValue(ix, ev, i, n, true, depth+1)
		s.stack = s.stack[:len(s.stack)-1]
		if i < 0 {
			return i
		}
	}
}

// readString reads the string starting at ev[i] ('"') and returns its value
// and the position after its closing quote, or -1 if it does not end. A
// string with escapes is decoded into the state's arena, which is reset per
// event: strings recorded earlier keep pointing at the old bytes if it grows.
func (s *matchState) readString(ev string, i int) (string, int) {
	q := plainEnd(ev, i+1)
	if q < 0 {
		return "", -1
	}
	if ev[q] == '"' {
		return ev[i+1 : q], q + 1
	}
	body := ev[i+1:]
	start := len(s.arena)
	for j := 0; j < len(body); {
		c := body[j]
		switch {
		case c == '"':
			return bytesString(s.arena[start:]), i + 2 + j
		case c != '\\':
			s.arena = append(s.arena, c)
			j++
			continue
		}
		if j+1 >= len(body) {
			return "", -1
		}
		switch e := body[j+1]; e {
		case '"', '\\', '/':
			s.arena = append(s.arena, e)
		case 'b':
			s.arena = append(s.arena, '\b')
		case 'f':
			s.arena = append(s.arena, '\f')
		case 'n':
			s.arena = append(s.arena, '\n')
		case 'r':
			s.arena = append(s.arena, '\r')
		case 't':
			s.arena = append(s.arena, '\t')
		case 'u':
			r, ok := hex4(body[j+2:])
			if !ok {
				return "", -1
			}
			j += 6
			if utf16.IsSurrogate(r) {
				// A pair makes one character; a lone half is U+FFFD, as
				// encoding/json decodes it.
				if r2, ok := hex4(body[min(j+2, len(body)):]); ok && strings.HasPrefix(body[j:], `\u`) {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						j += 6
					}
				}
			}
			s.arena = utf8.AppendRune(s.arena, r)
			continue
		default:
			return "", -1
		}
		j += 2
	}
	return "", -1
}

// hex4 reads the four hex digits of a \u escape.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skipSpace returns the position of the first byte at or after ev[i] that
// is not JSON whitespace. Every byte above the space is not, which settles
// most bytes with one comparison.
func skipSpace(ev string, i int) int {
	for i < len(ev) {
		if c := ev[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
		i++
	}
	return i
}

// scalarEnd returns the end of the number or literal starting at ev[i].
func scalarEnd(ev string, i int) int {
	for i < len(ev) {
		switch ev[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// plainEnd returns the position of the first quote or backslash at or
// after ev[i], or -1. Most strings in events are short: a plain loop finds
// their end sooner than IndexByte's vector code, which takes over for
// longer ones.
func plainEnd(ev string, i int) int {
	for n := min(len(ev), i+32); i < n; i++ {
		if c := ev[i]; c == '"' || c == '\\' {
			return i
		}
	}
	if i >= len(ev) {
		return -1
	}
	q := strings.IndexByte(ev[i:], '"')
	if q < 0 {
		return -1
	}
	if b := strings.IndexByte(ev[i:i+q], '\\'); b >= 0 {
		return i + b
	}
	return i + q
}

// stringEnd returns the position after the string starting at ev[i] ('"'),
// or -1 if it does not end.
func stringEnd(ev string, i int) int {
	for j := i + 1; ; {
		if j = plainEnd(ev, j); j < 0 {
			return -1
		}
		if ev[j] == '"' {
			return j + 1
		}
		j += 2 // an escape: the next byte is never the end
	}
}

// skipValue returns the position after the value starting at ev[i], or -1.
func skipValue(ev string, i int) int {
	switch ev[i] {
	case '"':
		return stringEnd(ev, i)
	case '{', '[':
		return skipRest(ev, i+1)
	}
	return scalarEnd(ev, i)
}

// skipRest returns the position after the object or array whose inside
// ev[i] is in (after its opening bracket), or -1.
func skipRest(ev string, i int) int {
	depth := 1
	for i < len(ev) {
		switch ev[i] {
		case '"':
			if i = stringEnd(ev, i); i < 0 {
				return -1
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}
