package rules

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// vectorFiles hold the EventBridge pattern vectors, one conformanceCase a
// line: conformance.jsonl the shared ones, from the reference
// implementation's tests and the AWS docs; audit.jsonl those of our audit
// against the docs, each citing the page or README section it rests on.
var vectorFiles = []string{"testdata/conformance.jsonl", "testdata/audit.jsonl"}

// conformanceCase is one line of a vector file. Pattern and event stay raw:
// number spelling matters and some numbers do not fit a float64.
type conformanceCase struct {
	ID      string          `json:"id"`
	Source  string          `json:"source"`
	Op      string          `json:"op"`
	Pattern json.RawMessage `json:"pattern"`
	Event   json.RawMessage `json:"event"`
	Match   json.RawMessage `json:"match"`
}

func loadConformance(t testing.TB) []conformanceCase {
	t.Helper()
	var cases []conformanceCase
	for _, name := range vectorFiles {
		cases = append(cases, loadVectors(t, name)...)
	}
	return cases
}

func loadVectors(t testing.TB, name string) []conformanceCase {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []conformanceCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c conformanceCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s line %d: %v", name, len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestConformance(t *testing.T) {
	cases := loadConformance(t)
	if len(cases) < 800 {
		t.Fatalf("only %d conformance vectors loaded", len(cases))
	}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			p, err := Compile(c.Pattern)
			if string(c.Match) == `"error"` {
				if err == nil {
					t.Fatalf("pattern %s compiled, want an error", c.Pattern)
				}
				return
			}
			if err != nil {
				t.Fatalf("pattern %s: %v", c.Pattern, err)
			}
			want := string(c.Match) == "true"
			if got := p.Match(c.Event); got != want {
				t.Fatalf("pattern %s\nevent %s\nmatch = %v, want %v", c.Pattern, c.Event, got, want)
			}
		})
	}
}
