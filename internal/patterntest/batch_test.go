package patterntest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// TestConformance runs the EventBridge vectors, the shared ones and the
// audit's, through Batch, as
// `routerctl test-pattern --cases` does: every line must come back with its
// id, and a Result equal to its "match", or an Error where match is "error".
func TestConformance(t *testing.T) {
	var in []byte
	for _, name := range []string{"conformance.jsonl", "audit.jsonl"} {
		b, err := os.ReadFile("../../rules/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b...)
	}
	var out bytes.Buffer
	if err := Batch(bytes.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	type line struct {
		ID     string          `json:"id"`
		Match  json.RawMessage `json:"match"`
		Result *bool
		Error  *string
	}
	wants := decodeLines[line](t, in)
	gots := decodeLines[line](t, out.Bytes())
	if len(wants) < 800 || len(gots) != len(wants) {
		t.Fatalf("%d vectors in, %d lines out", len(wants), len(gots))
	}
	for i, want := range wants {
		got := gots[i]
		if got.ID != want.ID || string(got.Match) != string(want.Match) {
			t.Errorf("line %d: id %q match %s, want the input's %q %s", i+1, got.ID, got.Match, want.ID, want.Match)
		}
		switch m := string(want.Match); {
		case m == `"error"`:
			if got.Error == nil {
				t.Errorf("%s: Result %v, want an Error", want.ID, *got.Result)
			}
		case got.Error != nil:
			t.Errorf("%s: Error %q, want Result %s", want.ID, *got.Error, m)
		case got.Result == nil || fmt.Sprint(*got.Result) != m:
			t.Errorf("%s: Result %v, want %s", want.ID, got.Result, m)
		}
	}
}

func decodeLines[T any](t *testing.T, data []byte) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(data))
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

func TestBatch(t *testing.T) {
	in := strings.Join([]string{
		// fields copied raw and in order, numbers keep their spelling
		`{"id":"a", "pattern":{"n":[300]}, "note":{"x": 1.50}, "event":{"n":3.0e+2}, "big":1e999}`,
		// pattern and event as strings holding JSON, as the AWS API has them
		`{"id":"b","pattern":"{\"source\":[\"orders\"]}","event":"{\"source\":\"shop\"}"}`,
		``,
		`   `,
		`not json`,
		`["an","array"]`,
		`{"id":"c","event":{}}`,
		`{"id":"d","pattern":{"a":[1]}}`,
		`{"id":"e","pattern":{"a":[{"numeric":["=",2.0e422]}]},"event":{}}`,
		`{"id":"f","pattern":{"a":[1]},"event":null}`,
		`{"id":"g","pattern":42,"event":{}}`,
		`{"id":"h","pattern":{"a":[1]},"event":"[1]"}`,
		`{"Result":true,"id":"i","Error":"old","pattern":{"a":[1]},"event":{"a":1},"Explanation":[]}`,
		`{"pattern":{"a":[1]},"event":{"a":1}}`,
		`{"id":"<&>","pattern":{"a":[1]},"event":{"a":1}}` + "\r",
	}, "\n") // no final newline: the last line still counts
	want := strings.Join([]string{
		`{"id":"a","note":{"x": 1.50},"big":1e999,"Result":true}`,
		`{"id":"b","Result":false}`,
		`{"Error":"line 5: invalid JSON: invalid character 'o' in literal null (expecting 'u') at offset 1"}`,
		`{"Error":"line 6: must be a JSON object"}`,
		`{"id":"c","Error":"line 7: no \"pattern\" field"}`,
		`{"id":"d","Error":"line 8: no \"event\" field"}`,
		`{"id":"e","Error":"pattern: a: numeric: number 2.0e422 is out of range"}`,
		`{"id":"f","Error":"event: must be a JSON object or a string holding one, not null"}`,
		`{"id":"g","Error":"pattern: must be a JSON object or a string holding one, not a number"}`,
		`{"id":"h","Error":"event: must be a JSON object"}`,
		`{"id":"i","Result":true}`,
		`{"Result":true}`,
		`{"id":"<&>","Result":true}`,
	}, "\n") + "\n"
	var out bytes.Buffer
	if err := Batch(strings.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestBatchExplain(t *testing.T) {
	in := `{"id":1,"pattern":{"a":["x"]},"event":{"a":"y"}}
{"id":2,"pattern":{"a":["x"]},"event":{"a":"x"}}
{"id":3,"pattern":{"$or":[{"a":["x"]},{"b":[{"exists":true}]}]},"event":{"a":"y"}}
`
	want := `{"id":1,"Result":false,"Explanation":[{"alternative":1,"path":"a","pattern":["x"],"event":"y","reason":"no value matches"}]}
{"id":2,"Result":true}
{"id":3,"Result":false,"Explanation":[{"alternative":1,"path":"a","pattern":["x"],"event":"y","reason":"no value matches"},{"alternative":2,"path":"b","pattern":[{"exists":true}],"reason":"field is missing"}]}
`
	var out bytes.Buffer
	if err := Batch(strings.NewReader(in), &out, true); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestBatchLongLine(t *testing.T) {
	long := strings.Repeat("x", 3<<20) // past any bufio.Scanner default
	in := `{"id":1,"pattern":{"a":["x"]},"event":{"a":"x","pad":"` + long + `"}}` + "\n"
	var out bytes.Buffer
	if err := Batch(strings.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != `{"id":1,"Result":true}`+"\n" {
		t.Errorf("got %s", out.String())
	}
}

func TestPatternCache(t *testing.T) {
	tr := tester{cache: map[string]compiled{}}
	p1, _ := tr.compile([]byte(`{"a":["x"]}`))
	p2, _ := tr.compile([]byte(`{"a":["x"]}`))
	if p1 == nil || p1 != p2 {
		t.Errorf("the same pattern text compiled twice: %p, %p", p1, p2)
	}
	_, err1 := tr.compile([]byte(`{"a":1}`))
	_, err2 := tr.compile([]byte(`{"a":1}`))
	if err1 == nil || err1 != err2 {
		t.Errorf("compile errors not cached: %v, %v", err1, err2)
	}
	for i := range cacheSize + 10 {
		tr.compile(fmt.Appendf(nil, `{"a":[%d]}`, i))
	}
	if len(tr.cache) > cacheSize {
		t.Errorf("cache holds %d patterns, more than %d", len(tr.cache), cacheSize)
	}
}

type failingReader struct{ data io.Reader }

func (r failingReader) Read(p []byte) (int, error) {
	n, err := r.data.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestBatchIOErrors(t *testing.T) {
	var out bytes.Buffer
	err := Batch(failingReader{strings.NewReader(`{"pattern":{"a":[1]},"event":{"a":1}}` + "\n")}, &out, false)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v, want an *InputError", err)
	}
	if out.String() != `{"Result":true}`+"\n" {
		t.Errorf("lines before the read error not flushed: %q", out.String())
	}
	err = Batch(strings.NewReader(`{"pattern":{"a":[1]},"event":{"a":1}}`), failingWriter{}, false)
	if err == nil || errors.As(err, &ie) {
		t.Errorf("write error: %v, want a plain error", err)
	}
}

// FuzzBatch: whatever comes in, one valid JSON object comes out per
// non-blank line, with a Result or an Error, and nothing panics.
func FuzzBatch(f *testing.F) {
	f.Add([]byte(`{"id":1,"pattern":{"a":[{"numeric":[">",1e308]}]},"event":{"a":2}}`), true)
	f.Add([]byte(`{"pattern":"{\"a\":[\"x\"]}","event":"{\"a\":[\"x\",{\"b\":1}]}"}`+"\n\n{"), false)
	f.Add([]byte(`{"pattern":{"$or":[{"a":[1]},{"b":{"c":[{"wildcard":"*x"}]}}]},"event":{"b":{"c":"yx"}},"n":-0.0}`), true)
	f.Fuzz(func(t *testing.T, in []byte, explain bool) {
		var out bytes.Buffer
		if err := Batch(bytes.NewReader(in), &out, explain); err != nil {
			t.Fatal(err)
		}
		want := 0
		for l := range bytes.SplitSeq(in, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				want++
			}
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if out.Len() == 0 {
			lines = nil
		}
		if len(lines) != want {
			t.Fatalf("%d lines out for %d in", len(lines), want)
		}
		for _, l := range lines {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("output line %s: %v", l, err)
			}
			if !strings.Contains(l, `"Result":`) && !strings.Contains(l, `"Error":`) {
				t.Fatalf("output line %s has neither Result nor Error", l)
			}
		}
	})
}
