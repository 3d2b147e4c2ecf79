package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/app"
	"github.com/eventrouter/eventrouter/config"
)

func TestConfigValidate(t *testing.T) {
	r := run(t, "", "config", "validate", "--config", "../../config.example.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "valid (") {
		t.Fatalf("example config: %+v", r)
	}
	bad := writeFile(t, "bad.yaml", `rules:
  - name: r
    pattern: {a: [{numeric: [">", 5, "<", 1]}]}
    targets: [nobody]
consumers:
  c: {sink: {type: http, url: "http://x", timeot: 5s}}
`)
	r = run(t, "", "config", "validate", "--config", bad)
	if r.code != 2 {
		t.Fatalf("bad config exit %d: %+v", r.code, r)
	}
	for _, want := range []string{"rules[0].pattern", "rules[0].targets[0]"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, r.stderr)
		}
	}
	empty := writeFile(t, "empty.yaml", "# nothing yet\n")
	if r = run(t, "", "config", "validate", "--config", empty); r.code != 2 || !strings.Contains(r.stderr, "empty.yaml: the file holds no settings") {
		t.Errorf("empty file: %+v", r)
	}
	sinkBad := writeFile(t, "sink.yaml", `consumers:
  c: {sink: {type: http, url: "http://127.0.0.1:1/x", timeot: 5s}}
`)
	r = run(t, "", "config", "validate", "--config", sinkBad)
	if r.code != 2 || !strings.Contains(r.stderr, "consumers.c.sink") || !strings.Contains(r.stderr, "timeot") {
		t.Errorf("sink key typo: %+v", r)
	}
	// The TLS files are read and checked, not only named.
	garbage := writeFile(t, "garbage.pem", "not a certificate\n")
	tlsBad := writeFile(t, "tls.yaml", "http: {tls: {cert_file: "+garbage+", key_file: "+garbage+"}}\n")
	r = run(t, "", "config", "validate", "--config", tlsBad)
	if want := "http.tls.cert_file: " + garbage + " holds no PEM certificate"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("garbage http.tls.cert_file: want exit 2 and %q; got %+v", want, r)
	}
	// Every sink and schema problem, in file order, whatever the map order.
	sinks := writeFile(t, "sinks.yaml", `schemas:
  - {source: a, detail-type: b, schema: {type: 5}}
consumers:
  c: {sink: {type: nats}, retry: {max_attempts: 0}}
  a: {sink: {type: http}}
  d: {sink: {type: file, path: /proc/nonexist/x.jsonl}}
  b: {sink: {type: file}}
  e: {sink: {type: ""}}
`)
	want := sinks + `: 7 problems:
schemas[0].schema: not a valid schema: at /type: `
	wantOrder := []string{"consumers.a.sink: httpsink", "consumers.b.sink: filesink", "consumers.c.retry.max_attempts",
		"consumers.c.sink: natssink", "consumers.d.sink.path: cannot create /proc/nonexist/x.jsonl", "consumers.e.sink.type: is required"}
	for range 3 {
		r = run(t, "", "config", "validate", "--config", sinks)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		ok := r.code == 2 && strings.Contains(r.stderr, want) && len(lines) == 2+len(wantOrder)
		for i, w := range wantOrder {
			ok = ok && strings.HasPrefix(lines[min(2+i, len(lines)-1)], w)
		}
		if !ok {
			t.Fatalf("sink problems: want %q then lines starting %q; got %+v", want, wantOrder, r)
		}
	}
}

// TestConfigValidateSinkKeyFromEnv: a bad sink value set by an environment
// variable is reported at the sink key's path with the variable's name.
func TestConfigValidateSinkKeyFromEnv(t *testing.T) {
	path := writeFile(t, "c.yaml", `consumers:
  x: {sink: {type: http, url: "http://127.0.0.1:19301/x", timeout: 5s}}
`)
	t.Setenv("EVENTROUTER_CONSUMERS_X_SINK_TIMEOUT", "abc")
	r := run(t, "", "config", "validate", "--config", path)
	want := `consumers.x.sink.timeout (from EVENTROUTER_CONSUMERS_X_SINK_TIMEOUT): invalid duration "abc"`
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("want exit 2 and %q; got %+v", want, r)
	}
}

// TestOnlineCommands drives a routerd started in this process: put-events,
// dlq list / replay / purge, reload.
func TestOnlineCommands(t *testing.T) {
	var fixed atomic.Bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			http.Error(w, "gone", http.StatusGone)
		}
	}))
	defer hook.Close()
	path := writeFile(t, "routerd.yaml", fmt.Sprintf(`http: {listen: "127.0.0.1:0"}
bus: {type: memory}
rules:
  - {name: orders, pattern: {source: [orders.service]}, targets: [hook]}
consumers:
  hook: {sink: {type: http, url: %q}}
`, hook.URL))
	ep := "--endpoint=http://" + startRouterd(t, path)

	r := run(t, "", "put-events", ep, "--source", "orders.service", "--detail-type", "OrderCreated", "--detail", `{"total":5}`)
	var res struct {
		FailedEntryCount int
		Entries          []struct{ EventId string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Entries[0].EventId == "" {
		t.Fatalf("put-events: %+v", r)
	}
	entries := writeFile(t, "entries.json", `[{"Source":"orders.service","DetailType":"OrderCreated","Detail":"{}"},{"Source":"","DetailType":"x","Detail":"{}"}]`)
	r = run(t, "", "put-events", ep, "--entries", "@"+entries)
	if r.code != 1 || !strings.Contains(r.stderr, "1 of 2 entries failed") || !strings.Contains(r.stdout, "InvalidArgument") {
		t.Errorf("put-events with a bad entry: %+v", r)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		r = run(t, "", "dlq", "list", ep, "--consumer", "hook")
		if strings.Count(r.stdout, "\n") == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.code != 0 || !strings.Contains(r.stdout, `"error_code":"HTTP_410"`) || !strings.Contains(r.stderr, "2 of 2 dead letters") {
		t.Fatalf("dlq list: %+v", r)
	}
	fixed.Store(true)
	r = run(t, "", "dlq", "replay", ep, "--consumer", "hook", "--limit", "1")
	if r.code != 0 || !strings.Contains(r.stdout, `"replayed":1`) {
		t.Errorf("dlq replay: %+v", r)
	}
	r = run(t, "", "dlq", "purge", ep, "--consumer", "hook")
	if r.code != 0 || !strings.Contains(r.stdout, `"purged":1`) {
		t.Errorf("dlq purge: %+v", r)
	}
	if r = run(t, "", "dlq", "list", ep, "--consumer", "nobody"); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("unknown consumer: %+v", r)
	}
	if r = run(t, "", "reload", ep); r.code != 0 {
		t.Errorf("reload: %+v", r)
	}
	if r = run(t, "", "dlq", "list", "--endpoint=http://127.0.0.1:1", "--consumer", "hook"); r.code != 1 || !strings.Contains(r.stderr, "cannot reach routerd") {
		t.Errorf("unreachable: %+v", r)
	}
}

// TestDLQLimitDefaults checks the limit each dlq subcommand sends when
// --limit is not given: list and replay have defaults of their own.
func TestDLQLimitDefaults(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.RawQuery
		fmt.Fprintln(w, `{"consumer":"c","total":0,"entries":[],"replayed":0}`)
	}))
	defer srv.Close()
	for _, c := range []struct{ cmd, want string }{
		{"list", "GET limit=100"},
		{"replay", "POST limit=10000"},
	} {
		if r := run(t, "", "dlq", c.cmd, "--endpoint", srv.URL, "--consumer", "c"); r.code != 0 {
			t.Fatalf("dlq %s: %+v", c.cmd, r)
		}
		if q := <-got; q != c.want {
			t.Errorf("dlq %s sent %q, want %q", c.cmd, q, c.want)
		}
	}
}

// TestPutEventsEntriesNotAList checks that --entries that is not a JSON
// array is refused in words, not with a Go type.
func TestPutEventsEntriesNotAList(t *testing.T) {
	for in, want := range map[string]string{
		`{"Source":"a","DetailType":"b"}`: "want a JSON array of entries, [{",
		`"x"`:                             "got a JSON string",
		`[{"Source":`:                     "want a JSON array of entries: unexpected end of JSON input",
	} {
		r := run(t, "", "put-events", "--endpoint=http://127.0.0.1:1", "--entries", in)
		if r.code != 2 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "RawMessage") {
			t.Errorf("--entries %s: want exit 2 and %q: %+v", in, want, r)
		}
	}
}

// TestOnlineSigV4 drives a routerd that knows only SigV4 keys (and one API
// key) with routerctl signing: from the flags, from the AWS environment
// variables, and refused with a wrong secret or alongside --token.
func TestOnlineSigV4(t *testing.T) {
	const opsKey = "ops-api-key-for-the-test"
	sum := sha256.Sum256([]byte(opsKey))
	path := writeFile(t, "routerd.yaml", `http:
  listen: "127.0.0.1:0"
  auth:
    api_keys:
      - {name: ops, sha256: "`+hex.EncodeToString(sum[:])+`", scopes: [admin]}
    sigv4:
      - {access_key_id: AKIDSHOP, secret_access_key: shop-secret, scopes: [ingest]}
      - {access_key_id: AKIDOPS, secret_access_key: ops/secret+key, scopes: [ingest, admin]}
bus: {type: memory}
rules:
  - {name: orders, pattern: {source: [orders.service]}, targets: [out]}
consumers:
  out: {sink: {type: log}}
`)
	ep := "--endpoint=http://" + startRouterd(t, path)
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(v, "")
	}
	ops := []string{"--access-key-id", "AKIDOPS", "--secret-access-key", "ops/secret+key"}
	put := []string{"put-events", ep, "--source", "orders.service", "--detail-type", "OrderCreated", "--detail", `{"total":5}`}

	// Flags.
	if r := run(t, "", append([]string{"reload", ep}, ops...)...); r.code != 0 || !strings.Contains(r.stdout, `"reloaded":true`) {
		t.Errorf("reload signed with the flags: %+v", r)
	}
	if r := run(t, "", append(put, "--access-key-id", "AKIDSHOP", "--secret-access-key", "shop-secret", "--region", "eu-west-1")...); r.code != 0 || !strings.Contains(r.stdout, `"EventId"`) {
		t.Errorf("put-events signed with the flags: %+v", r)
	}
	if r := run(t, "", append([]string{"dlq", "list", ep, "--consumer", "out"}, ops...)...); r.code != 0 || !strings.Contains(r.stderr, "0 of 0 dead letters") {
		t.Errorf("dlq list signed with the flags: %+v", r)
	}
	// A wrong secret, and a key without the admin scope.
	r := run(t, "", "reload", ep, "--access-key-id", "AKIDOPS", "--secret-access-key", "wrong")
	if r.code != 1 || !strings.Contains(r.stderr, "403: InvalidSignatureException") || !strings.Contains(r.stderr, "signed with access key AKIDOPS from --access-key-id") {
		t.Errorf("wrong secret: %+v", r)
	}
	r = run(t, "", "dlq", "purge", ep, "--consumer", "out", "--access-key-id", "AKIDSHOP", "--secret-access-key", "shop-secret")
	if r.code != 1 || !strings.Contains(r.stderr, "403: AccessDeniedException") {
		t.Errorf("ingest key on the admin API: %+v", r)
	}
	// No credentials at all.
	if r = run(t, "", "reload", ep); r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Errorf("no credentials: %+v", r)
	}

	// The environment, when neither --token nor the flags are given.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDOPS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "ops/secret+key")
	t.Setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE")
	if r = run(t, "", "reload", ep); r.code != 0 {
		t.Errorf("reload signed with the environment: %+v", r)
	}
	if r = run(t, "", put...); r.code != 0 {
		t.Errorf("put-events signed with the environment: %+v", r)
	}
	// The flags win over the environment, and --token leaves it unread.
	if r = run(t, "", "reload", ep, "--access-key-id", "AKIDSHOP", "--secret-access-key", "shop-secret"); r.code != 1 ||
		!strings.Contains(r.stderr, "AccessDeniedException") || !strings.Contains(r.stderr, "AKIDSHOP from --access-key-id") {
		t.Errorf("flags over the environment: %+v", r)
	}
	if r = run(t, "", "reload", ep, "--token", opsKey); r.code != 0 {
		t.Errorf("--token with AWS variables set: %+v", r)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	if r = run(t, "", "reload", ep); r.code != 1 || !strings.Contains(r.stderr, "signed with access key AKIDOPS from AWS_ACCESS_KEY_ID") {
		t.Errorf("wrong secret in the environment: %+v", r)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if r = run(t, "", "reload", ep); r.code != 2 || !strings.Contains(r.stderr, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not") {
		t.Errorf("only AWS_ACCESS_KEY_ID: %+v", r)
	}

	// Usage errors, refused before anything is sent.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--token", opsKey, "--access-key-id", "AKIDOPS", "--secret-access-key", "x"},
			"--token: a bearer API key cannot go with --access-key-id and --secret-access-key, which sign with an AWS access key (SigV4)"},
		{[]string{"--token", opsKey, "--region", "eu-west-1"}, "--token: a bearer API key cannot go with --region"},
		{[]string{"--access-key-id", "AKIDOPS"}, "--secret-access-key: missing or empty"},
		{[]string{"--secret-access-key", "x"}, "--access-key-id: missing or empty"},
	} {
		if r = run(t, "", append([]string{"reload", ep}, c.args...)...); r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit 2 and %q; got %+v", c.args, c.want, r)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if r = run(t, "", "reload", ep, "--region", "eu-west-1"); r.code != 2 || !strings.Contains(r.stderr, "--region: signs nothing without an access key") {
		t.Errorf("--region alone: %+v", r)
	}
}

// startRouterd starts routerd in the test's process with the config file
// at path, stops it when the test ends, and returns its HTTP address.
func startRouterd(t *testing.T, path string) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(cfg, app.Options{})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Stop(ctx)
	})
	return a.Addr()
}
