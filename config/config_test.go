package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// TestValidFiles loads every file in testdata/valid.
func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.Rules {
				if r.Compiled == nil {
					t.Errorf("rule %s: not compiled", r.Name)
				}
			}
		})
	}
}

// TestInvalidFiles loads every file in testdata/invalid: each "# want:"
// line is a substring of one problem reported, and no other problem is.
func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for line := range strings.Lines(string(data)) {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, strings.TrimSuffix(w, "\n"))
				}
			}
			if len(wants) == 0 {
				t.Fatal("no # want: lines")
			}
			_, err = Load(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			got := []string{err.Error()}
			var es Errors
			if errors.As(err, &es) {
				got = got[:0]
				for _, e := range es {
					got = append(got, e.Error())
				}
			}
			for _, w := range wants {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
					t.Errorf("no problem contains %q", w)
				}
			}
			if len(got) != len(wants) {
				t.Errorf("%d problems, want %d", len(got), len(wants))
			}
			if t.Failed() {
				t.Logf("got:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Defaults()) {
		t.Errorf("Load(\"\") without config.yaml:\n got %+v\nwant %+v", c, Defaults())
	}
	if c.HTTP.Listen != "127.0.0.1:8080" || c.Bus.Type != BusNATSEmbedded || c.Bus.NATS.Listen != "127.0.0.1:4222" || len(c.Rules) != 0 {
		t.Errorf("defaults are not embedded NATS and HTTP on loopback: %+v", c)
	}
	if !c.HTTP.SNS.VerifySignatures {
		t.Error("SNS signatures are not verified by default")
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("Defaults() is invalid: %v", err)
	}
}

func TestDefaultFile(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(DefaultFile, []byte("region: eu-central-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.File != DefaultFile || c.Region != "eu-central-1" {
		t.Errorf("File %q, Region %q: config.yaml was not read", c.File, c.Region)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}

func TestConsumerDefaults(t *testing.T) {
	c, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Consumers["audit"]
	want := DefaultConsumer()
	want.Sink = Sink{Type: "log"}
	got.Sink.Spec = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("consumer defaults:\n got %+v\nwant %+v", got, want)
	}
	if c.Rules[0].Bus != "default" || !slices.Equal(c.Rules[0].Targets, []string{"audit"}) {
		t.Errorf("rule bus %q, targets %q; want default, [audit]", c.Rules[0].Bus, c.Rules[0].Targets)
	}
}

func TestFull(t *testing.T) {
	c, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, ok := c.Consumers["Inventory"]
	if !ok {
		t.Fatalf("consumer name lost its case: %v", slices.Sorted(func(yield func(string) bool) {
			for k := range c.Consumers {
				if !yield(k) {
					return
				}
			}
		}))
	}
	wantSpec := map[string]any{
		"url":     "https://inventory.internal/events",
		"method":  "PUT",
		"timeout": "5s",
		"headers": map[string]any{"X-Api-Key": "abc", "Content-Type": "application/json"},
	}
	if !reflect.DeepEqual(inv.Sink.Spec, wantSpec) {
		t.Errorf("sink spec:\n got %#v\nwant %#v", inv.Sink.Spec, wantSpec)
	}
	wantRetry := Retry{MaxAttempts: 3, MaxEventAge: 90 * time.Second, InitialBackoff: 250 * time.Millisecond, MaxBackoff: 10 * time.Second}
	if inv.Retry != wantRetry || inv.Concurrency != 64 || inv.Timeout != 7*time.Second || inv.DLQ {
		t.Errorf("consumer: %+v", inv)
	}
	if n := c.Consumers["notification"].MaxBacklog; n != 100000 {
		t.Errorf("notification max_backlog %d", n)
	}
	if got := c.Rules[0].Compiled.String(); !strings.Contains(got, `"customerId"`) {
		t.Errorf("pattern keys lost their case: %s", got)
	}
	if js, _ := c.Schemas[1].InlineJSON(); !strings.Contains(string(js), `"additionalProperties":false`) {
		t.Errorf("schema keys lost their case: %s", js)
	}
	if c.Bus.Sync != SyncAlways || c.Bus.Replicas != 3 || len(c.Bus.NATS.Cluster.Routes) != 2 || c.Bus.NATS.Cluster.ServerName != "node1" || c.Bus.NATS.MaxStore != 10<<30 || c.Bus.NATS.MinFreeDisk != 2<<30 || c.Bus.DLQMaxAge != 14*24*time.Hour {
		t.Errorf("bus: %+v", c.Bus)
	}
	if cl := c.Bus.NATS.Cluster; cl.Password != "a-long-shared-secret" || cl.TLS != (ClusterTLS{CertFile: "node1.pem", KeyFile: "node1-key.pem", CAFile: "cluster-ca.pem"}) {
		t.Errorf("bus.nats.cluster: %+v", cl)
	}
	if c.HTTP.Throttle != (Throttle{Rate: 0.5, Burst: 3}) || !c.HTTP.Auth.Enabled() || !c.HTTP.TLS.Enabled() {
		t.Errorf("http: %+v", c.HTTP)
	}
	wantSNS := SNS{ConfirmHosts: []string{"sns.eu-west-1.amazonaws.com"}, CertHosts: []string{"sns.us-iso-east-1.c2s.ic.gov"},
		Topics: []string{"arn:aws:sns:eu-west-1:123456789012:photos-events", "arn:aws-cn:sns:cn-north-1:123456789012:orders.fifo"}}
	if !reflect.DeepEqual(c.HTTP.SNS, wantSNS) {
		t.Errorf("http.sns: %+v, want %+v", c.HTTP.SNS, wantSNS)
	}
	if c.Account != "123456789012" || c.Log != (Log{Level: "debug", Format: "json"}) {
		t.Errorf("account %q, log %+v", c.Account, c.Log)
	}
}

func TestEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	err := os.WriteFile(path, []byte(`
http:
  listen: 127.0.0.1:8080
rules:
  - {name: r, pattern: {source: [a]}, targets: [vip-alerts, VipAlerts, bare]}
consumers:
  vip-alerts:
    sink: {type: http, url: http://127.0.0.1:9001/vip-alerts}
  VipAlerts:
    sink: {type: log}
  bare:
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"EVENTROUTER_HTTP_LISTEN":                             "127.0.0.1:9999", // in the file
		"EVENTROUTER_HTTP_METRICS_LISTEN":                     "127.0.0.1:9102", // absent from the file
		"EVENTROUTER_HTTP_THROTTLE_RATE":                      "2.5",
		"EVENTROUTER_HTTP_THROTTLE_BURST":                     "5",
		"EVENTROUTER_BUS_TYPE":                                "memory",
		"EVENTROUTER_BUS_NATS_CLUSTER_ROUTES":                 "nats-route://a:6222, nats-route://b:6222",
		"EVENTROUTER_BUS_NATS_CLUSTER_PASSWORD":               "s3cret",
		"EVENTROUTER_LOG_LEVEL":                               "debug",
		"EVENTROUTER_ACCOUNT":                                 "111122223333",
		"EVENTROUTER_CONSUMERS_VIP_ALERTS_RETRY_MAX_ATTEMPTS": "3",
		"EVENTROUTER_CONSUMERS_VIP_ALERTS_DLQ":                "false",
		"EVENTROUTER_CONSUMERS_VIP_ALERTS_SINK_URL":           "http://127.0.0.1:9002/x",
		"EVENTROUTER_CONSUMERS_VIPALERTS_RETRY_MAX_EVENT_AGE": "1h",
		"EVENTROUTER_CONSUMERS_BARE_SINK_TYPE":                "log",
		"EVENTROUTER_HTTP_SNS_VERIFY_SIGNATURES":              "false",
		"EVENTROUTER_HTTP_SNS_CERT_HOSTS":                     "sns.a.example,sns.b.example",
	} {
		t.Setenv(k, v)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("http.listen", c.HTTP.Listen, "127.0.0.1:9999")
	check("http.metrics_listen", c.HTTP.MetricsListen, "127.0.0.1:9102")
	check("http.throttle", c.HTTP.Throttle, Throttle{Rate: 2.5, Burst: 5})
	check("bus.type", c.Bus.Type, BusMemory)
	check("bus.nats.cluster.routes", c.Bus.NATS.Cluster.Routes, []string{"nats-route://a:6222", "nats-route://b:6222"})
	check("bus.nats.cluster.password", c.Bus.NATS.Cluster.Password, "s3cret")
	check("log.level", c.Log.Level, "debug")
	check("account", c.Account, "111122223333")
	va := c.Consumers["vip-alerts"]
	check("vip-alerts max_attempts", va.Retry.MaxAttempts, 3)
	check("vip-alerts dlq", va.DLQ, false)
	check("vip-alerts sink url", va.Sink.Spec["url"], "http://127.0.0.1:9002/x")
	check("vip-alerts max_event_age", va.Retry.MaxEventAge, 24*time.Hour)
	check("VipAlerts max_event_age", c.Consumers["VipAlerts"].Retry.MaxEventAge, time.Hour)
	check("bare sink type", c.Consumers["bare"].Sink.Type, "log")
	check("region (not overridden)", c.Region, "local")
	check("http.sns", c.HTTP.SNS, SNS{VerifySignatures: false, CertHosts: []string{"sns.a.example", "sns.b.example"}})
}

func TestByteSize(t *testing.T) {
	for in, want := range map[any]ByteSize{
		"10GB": 10 << 30, "10 GB": 10 << 30, "10gib": 10 << 30, "10G": 10 << 30, "512MB": 512 << 20,
		"1.5T": 3 << 39, "64KiB": 64 << 10, "2048": 2048, "2048B": 2048, 4096: 4096, float64(8192): 8192, nil: 0,
	} {
		if got, err := toByteSize(in); err != nil || got != want {
			t.Errorf("toByteSize(%#v) = %v, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []any{"", "GB", "10XB", "10 GBB", "1.3B", "ten", "10I", 2.5, true} {
		if got, err := toByteSize(in); err == nil {
			t.Errorf("toByteSize(%#v) = %v, want an error", in, got)
		}
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("bus: {data_dir: ./data}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVENTROUTER_BUS_NATS_MAX_STORE", "512MiB")
	if c, err := Load(path); err != nil || c.Bus.NATS.MaxStore != 512<<20 {
		t.Errorf("EVENTROUTER_BUS_NATS_MAX_STORE=512MiB: %v", err)
	}
}

// TestMinFreeDisk checks bus.nats.min_free_disk: left out it stands for
// the default the bus picks at start, 0 turns the guard off, and a size is
// read as max_store is, from the file or the environment.
func TestMinFreeDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	load := func(yaml string) ByteSize {
		t.Helper()
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		return c.Bus.NATS.MinFreeDisk
	}
	if got := load("bus: {data_dir: ./data}\n"); got != DefaultMinFreeDisk {
		t.Errorf("left out: %d, want DefaultMinFreeDisk", got)
	}
	if got := Defaults().Bus.NATS.MinFreeDisk; got != DefaultMinFreeDisk {
		t.Errorf("without a config file: %d, want DefaultMinFreeDisk", got)
	}
	if got := load("bus: {nats: {min_free_disk: 0}}\n"); got != 0 {
		t.Errorf("0: %d, want 0 (off)", got)
	}
	if got := load("bus: {nats: {min_free_disk: 2GB}}\n"); got != 2<<30 {
		t.Errorf("2GB: %d", got)
	}
	t.Setenv("EVENTROUTER_BUS_NATS_MIN_FREE_DISK", "0")
	if got := load("bus: {nats: {min_free_disk: 2GB}}\n"); got != 0 {
		t.Errorf("EVENTROUTER_BUS_NATS_MIN_FREE_DISK=0 over 2GB: %d, want 0", got)
	}
}

func TestEnvOverrideInvalid(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("EVENTROUTER_HTTP_MAX_BODY_BYTES", "lots")
	t.Setenv("EVENTROUTER_BUS_TYPE", "kafka")
	_, err := Load("")
	if err == nil || !strings.Contains(err.Error(), `http.max_body_bytes (from EVENTROUTER_HTTP_MAX_BODY_BYTES): expected an integer, got "lots"`) {
		t.Errorf("got %v", err)
	}
	t.Setenv("EVENTROUTER_HTTP_MAX_BODY_BYTES", "1024")
	_, err = Load("")
	if err == nil || !strings.Contains(err.Error(), `bus.type (from EVENTROUTER_BUS_TYPE): "kafka" is not one of`) {
		t.Errorf("got %v", err)
	}
	// Problems with values from the file say nothing of the environment.
	os.WriteFile("c.yaml", []byte("http: {listen: bad}\nlog: {level: loud}\nbus: {nats: {cluster: {name: c, listen: 127.0.0.1:6222}}}\n"), 0o644)
	t.Setenv("EVENTROUTER_HTTP_LISTEN", "also-bad")
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_ROUTES", "nats-route://a:6222,http://b")
	t.Setenv("EVENTROUTER_BUS_TYPE", "")
	_, err = Load("c.yaml")
	for _, want := range []string{
		`config: c.yaml: 3 problems:`,
		`http.listen (from EVENTROUTER_HTTP_LISTEN): "also-bad" is not a host:port address`,
		`log.level: "loud" is not one of`,
		`bus.nats.cluster.routes[1] (from EVENTROUTER_BUS_NATS_CLUSTER_ROUTES): "http://b"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestInsecure(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("EVENTROUTER_HTTP_LISTEN", ":8080")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("public listener without auth: got %v", err)
	}
	c, err := Load("", WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Insecure {
		t.Error("Insecure not set")
	}
}

// TestClusterInsecure checks that a cluster listening on a public address
// needs a password or TLS, and that --insecure lets it go without, as it
// lets http.listen go without auth.
func TestClusterInsecure(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_NAME", "c")
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_LISTEN", ":6222")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.listen (from EVENTROUTER_BUS_NATS_CLUSTER_LISTEN): :6222 is not a loopback address") {
		t.Errorf("public cluster port without a password: got %v", err)
	}
	if _, err := Load("", WithInsecure(true)); err != nil {
		t.Errorf("with --insecure: %v", err)
	}
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_TLS_CERT_FILE", "node.pem")
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_TLS_KEY_FILE", "node-key.pem")
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_TLS_CA_FILE", "ca.pem")
	if _, err := Load(""); err != nil {
		t.Errorf("with tls: %v", err)
	}
	for _, k := range []string{"CERT_FILE", "KEY_FILE", "CA_FILE"} {
		t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_TLS_"+k, "")
	}
	t.Setenv("EVENTROUTER_BUS_NATS_CLUSTER_PASSWORD", "s3cret")
	if _, err := Load(""); err != nil {
		t.Errorf("with a password: %v", err)
	}
}

func TestErrorsUnwrap(t *testing.T) {
	_, err := Load("testdata/invalid/patterns.yaml")
	var es Errors
	if !errors.As(err, &es) || len(es) != 4 {
		t.Fatalf("errors.As(Errors): %v", err)
	}
	var re *rules.Error
	if !errors.As(err, &re) || re.Path != "detail.total" {
		t.Errorf("errors.As(*rules.Error) = %v", re)
	}
	if es[0].Path != "rules[0].pattern" {
		t.Errorf("first problem at %q", es[0].Path)
	}
	if !strings.HasPrefix(err.Error(), "config: testdata/invalid/patterns.yaml: 4 problems:\n") {
		t.Errorf("message starts %q", err.Error())
	}
}

// TestExample loads the example config users copy, so it cannot rot: the
// order flow sends every OrderCreated to three consumers and big orders
// to vip-alerts too.
func TestExample(t *testing.T) {
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	consumers := slices.Sorted(func(yield func(string) bool) {
		for k := range c.Consumers {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"analytics", "inventory", "notification", "vip-alerts"}; !slices.Equal(consumers, want) {
		t.Fatalf("consumers %v, want %v", consumers, want)
	}
	for name, cs := range c.Consumers {
		if cs.Sink.Type != "file" && cs.Sink.Type != "log" {
			t.Errorf("consumer %s: sink %q needs another service; the example must run alone", name, cs.Sink.Type)
		}
		if p, _ := cs.Sink.Spec["path"].(string); cs.Sink.Type == "file" && !strings.HasPrefix(p, "./data/out/") {
			t.Errorf("consumer %s: file sink path %q is not under ./data/out/", name, p)
		}
	}
	if c.Bus.Type != BusNATSEmbedded || c.Bus.DataDir != "./data" {
		t.Errorf("bus %+v", c.Bus)
	}

	var rs []rules.Rule
	targets := map[string][]string{}
	for _, r := range c.Rules {
		rs = append(rs, rules.Rule{Name: r.Name, Pattern: r.Compiled})
		targets[r.Name] = r.Targets
	}
	table, err := rules.NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	deliveries := func(total string) []string {
		ev := `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"OrderCreated",` +
			`"source":"orders.service","account":"000000000000","time":"2026-11-28T06:21:54Z","region":"local",` +
			`"resources":[],"detail":{"orderId":"o-1","customerId":"c-9","total":` + total + `}}`
		var got []string
		for _, r := range table.Match([]byte(ev)) {
			got = append(got, targets[r]...)
		}
		slices.Sort(got)
		return slices.Compact(got)
	}
	if got, want := deliveries("1250"), []string{"analytics", "inventory", "notification", "vip-alerts"}; !slices.Equal(got, want) {
		t.Errorf("total 1250 goes to %v, want %v", got, want)
	}
	if got, want := deliveries("20"), []string{"analytics", "inventory", "notification"}; !slices.Equal(got, want) {
		t.Errorf("total 20 goes to %v, want %v", got, want)
	}
	if got, want := deliveries("1000"), []string{"analytics", "inventory", "notification", "vip-alerts"}; !slices.Equal(got, want) {
		t.Errorf("total 1000 goes to %v, want %v", got, want)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"listen", "metrics_listen", "max_body_bytes", "detail-type"}
	for in, want := range map[string]string{
		"lisen": "listen", "LISTEN": "listen", "max-body-bytes": "max_body_bytes",
		"detail_type": "detail-type", "xyz": "", "metrics": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestJSONLiterals checks that patterns and inline schemas keep each value
// as written rather than as YAML would convert it: a date stays a string,
// a number keeps its spelling, an alias or merge key reads the same.
func TestJSONLiterals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`
schemas:
  - source: a
    detail-type: b
    schema: {properties: {since: {const: 2026-01-01}, total: {maximum: 1.50}}}
rules:
  - name: r
    pattern: &p
      detail: {since: [2026-01-01], zip: ["01234"], n: [1.50, 1e3, -0, 12345678901234567890], ok: [yes, true, null]}
      <<: {source: [a]}
    targets: [c]
  - name: alias
    pattern: *p
    targets: [c]
consumers:
  c: {sink: {type: log}}
`), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"detail":{"n":[1.50,1e3,-0,12345678901234567890],"ok":["yes",true,null],"since":["2026-01-01"],"zip":["01234"]},"source":["a"]}`
	for _, r := range c.Rules {
		if js, err := r.PatternJSON(); err != nil || string(js) != want {
			t.Errorf("rule %s: pattern\n got %s (%v)\nwant %s", r.Name, js, err, want)
		}
	}
	wantSchema := `{"properties":{"since":{"const":"2026-01-01"},"total":{"maximum":1.50}}}`
	if js, err := c.Schemas[0].InlineJSON(); err != nil || string(js) != wantSchema {
		t.Errorf("schema\n got %s (%v)\nwant %s", js, err, wantSchema)
	}
}

// TestNoSettings checks that a config file with no settings is refused,
// naming the file, while no file at all still means the defaults.
func TestNoSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, content := range []string{"", "\n", "# only a comment\n", "---\n", "{}\n", "--- # c\n...\n", "rules:\n", "rules:\nconsumers: ~\n", "rules:\nlog:\n  level:\n", "rules: []\n"} {
		os.WriteFile("c.yaml", []byte(content), 0o644)
		_, err := Load("c.yaml")
		if err == nil || !strings.Contains(err.Error(), "config: c.yaml: the file holds no settings") {
			t.Errorf("%q: got %v", content, err)
		}
	}
	os.WriteFile(DefaultFile, nil, 0o644)
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), DefaultFile+": the file holds no settings") {
		t.Errorf("empty %s in the working directory: got %v", DefaultFile, err)
	}
	os.Remove(DefaultFile)
	if _, err := Load(""); err != nil {
		t.Errorf("no config file: %v", err)
	}
}

// TestValidateChecks checks how Validate merges the problems of checks
// owned by other packages: in file order, and without those where the
// config's own checks found the entry malformed already.
func TestValidateChecks(t *testing.T) {
	c := Defaults()
	c.Schemas = []Schema{{Source: "a", Schema: map[string]any{}}}
	b := DefaultConsumer()
	b.Sink.Type = "x"
	c.Consumers = map[string]Consumer{"b": b, "a": DefaultConsumer()}
	check := func(*Config) Errors {
		return Errors{
			{Path: "consumers.b.sink", Reason: "from check"},
			{Path: "consumers.a.sink", Reason: "dropped: sink.type is required"},
			{Path: "schemas[0]", Reason: "dropped: detail-type is required"},
			{Path: "schemas[10]", Reason: "from check"},
			{Path: "account", Reason: "from check"},
		}
	}
	var got []string
	for _, e := range c.Validate(check).(Errors) {
		got = append(got, e.Error())
	}
	want := []string{
		`account: from check`,
		`schemas[0].detail-type: is required`,
		`schemas[10]: from check`,
		`consumers.a.sink.type: is required (http, file, nats, log)`,
		`consumers.b.sink: from check`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUnknownEnvRefused checks that an EVENTROUTER_* variable that
// overrides no key is refused, as an unknown key in the file is, and that a
// consumer's keys may be overridden once the consumer is in the file.
func TestUnknownEnvRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("c.yaml", []byte("consumers:\n  ship-it: {sink: {type: log}}\n"), 0o644)
	t.Setenv("EVENTROUTER_CONSUMERS_SHIP_IT_CONCURRENCY", "3")
	c, err := Load("c.yaml")
	if err != nil || c.Consumers["ship-it"].Concurrency != 3 {
		t.Fatalf("override of a consumer's key: %v", err)
	}
	t.Setenv("EVENTROUTER_HTTP_NOSUCH", "1")
	t.Setenv("EVENTROUTER_CONSUMERS_NOPE_CONCURRENCY", "3")
	_, err = Load("c.yaml")
	for _, want := range []string{"EVENTROUTER_CONSUMERS_NOPE_CONCURRENCY: overrides no key of this config", "EVENTROUTER_HTTP_NOSUCH: overrides no key of this config"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
