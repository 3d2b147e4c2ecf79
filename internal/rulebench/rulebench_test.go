package rulebench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const testRules = `{
  "orders": {"source": ["orders"]},
  "big-orders": "{\"source\":[\"orders\"],\"detail\":{\"total\":[{\"numeric\":[\">\",100]}]}}",
  "refunds": {"detail-type": ["Refund"]}
}`

const testEvents = `{"source":"orders","detail":{"total":150}}
{"source":"orders","detail":{"total":50}}

{"source":"shop","detail-type":"Refund"}
{"source":"shop"}
`

func TestRun(t *testing.T) {
	b, err := Load([]byte(testRules), []byte(testEvents))
	if err != nil {
		t.Fatal(err)
	}
	for _, passes := range []int{1, 3} {
		r := b.Run(passes)
		// orders matches 2 events, big-orders 1, refunds 1.
		if r.Rules != 3 || r.Events != 4 || r.Matches != 4 {
			t.Errorf("passes %d: %+v, want 3 rules, 4 events, 4 matches", passes, r)
		}
		if r.Seconds <= 0 || r.EventsPerSecond <= 0 {
			t.Errorf("passes %d: no timing: %+v", passes, r)
		}
	}
}

func TestCommandOutput(t *testing.T) {
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rulesPath, []byte(testRules), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := Command{Rules: rulesPath, Events: "-", Passes: 2, Stdin: strings.NewReader(testEvents), Stdout: &out}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	shape := regexp.MustCompile(`^\{"rules":3,"events":4,"matches":4,"seconds":[0-9.e-]+,"events_per_second":[0-9.e+]+\}\n$`)
	if !shape.MatchString(out.String()) {
		t.Errorf("output %q does not have the documented shape", out.String())
	}
}

func TestInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name, rules, events, want string
	}{
		{"rules bad JSON", `{"a": {"source": [}`, ``, "rules file: invalid JSON: invalid character '}' looking for beginning of value at offset 19"},
		{"rules not an object", `[]`, ``, "rules file: must be a JSON object"},
		{"bad pattern", `{"ok":{"a":["x"]},"broken":{"detail":{"n":[{"numeric":["<",1,">",2]}]}}}`, ``,
			`rules file: rule "broken": detail.n: numeric: lower bound must come before upper`},
		{"bad pattern string", `{"s":"{\"a\":"}`, ``, `rules file: rule "s": invalid JSON`},
		{"empty name", `{"":{"a":["x"]}}`, ``, `rules file: rule "": a rule needs a name`},
		{"duplicate name", `{"a":{"a":["x"]},"a":{"b":["y"]}}`, ``, `rules file: rule "a": defined twice`},
		{"bad event line", `{"a":{"a":["x"]}}`, "{}\n\n{\"a\":\n", "events line 3: invalid JSON"},
		{"event not an object", `{"a":{"a":["x"]}}`, "{}\n\"x\"\n", "events line 2: must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.rules), []byte(tc.events))
			var ie *InputError
			if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want an *InputError starting %q", err, tc.want)
			}
		})
	}
	for name, c := range map[string]Command{
		"no passes":      {Rules: "x", Events: "y", Passes: 0},
		"missing rules":  {Rules: "/nonexistent/rules.json", Events: "-", Passes: 1},
		"missing events": {Rules: os.DevNull, Events: "/nonexistent/events.jsonl", Passes: 1},
	} {
		var ie *InputError
		if err := c.Run(); !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want an *InputError", name, err)
		}
	}
}
