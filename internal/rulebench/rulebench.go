// Package rulebench is the logic behind `routerctl rules bench`: how fast a
// set of rules matches a set of events through one rules.Table, the way the
// router matches. Loading and validation happen before the clock starts, and
// events sit in memory, so the number measured is matching alone.
package rulebench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/tidwall/gjson"
)

// InputError is a problem with the rules or events given, naming the rule
// or the line; the CLI exits 2 on it.
type InputError struct {
	What string // e.g. `rules file: rule "orders"` or "events line 7"
	Err  error
}

func (e *InputError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Bench is a rule table and the events to match against it, all validated.
type Bench struct {
	table  *rules.Table
	events [][]byte
}

// Result is one benchmark run, printed as one JSON line.
type Result struct {
	Rules   int `json:"rules"`
	Events  int `json:"events"`
	Matches int `json:"matches"` // (event, rule) pairs that matched, in one pass
	// Seconds is the wall time of all passes; EventsPerSecond counts every
	// event of every pass.
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
}

// Command is one run of `routerctl rules bench` as the user typed it.
type Command struct {
	Rules  string // JSON object of rule name → pattern
	Events string // JSON Lines, or - for stdin
	Passes int    // times to repeat the timed loop

	Stdin  io.Reader
	Stdout io.Writer
}

// Run loads and validates everything, times the matching and prints the
// Result as one JSON line. Errors are *InputError for bad input.
func (c Command) Run() error {
	if c.Passes < 1 {
		return &InputError{What: "--passes", Err: fmt.Errorf("must be at least 1, not %d", c.Passes)}
	}
	rs, err := os.ReadFile(c.Rules)
	if err != nil {
		return &InputError{What: "rules file", Err: err}
	}
	var evs []byte
	if c.Events == "-" {
		evs, err = io.ReadAll(c.Stdin)
	} else {
		evs, err = os.ReadFile(c.Events)
	}
	if err != nil {
		return &InputError{What: "events file", Err: err}
	}
	b, err := Load(rs, evs)
	if err != nil {
		return err
	}
	return json.NewEncoder(c.Stdout).Encode(b.Run(c.Passes))
}

// Load builds a Bench from a rules document, a JSON object mapping each rule
// name to its pattern (an object, or a string holding one as the AWS API
// has it), and events as JSON Lines. Blank lines are skipped. The first
// problem found is returned as an *InputError naming the rule or line.
func Load(rulesJSON, eventLines []byte) (*Bench, error) {
	rs, err := parseRules(rulesJSON)
	if err != nil {
		return nil, err
	}
	t, err := rules.NewTable(rs)
	if err != nil {
		return nil, &InputError{What: "rules file", Err: err}
	}
	b := &Bench{table: t}
	for n, line := range bytes.Split(eventLines, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		if err := rules.ValidateEvent(line); err != nil {
			return nil, &InputError{What: fmt.Sprintf("events line %d", n+1), Err: err}
		}
		b.events = append(b.events, line)
	}
	return b, nil
}

func parseRules(doc []byte) ([]rules.Rule, error) {
	if err := json.Unmarshal(doc, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			err = fmt.Errorf("invalid JSON: %w at offset %d", se, se.Offset)
		}
		return nil, &InputError{What: "rules file", Err: err}
	}
	root := gjson.ParseBytes(doc)
	if !root.IsObject() {
		return nil, &InputError{What: "rules file", Err: errors.New("must be a JSON object of rule name → pattern")}
	}
	var rs []rules.Rule
	seen := map[string]bool{}
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		what := fmt.Sprintf("rules file: rule %q", k.Str)
		src := []byte(v.Raw)
		switch {
		case k.Str == "":
			err = &InputError{What: what, Err: errors.New("a rule needs a name")}
		case seen[k.Str]:
			err = &InputError{What: what, Err: errors.New("defined twice")}
		case v.Type == gjson.String:
			src = []byte(v.Str)
		}
		if err != nil {
			return false
		}
		seen[k.Str] = true
		p, cerr := rules.Compile(src)
		if cerr != nil {
			err = &InputError{What: what, Err: cerr}
			return false
		}
		rs = append(rs, rules.Rule{Name: k.Str, Pattern: p})
		return true
	})
	return rs, err
}

// Run matches every event against the table passes (at least 1) times and
// reports the throughput. Matches counts the first pass; the others only
// steady the timing.
func (b *Bench) Run(passes int) Result {
	passes = max(passes, 1)
	r := Result{Rules: b.table.Len(), Events: len(b.events)}
	dst := make([]string, 0, b.table.Len())
	start := time.Now()
	for pass := range passes {
		for _, ev := range b.events {
			dst = b.table.AppendMatches(dst[:0], ev)
			if pass == 0 {
				r.Matches += len(dst)
			}
		}
	}
	r.Seconds = time.Since(start).Seconds()
	if r.Seconds > 0 {
		r.EventsPerSecond = math.Round(float64(r.Events*passes) / r.Seconds)
	}
	return r
}
