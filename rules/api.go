package rules

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Error is a pattern compile error. Path is the dotted JSON path of the
// offending field inside the pattern ("" for the pattern as a whole) and
// Reason says what is wrong with it, e.g. "numeric: lower bound must come
// before upper".
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Pattern is one compiled EventBridge event pattern. It is immutable and safe
// for concurrent use.
type Pattern struct {
	src  string
	alts []alternative // the pattern in disjunctive normal form: $or expanded
	one  *Table        // a table holding just this pattern, for Match
}

// Compile parses and checks an event pattern given as raw JSON. An invalid
// pattern yields an *Error naming the JSON path and the reason.
func Compile(pattern []byte) (*Pattern, error) {
	alts, err := compile(pattern)
	if err != nil {
		return nil, err
	}
	p := &Pattern{src: string(pattern), alts: alts}
	p.one, err = NewTable([]Rule{{Name: "pattern", Pattern: p}})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(pattern string) *Pattern {
	p, err := Compile([]byte(pattern))
	if err != nil {
		panic(fmt.Sprintf("rules: MustCompile(%q): %v", pattern, err))
	}
	return p
}

// String returns the pattern's JSON source as given to Compile.
func (p *Pattern) String() string { return p.src }

// Match reports whether the event (a JSON object) matches the pattern.
func (p *Pattern) Match(event []byte) bool {
	var buf [1]string
	return len(p.one.AppendMatches(buf[:0], event)) > 0
}

// Rule is a named pattern, the unit a Table is built from.
type Rule struct {
	Name    string
	Pattern *Pattern
}

// Table is an immutable set of named patterns indexed for matching many rules
// against each event at once. Build a new Table to change the rules and swap
// it in whole; Match is safe for concurrent use.
type Table struct {
	names []string
	idx   *index
	spare atomic.Pointer[matchState] // one state kept at hand: cheaper than the pool
	pool  sync.Pool                  // *matchState sized for this table
}

// NewTable builds a Table from rules. Names must be unique and non-empty.
func NewTable(rules []Rule) (*Table, error) {
	seen := make(map[string]bool, len(rules))
	t := &Table{names: make([]string, len(rules))}
	for i, r := range rules {
		if r.Name == "" {
			return nil, fmt.Errorf("rules: rule %d has no name", i)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("rules: duplicate rule name %q", r.Name)
		}
		if r.Pattern == nil {
			return nil, fmt.Errorf("rules: rule %q has no pattern", r.Name)
		}
		seen[r.Name] = true
		t.names[i] = r.Name
	}
	t.idx = buildIndex(rules)
	t.pool.New = func() any { return newMatchState(t.idx) }
	return t, nil
}

// Len is the number of rules in the table.
func (t *Table) Len() int { return len(t.names) }

// Names lists the rule names in the order the table was built with.
func (t *Table) Names() []string { return slices.Clone(t.names) }

// Match returns the names of all rules whose pattern matches the event, in
// table order. The event must be a JSON object (see ValidateEvent): anything
// else matches no rule. Malformed JSON never panics, but what it matches is
// unspecified; validate events where they enter.
func (t *Table) Match(event []byte) []string {
	return t.AppendMatches(nil, event)
}

// AppendMatches is Match appending to dst; with a dst of enough capacity it
// does not allocate.
func (t *Table) AppendMatches(dst []string, event []byte) []string {
	s := t.state()
	for _, r := range s.match(t.idx, event) {
		dst = append(dst, t.names[r])
	}
	t.release(s)
	return dst
}

// state takes a match state: the spare one if free, else one from the pool.
func (t *Table) state() *matchState {
	if s := t.spare.Swap(nil); s != nil {
		return s
	}
	return t.pool.Get().(*matchState)
}

func (t *Table) release(s *matchState) {
	if !t.spare.CompareAndSwap(nil, s) {
		t.pool.Put(s)
	}
}
