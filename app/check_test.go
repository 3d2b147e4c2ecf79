package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/testkit"
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

// TestTLSFilesChecked: the certificate files of the HTTP listener and of
// the cluster's routes are checked with the rest of the config (at start,
// on reload, by routerctl config validate), each problem at its key and
// naming the file; good files pass.
func TestTLSFilesChecked(t *testing.T) {
	dir := t.TempDir()
	ca, other := testkit.NewCA(t, "cluster CA"), testkit.NewCA(t, "other CA")
	nodeCert, nodeKey := ca.Node(t, "node")
	webCert, webKey := other.Node(t, "web")
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM\n"), 0o600)
	write := func(httpTLS, clusterTLS [3]string) string {
		t.Helper()
		path := filepath.Join(dir, "routerd.yaml")
		err := os.WriteFile(path, []byte(`http:
  tls: {cert_file: `+httpTLS[0]+`, key_file: `+httpTLS[1]+`}
bus:
  data_dir: `+dir+`/data
  replicas: 1
  nats:
    listen: 127.0.0.1:4222
    cluster:
      name: test
      listen: 127.0.0.1:6222
      routes: [nats-route://127.0.0.1:6223]
      tls: {cert_file: `+clusterTLS[0]+`, key_file: `+clusterTLS[1]+`, ca_file: `+clusterTLS[2]+`}
`), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	web, node := [3]string{webCert, webKey}, [3]string{nodeCert, nodeKey, ca.File}
	if _, err := Load(write(web, node), nil); err != nil {
		t.Fatalf("good files: %v", err)
	}
	for _, c := range []struct {
		name          string
		http, cluster [3]string
		want          string
	}{
		{"http cert not PEM", [3]string{garbage, webKey}, node, ": http.tls.cert_file: " + garbage + " holds no PEM certificate"},
		{"http key of another certificate", [3]string{webCert, nodeKey}, node, ": http.tls.key_file: " + nodeKey + " is not the private key of cert_file " + webCert},
		{"http key not PEM", [3]string{webCert, garbage}, node, ": http.tls.key_file: " + garbage + " holds no PEM private key"},
		{"http cert missing", [3]string{dir + "/gone.pem", webKey}, node, ": http.tls.cert_file: " + dir + "/gone.pem: no such file or directory"},
		{"cluster cert not PEM", web, [3]string{garbage, nodeKey, ca.File}, ": bus.nats.cluster.tls.cert_file: " + garbage + " holds no PEM certificate"},
		{"cluster CA of another", web, [3]string{nodeCert, nodeKey, other.File}, ": bus.nats.cluster.tls.ca_file: " + other.File + " does not hold the CA that signed cert_file " + nodeCert},
		{"cluster CA not PEM", web, [3]string{nodeCert, nodeKey, garbage}, ": bus.nats.cluster.tls.ca_file: " + garbage + " holds no PEM certificate"},
	} {
		if _, err := Load(write(c.http, c.cluster), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// Set by an environment variable, the key names it.
	t.Setenv("EVENTROUTER_HTTP_TLS_CERT_FILE", garbage)
	want := ": http.tls.cert_file (from EVENTROUTER_HTTP_TLS_CERT_FILE): " + garbage + " holds no PEM certificate"
	if _, err := Load(write(web, node), nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("from the environment: err = %v, want %q", err, want)
	}
}
