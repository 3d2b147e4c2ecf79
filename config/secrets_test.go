package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFiles reads the secrets given in files, trailing newlines
// trimmed, from the file and from the environment; and refuses a file
// beside its key, and one unreadable or empty, naming the key and the
// path.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	secret := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cluster, token, sigv4, env := secret("cluster", "cluster-secret\n"), secret("token", "nats-token\r\n"), secret("sigv4", "aws-secret"), secret("env", "from-env\n")
	config := func(cluster, nats, sigv4 string) string {
		t.Helper()
		path := filepath.Join(dir, "routerd.yaml")
		err := os.WriteFile(path, []byte(`
http:
  auth:
    sigv4:
      - {access_key_id: AKID, `+sigv4+`, scopes: [ingest]}
bus:
  replicas: 1
  nats:
    listen: 127.0.0.1:4222
    `+nats+`
    cluster:
      name: test
      listen: 10.0.0.1:6222
      routes: [nats-route://10.0.0.2:6222]
      `+cluster+`
`), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}

	c, err := Load(config("password_file: "+cluster, "token_file: "+token, "secret_access_key_file: "+sigv4))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Bus.NATS.Cluster.Password; got != "cluster-secret" {
		t.Errorf("bus.nats.cluster.password = %q", got)
	}
	if got := c.Bus.NATS.Token; got != "nats-token" {
		t.Errorf("bus.nats.token = %q", got)
	}
	if got := c.HTTP.Auth.SigV4[0].SecretAccessKey; got != "aws-secret" {
		t.Errorf("sigv4 secret = %q", got)
	}
	// Validated again, as Reload does, the file is read again.
	os.WriteFile(cluster, []byte("rotated\n"), 0o600)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.Bus.NATS.Cluster.Password; got != "rotated" {
		t.Errorf("bus.nats.cluster.password after the file changed = %q", got)
	}
	os.WriteFile(cluster, []byte("cluster-secret\n"), 0o600)

	t.Setenv("EVENTROUTER_BUS_NATS_PASSWORD_FILE", env)
	c, err = Load(config("password_file: "+cluster, "user: routerd", "secret_access_key: aws-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Bus.NATS.Password; got != "from-env" {
		t.Errorf("bus.nats.password from EVENTROUTER_BUS_NATS_PASSWORD_FILE = %q", got)
	}
	os.Unsetenv("EVENTROUTER_BUS_NATS_PASSWORD_FILE")

	empty := secret("empty", "\n")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		cluster, nats, sigv4 string
		want                 []string
		not                  []string // problems a file's own hides
	}{
		{"password: x\n      password_file: " + cluster, "", "secret_access_key: s",
			[]string{"bus.nats.cluster.password_file: set bus.nats.cluster.password or bus.nats.cluster.password_file, not both"}, nil},
		{"password_file: " + missing, "token_file: " + empty, "secret_access_key: s, secret_access_key_file: " + sigv4,
			[]string{
				"http.auth.sigv4[0].secret_access_key_file: set http.auth.sigv4[0].secret_access_key or http.auth.sigv4[0].secret_access_key_file, not both",
				"bus.nats.token_file: " + empty + " is empty",
				"bus.nats.cluster.password_file: cannot read " + missing + ": no such file or directory",
			}, nil},
		{"password_file: " + dir, "", "secret_access_key: s",
			[]string{"bus.nats.cluster.password_file: cannot read " + dir + ": is a directory"}, nil},
		// A file that cannot be read is the problem, not the secret it
		// would have given.
		{"password_file: " + cluster, "user: routerd\n    password_file: " + empty, "secret_access_key_file: " + missing,
			[]string{
				"2 problems:",
				"http.auth.sigv4[0].secret_access_key_file: cannot read " + missing + ": no such file or directory",
				"bus.nats.password_file: " + empty + " is empty",
			},
			[]string{"secret_access_key: is required", "user and password must be set together"}},
	} {
		_, err := Load(config(c.cluster, c.nats, c.sigv4))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s / %s / %s: err = %v, want %q", c.cluster, c.nats, c.sigv4, err, w)
			}
		}
		for _, w := range c.not {
			if err != nil && strings.Contains(err.Error(), w) {
				t.Errorf("%s / %s / %s: err = %v, want none saying %q", c.cluster, c.nats, c.sigv4, err, w)
			}
		}
	}
}

// TestSecretAndFileFromEnv checks that a secret set both directly and by
// its file names the environment variable that set either, as every
// problem with a value from the environment does.
func TestSecretAndFileFromEnv(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "cluster")
	if err := os.WriteFile(secret, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		keyEnv  = "EVENTROUTER_BUS_NATS_CLUSTER_PASSWORD"
		fileEnv = "EVENTROUTER_BUS_NATS_CLUSTER_PASSWORD_FILE"
	)
	for _, c := range []struct {
		name   string
		inFile string            // bus.nats.cluster's keys in the file
		env    map[string]string // environment variables set
		want   string
	}{
		{"key from the environment", "password_file: " + secret, map[string]string{keyEnv: "from-env"},
			"bus.nats.cluster.password_file: set bus.nats.cluster.password (from " + keyEnv + ") or bus.nats.cluster.password_file, not both"},
		{"file from the environment", "password: in-file", map[string]string{fileEnv: secret},
			"bus.nats.cluster.password_file (from " + fileEnv + "): set bus.nats.cluster.password or bus.nats.cluster.password_file, not both"},
		{"both from the environment", "", map[string]string{keyEnv: "from-env", fileEnv: secret},
			"bus.nats.cluster.password_file (from " + fileEnv + "): set bus.nats.cluster.password (from " + keyEnv + ") or bus.nats.cluster.password_file, not both"},
		{"both in the file", "password: in-file\n      password_file: " + secret, nil,
			"bus.nats.cluster.password_file: set bus.nats.cluster.password or bus.nats.cluster.password_file, not both"},
		// An empty variable sets nothing (viper ignores it), so it is not named.
		{"empty variable", "password: in-file\n      password_file: " + secret, map[string]string{keyEnv: ""},
			"bus.nats.cluster.password_file: set bus.nats.cluster.password or bus.nats.cluster.password_file, not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(t.TempDir(), "routerd.yaml")
			err := os.WriteFile(path, []byte(`
bus:
  nats:
    cluster:
      name: test
      listen: 127.0.0.1:6222
      `+c.inFile+`
`), 0o644)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant %q", err, c.want)
			}
		})
	}
}
