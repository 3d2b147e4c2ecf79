package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/patterntest"
	"github.com/eventrouter/eventrouter/internal/rulebench"
)

// routerctl is the binary under test, built once by TestMain and run as a
// user runs it: flags, stdin, stdout, stderr and the exit status.
var routerctl string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "routerctl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	routerctl = filepath.Join(dir, "routerctl")
	build := exec.Command("go", "build", "-o", routerctl, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building routerctl:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(routerctl, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), cmd.ProcessState.ExitCode()}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	orderPattern = `{"source":["orders"],"detail":{"total":[{"numeric":[">",100]}]}}`
	bigOrder     = `{"source":"orders","detail":{"total":150}}`
	smallOrder   = `{"source":"orders","detail":{"total":50}}`
)

func TestTestPatternSingle(t *testing.T) {
	patternFile := writeFile(t, "pattern.json", orderPattern)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"match", "", []string{"--pattern", orderPattern, "--event", bigOrder}, `{"Result": true}`},
		{"no match", "", []string{"--pattern", orderPattern, "--event", smallOrder}, `{"Result": false}`},
		{"pattern from file", "", []string{"--pattern", "@" + patternFile, "--event", bigOrder}, `{"Result": true}`},
		{"event from stdin", bigOrder, []string{"--pattern", "@" + patternFile, "--event", "@-"}, `{"Result": true}`},
		{"pattern from stdin", orderPattern, []string{"--pattern", "@-", "--event", smallOrder}, `{"Result": false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.stdin, append([]string{"test-pattern"}, tc.args...)...)
			if r.code != 0 || r.stdout != tc.want+"\n" || r.stderr != "" {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit 0, stdout %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

// Bad input and bad usage exit 2 and say on stderr what is wrong, where.
func TestTestPatternInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"pattern path and reason", []string{"--pattern", `{"detail":{"total":[{"numeric":["<",1,">",2]}]}}`, "--event", bigOrder},
			"routerctl: --pattern: detail.total: numeric: lower bound must come before upper\n"},
		{"pattern bad JSON", []string{"--pattern", `{"source":`, "--event", bigOrder},
			"routerctl: --pattern: invalid JSON"},
		{"event bad JSON", []string{"--pattern", orderPattern, "--event", `{"source":orders}`},
			"routerctl: --event: invalid JSON: invalid character 'o' looking for beginning of value at offset 10\n"},
		{"event not an object", []string{"--pattern", orderPattern, "--event", `["orders"]`},
			"routerctl: --event: must be a JSON object\n"},
		{"unreadable file", []string{"--pattern", "@/nonexistent/pattern.json", "--event", bigOrder},
			"routerctl: --pattern: open /nonexistent/pattern.json: "},
		{"missing event flag", []string{"--pattern", orderPattern}, "routerctl: if any flags in the group [pattern event] are set"},
		{"no flags", nil, "routerctl: at least one of the flags in the group [pattern cases] is required"},
		{"cases with pattern", []string{"--cases", "-", "--pattern", orderPattern, "--event", bigOrder}, "routerctl: if any flags in the group [cases "},
		{"unknown flag", []string{"--patern", orderPattern}, "routerctl: unknown flag: --patern"},
		{"stray argument", []string{"--pattern", orderPattern, "--event", bigOrder, "extra"}, "routerctl: unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "", append([]string{"test-pattern"}, tc.args...)...)
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.stderr) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit 2, stderr starting %q", r.code, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
}

func TestTestPatternExplain(t *testing.T) {
	r := run(t, "", "test-pattern", "--explain", "--pattern", orderPattern, "--event", smallOrder)
	wantOut := `{"Result": false, "Explanation": [{"alternative":1,"path":"detail.total","pattern":[{"numeric":[">",100]}],"event":50,"reason":"no value matches"}]}` + "\n"
	wantErr := `no match: detail.total: no value matches (pattern [{"numeric":[">",100]}], event has 50)` + "\n"
	if r.code != 0 || r.stdout != wantOut || r.stderr != wantErr {
		t.Errorf("got exit %d\nstdout %s\nstderr %s\nwant exit 0\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr, wantOut, wantErr)
	}
	r = run(t, "", "test-pattern", "--explain", "--pattern", orderPattern, "--event", bigOrder)
	if r.code != 0 || r.stdout != `{"Result": true}`+"\n" || r.stderr != "" {
		t.Errorf("explain of a match: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestTestPatternConformance is the acceptance check: the EventBridge
// vectors, the shared ones and the audit's, through the binary, each line's
// Result equal to its "match", or an Error where match is "error".
func TestTestPatternConformance(t *testing.T) {
	for file, least := range map[string]int{"conformance.jsonl": 800, "audit.jsonl": 1} {
		t.Run(file, func(t *testing.T) { testPatternCases(t, "../../rules/testdata/"+file, least) })
	}
}

// testPatternCases runs a vector file, of at least least lines, through
// test-pattern --cases.
func testPatternCases(t *testing.T, cases string, least int) {
	t.Helper()
	r := run(t, "", "test-pattern", "--cases", cases)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	in, err := os.ReadFile(cases)
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		ID     string
		Match  any
		Result *bool
		Error  *string
	}
	wants, gots := decode[line](t, string(in)), decode[line](t, r.stdout)
	if len(wants) < least || len(gots) != len(wants) {
		t.Fatalf("%d vectors in, %d lines out", len(wants), len(gots))
	}
	for i, want := range wants {
		got := gots[i]
		var outcome any = "error"
		if got.Error == nil && got.Result != nil {
			outcome = *got.Result
		}
		if got.ID != want.ID || outcome != want.Match {
			t.Errorf("line %d (%s): got id %q, outcome %v; want %v", i+1, want.ID, got.ID, outcome, want.Match)
		}
	}
}

func decode[T any](t *testing.T, jsonl string) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(strings.NewReader(jsonl))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, v)
	}
	return out
}

func TestTestPatternBatchStdin(t *testing.T) {
	in := `{"id":1,"pattern":` + orderPattern + `,"event":` + bigOrder + `}
{"id":2,"pattern":"{\"source\":[\"orders\"]}","event":"{\"source\":\"shop\"}"}

{"id":3,"pattern":{"source":"orders"},"event":{}}
oops
{"id":5,"pattern":` + orderPattern + `,"event":` + smallOrder + `}
`
	want := `{"id":1,"Result":true}
{"id":2,"Result":false,"Explanation":[{"alternative":1,"path":"source","pattern":["orders"],"event":"shop","reason":"no value matches"}]}
{"id":3,"Error":"pattern: source: value must be an array of values or an object, not a string"}
{"Error":"line 5: invalid JSON: invalid character 'o' looking for beginning of value at offset 0"}
{"id":5,"Result":false,"Explanation":[{"alternative":1,"path":"detail.total","pattern":[{"numeric":[">",100]}],"event":50,"reason":"no value matches"}]}
`
	r := run(t, in, "test-pattern", "--explain", "--cases", "-")
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("got exit %d, stderr %q, stdout\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
}

func TestRulesBench(t *testing.T) {
	rules := writeFile(t, "rules.json", `{"orders":{"source":["orders"]},"big":"`+strings.ReplaceAll(orderPattern, `"`, `\"`)+`"}`)
	events := writeFile(t, "events.jsonl", bigOrder+"\n"+smallOrder+"\n\n"+`{"source":"shop"}`+"\n")
	r := run(t, "", "rules", "bench", "--rules", rules, "--events", events, "--passes", "3")
	shape := regexp.MustCompile(`^\{"rules":2,"events":3,"matches":3,"seconds":[0-9.e-]+,"events_per_second":[0-9.e+]+\}\n$`)
	if r.code != 0 || !shape.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("got exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	badEvents := writeFile(t, "bad.jsonl", bigOrder+"\n[]\n")
	badRules := writeFile(t, "bad.json", `{"orders":{"source":"orders"}}`)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--rules", rules, "--events", badEvents}, "routerctl: events line 2: must be a JSON object\n"},
		{[]string{"--rules", badRules, "--events", events}, `routerctl: rules file: rule "orders": source: value must be an array`},
		{[]string{"--rules", rules, "--events", events, "--passes", "0"}, "routerctl: --passes: must be at least 1, not 0\n"},
		{[]string{"--rules", rules}, `routerctl: required flag(s) "events" not set`},
	} {
		r := run(t, "", append([]string{"rules", "bench"}, tc.args...)...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.stderr) {
			t.Errorf("%v: got exit %d, stdout %q, stderr %q; want exit 2, stderr starting %q", tc.args, r.code, r.stdout, r.stderr, tc.stderr)
		}
	}
}

// The persistent flags the online commands will read are there already.
func TestRootFlags(t *testing.T) {
	r := run(t, "", "--help")
	for _, want := range []string{"--endpoint string", "http://127.0.0.1:8080", "--token string", "test-pattern", "rules",
		"--access-key-id string", "--secret-access-key string", "--region string", `(default "local")`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("routerctl --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("unknown flag: --x"), 2}, // cobra's, before the body ran
		{bodyError{&patterntest.InputError{What: "--event", Err: errors.New("bad")}}, 2},
		{bodyError{fmt.Errorf("wrapped: %w", &rulebench.InputError{What: "--passes", Err: errors.New("bad")})}, 2},
		{bodyError{errors.New("write /dev/stdout: broken pipe")}, 1},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
