package patterntest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSingle(t *testing.T) {
	const pattern = `{"source":["orders"],"detail":{"total":[{"numeric":[">",100]}]}}`
	for _, tc := range []struct {
		name, pattern, event string
		explain              bool
		stdout, stderr       string
	}{
		{"match", pattern, `{"source":"orders","detail":{"total":150}}`, false, `{"Result": true}` + "\n", ""},
		{"no match", pattern, `{"source":"orders","detail":{"total":50}}`, false, `{"Result": false}` + "\n", ""},
		{"explain match", pattern, `{"source":"orders","detail":{"total":150}}`, true, `{"Result": true}` + "\n", ""},
		{
			"explain no match", pattern, `{"source":"orders","detail":{"total":50}}`, true,
			`{"Result": false, "Explanation": [{"alternative":1,"path":"detail.total","pattern":[{"numeric":[">",100]}],"event":50,"reason":"no value matches"}]}` + "\n",
			`no match: detail.total: no value matches (pattern [{"numeric":[">",100]}], event has 50)` + "\n",
		},
		{
			"explain missing field", `{"detail":{"vip":[true]}}`, `{"detail":{}}`, true,
			`{"Result": false, "Explanation": [{"alternative":1,"path":"detail.vip","pattern":[true],"reason":"field is missing"}]}` + "\n",
			`no match: detail.vip: field is missing (pattern [true])` + "\n",
		},
		{
			"explain or", `{"$or":[{"a":["x"]},{"b":["<y>"]}]}`, `{"a":"z"}`, true,
			`{"Result": false, "Explanation": [{"alternative":1,"path":"a","pattern":["x"],"event":"z","reason":"no value matches"},{"alternative":2,"path":"b","pattern":["<y>"],"reason":"field is missing"}]}` + "\n",
			"no match: each of the 2 $or alternatives fails:\n" +
				`  1. a: no value matches (pattern ["x"], event has "z")` + "\n" +
				`  2. b: field is missing (pattern ["<y>"])` + "\n",
		},
		{
			"explain array consistency", `{"items":{"sku":["A"],"qty":[2]}}`, `{"items":[{"sku":"A","qty":1},{"sku":"B","qty":2}]}`, true,
			`{"Result": false, "Explanation": [{"alternative":1,"path":"items.qty, items.sku","reason":"each field matches on its own, but not all within the same element of an event array"}]}` + "\n",
			"no match: items.qty, items.sku: each field matches on its own, but not all within the same element of an event array\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, diag bytes.Buffer
			if err := Single(&out, &diag, []byte(tc.pattern), []byte(tc.event), tc.explain); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.stdout {
				t.Errorf("stdout\n got %s\nwant %s", out.String(), tc.stdout)
			}
			if diag.String() != tc.stderr {
				t.Errorf("stderr\n got %q\nwant %q", diag.String(), tc.stderr)
			}
		})
	}
}

func TestSingleInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, event, want string
	}{
		{"pattern path and reason", `{"detail":{"total":[{"numeric":["<",1,">",2]}]}}`, `{}`,
			"--pattern: detail.total: numeric: lower bound must come before upper"},
		{"pattern bad JSON", `{"source":["a"`, `{}`, "--pattern: invalid JSON: "},
		{"pattern not an object", `["a"]`, `{}`, "--pattern: pattern must be a JSON object"},
		{"event bad JSON has offset", `{"a":[1]}`, `{"a":}`, "--event: invalid JSON: invalid character '}' looking for beginning of value at offset 5"},
		{"event not an object", `{"a":[1]}`, `[1]`, "--event: must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Single(&out, &out, []byte(tc.pattern), []byte(tc.event), true)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an *InputError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to start with %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q on error", out.String())
			}
		})
	}
}

func TestReadArg(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(path, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stdin := strings.NewReader(`{"from":"stdin"}`)
	for arg, want := range map[string]string{
		`{"inline":1}`: `{"inline":1}`,
		"@" + path:     `{"from":"file"}`,
		"@-":           `{"from":"stdin"}`,
	} {
		got, err := ReadArg(arg, stdin)
		if err != nil || string(got) != want {
			t.Errorf("ReadArg(%q) = %q, %v; want %q", arg, got, err, want)
		}
	}
	if _, err := ReadArg("@"+path+".missing", stdin); err == nil {
		t.Error("ReadArg of a missing file: no error")
	}
}

func TestCommandRun(t *testing.T) {
	run := func(c Command, stdin string) (string, error) {
		var out, diag bytes.Buffer
		c.Stdin, c.Stdout, c.Stderr = strings.NewReader(stdin), &out, &diag
		err := c.Run()
		return out.String(), err
	}
	out, err := run(Command{Pattern: `{"a":["b"]}`, Event: "@-"}, `{"a":"b"}`)
	if err != nil || out != `{"Result": true}`+"\n" {
		t.Errorf("event from stdin: %q, %v", out, err)
	}
	out, err = run(Command{Cases: "-"}, `{"id":1,"pattern":{"a":["b"]},"event":{"a":"c"}}`)
	if err != nil || out != `{"id":1,"Result":false}`+"\n" {
		t.Errorf("cases from stdin: %q, %v", out, err)
	}
	for name, c := range map[string]Command{
		"both on stdin":  {Pattern: "@-", Event: "@-"},
		"missing file":   {Pattern: "@/nonexistent/p.json", Event: "{}"},
		"missing cases":  {Cases: "/nonexistent/cases.jsonl"},
		"cases dir":      {Cases: t.TempDir()},
		"invalid event":  {Pattern: `{"a":["b"]}`, Event: "@-"},
		"invalid:syntax": {Pattern: `{"a":["b"]`, Event: "{}"},
	} {
		var ie *InputError
		if _, err := run(c, "nope"); !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want an *InputError", name, err)
		}
	}
}
