package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSinkKeyFromEnv: a sink key set by an environment variable is refused
// at its own key path, naming the variable, as any other key is; the same
// value from the file names the key alone.
func TestSinkKeyFromEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644)
	os.WriteFile(path, []byte(`bus: {type: memory}
consumers:
  X: {sink: {type: http, url: "http://127.0.0.1:19301/x", timeout: 5s, headers: {X-Token: a}}}
  f: {sink: {type: file, path: `+dir+`/out.jsonl}}
  n: {sink: {type: nats, subject: out}}
  ty: {sink: {type: log}}
  bad: {sink: {type: http, url: "http://127.0.0.1:19301/x", timeout: soon}}
`), 0o644)
	for name, v := range map[string]string{
		"EVENTROUTER_CONSUMERS_X_SINK_TIMEOUT":         "abc",
		"EVENTROUTER_CONSUMERS_X_SINK_HEADERS_X_TOKEN": "two\nlines",
		"EVENTROUTER_CONSUMERS_F_SINK_PATH":            dir + "/blocker/out.jsonl",
		"EVENTROUTER_CONSUMERS_N_SINK_SUBJECT":         "a..b",
		"EVENTROUTER_CONSUMERS_TY_SINK_TYPE":           "bogus",
	} {
		t.Setenv(name, v)
	}
	_, err := Load(path, nil)
	for _, want := range []string{
		`consumers.bad.sink.timeout: invalid duration "soon"`,
		`consumers.f.sink.path (from EVENTROUTER_CONSUMERS_F_SINK_PATH): cannot create ` + dir + `/blocker/out.jsonl`,
		`consumers.n.sink.subject (from EVENTROUTER_CONSUMERS_N_SINK_SUBJECT): "a..b" has an empty token`,
		`consumers.X.sink.timeout (from EVENTROUTER_CONSUMERS_X_SINK_TIMEOUT): invalid duration "abc"`,
		`consumers.ty.sink.type (from EVENTROUTER_CONSUMERS_TY_SINK_TYPE): unknown sink type "bogus"`,
	} {
		if err == nil || !strings.Contains(err.Error(), "\n"+want) {
			t.Errorf("error lacks a line starting %q:\n%v", want, err)
		}
	}
	// One problem per sink: the timeout is found before the header.
	t.Setenv("EVENTROUTER_CONSUMERS_X_SINK_TIMEOUT", "")
	_, err = Load(path, nil)
	if want := "consumers.X.sink.headers.X-Token (from EVENTROUTER_CONSUMERS_X_SINK_HEADERS_X_TOKEN): value must be one line of text"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q:\n%v", want, err)
	}
}
