// Package patterntest is the logic behind `routerctl test-pattern`: test one
// event pattern against one event, or a JSON Lines file of such cases, the
// offline twin of EventBridge's TestEventPattern. It works on readers and
// writers so the CLI stays a thin shell and everything here is testable
// without a process.
package patterntest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
)

// InputError is a problem with what the user gave us (an unreadable file, a
// pattern that does not compile, an event that is not a JSON object), as
// opposed to a failure writing the output. The CLI exits 2 on it.
type InputError struct {
	What string // where the input came from, e.g. "--pattern" or "--cases"
	Err  error
}

func (e *InputError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Command is one run of test-pattern as the user typed it: either Cases
// (batch) or Pattern and Event (single).
type Command struct {
	Pattern string // JSON, @FILE, or @- for stdin
	Event   string // JSON, @FILE, or @- for stdin
	Cases   string // FILE, or - for stdin; selects batch mode
	Explain bool   // say why a non-match did not match

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run executes the command. Errors are *InputError for bad input; anything
// else is an I/O failure.
func (c Command) Run() error {
	if c.Cases != "" {
		r, err := open(c.Cases, c.Stdin)
		if err != nil {
			return &InputError{What: "--cases", Err: err}
		}
		defer r.Close()
		return Batch(r, c.Stdout, c.Explain)
	}
	if c.Pattern == "@-" && c.Event == "@-" {
		return &InputError{What: "--pattern, --event", Err: errors.New("only one of them can read stdin (@-)")}
	}
	pattern, err := ReadArg(c.Pattern, c.Stdin)
	if err != nil {
		return &InputError{What: "--pattern", Err: err}
	}
	event, err := ReadArg(c.Event, c.Stdin)
	if err != nil {
		return &InputError{What: "--event", Err: err}
	}
	return Single(c.Stdout, c.Stderr, pattern, event, c.Explain)
}

// ReadArg resolves a flag value the way the AWS CLI does for file://: "@-"
// reads stdin, "@FILE" reads the file, anything else is the JSON itself.
func ReadArg(value string, stdin io.Reader) ([]byte, error) {
	name, ok := strings.CutPrefix(value, "@")
	if !ok {
		return []byte(value), nil
	}
	r, err := open(name, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// open opens a named input, "-" being stdin.
func open(name string, stdin io.Reader) (io.ReadCloser, error) {
	if name == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return io.NopCloser(stdin), nil
	}
	return os.Open(name)
}

// Check compiles the pattern, validates the event and matches them. With
// explain, a non-match carries its failures. Errors are *InputError naming
// "--pattern" or "--event".
func Check(pattern, event []byte, explain bool) (rules.Explanation, error) {
	p, err := rules.Compile(pattern)
	if err != nil {
		return rules.Explanation{}, &InputError{What: "--pattern", Err: err}
	}
	if err := rules.ValidateEvent(event); err != nil {
		return rules.Explanation{}, &InputError{What: "--event", Err: err}
	}
	if explain {
		return p.Explain(event), nil
	}
	return rules.Explanation{Matched: p.Match(event)}, nil
}

// Single writes the result of one test, exactly as `aws events
// test-event-pattern` words it ({"Result": true}), on w. With explain, a
// non-match adds an "Explanation" array to that line and one human-readable
// line per failure on diag.
func Single(w, diag io.Writer, pattern, event []byte, explain bool) error {
	ex, err := Check(pattern, event, explain)
	if err != nil {
		return err
	}
	b := fmt.Appendf(nil, `{"Result": %t`, ex.Matched)
	if explain && !ex.Matched {
		b = append(b, `, "Explanation": `...)
		b = appendFailures(b, ex.Failures)
	}
	b = append(b, "}\n"...)
	if _, err := w.Write(b); err != nil {
		return err
	}
	if explain && !ex.Matched {
		_, err = io.WriteString(diag, Describe(ex))
	}
	return err
}

// Describe renders an explanation for people: the failing fields on one
// line when there is one, grouped by $or alternative when there are several.
func Describe(ex rules.Explanation) string {
	if len(ex.Failures) == 0 {
		return "no match\n"
	}
	var b strings.Builder
	if ex.Alternatives <= 1 {
		if len(ex.Failures) == 1 {
			return "no match: " + ex.Failures[0].String() + "\n"
		}
		b.WriteString("no match:\n")
		for _, f := range ex.Failures {
			fmt.Fprintf(&b, "  %s\n", f)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "no match: each of the %d $or alternatives fails:\n", ex.Alternatives)
	last := 0
	for _, f := range ex.Failures {
		if f.Alternative != last {
			fmt.Fprintf(&b, "  %d. %s\n", f.Alternative, f)
			last = f.Alternative
		} else {
			fmt.Fprintf(&b, "     %s\n", f)
		}
	}
	return b.String()
}
