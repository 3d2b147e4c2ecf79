package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/internal/testkit"
)

// clusterBus is a memory bus that takes cluster settings as an embedded
// cluster node's does, and records them.
type clusterBus struct {
	bus.Bus
	mu  sync.Mutex
	got []bus.EmbeddedOptions
	err error
}

func (b *clusterBus) ReloadCluster(o bus.EmbeddedOptions) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, o)
	return b.err
}

func (b *clusterBus) last(t *testing.T) bus.EmbeddedOptions {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		t.Fatal("the bus was given no cluster settings")
	}
	return b.got[len(b.got)-1]
}

// TestReloadClusterSettings checks what a reload does with bus.nats.cluster:
// new certificate files, password and routes go to the bus; a new cluster
// listen address, or TLS turned off, is reported by key and otherwise
// ignored, the rest of the file taking effect; a certificate the bus
// refuses fails the whole reload, leaving rules and certificates as they
// were.
func TestReloadClusterSettings(t *testing.T) {
	dir := t.TempDir()
	path := orderConfig(t, dir, config.BusNATSEmbedded, "")
	listen, other, third := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	// Certificates that pass the config's checks, for the bus to be given:
	// node-N.pem and node-N-key.pem beside ca.pem.
	ca := testkit.NewCA(t, "cluster CA")
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		ca.Node(t, n)
	}
	pem := func(name string) string { return filepath.Join(filepath.Dir(ca.File), name) }
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("    listen: \"\"\n"), []byte(`    listen: 127.0.0.1:0
    cluster:
      name: test
      listen: `+listen+`
      routes: [nats-route://`+other+`]
      password: first-secret
      tls: {cert_file: `+pem("node-1.pem")+`, key_file: `+pem("node-1-key.pem")+`, ca_file: `+ca.File+`}
`), 1)
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(b)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.Buffer
	cb := &clusterBus{Bus: bus.NewMemory()}
	a := New(cfg, Options{Bus: cb, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a.Stop(ctx)
	})

	// Rotated certificates, another password, a route more, and a cluster
	// port that cannot change.
	b = bytes.ReplaceAll(b, []byte("node-1"), []byte("node-2"))
	b = bytes.Replace(b, []byte("first-secret"), []byte("second-secret"), 1)
	b = bytes.Replace(b, []byte("routes: [nats-route://"+other+"]"), []byte("routes: [nats-route://"+other+", nats-route://"+third+"]"), 1)
	b = bytes.Replace(b, []byte("      listen: "+listen), []byte("      listen: "+testkit.FreeAddr(t)), 1)
	write(b)
	if err := a.ReloadFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := cb.last(t)
	if got.ClusterCertFile != pem("node-2.pem") || got.ClusterKeyFile != pem("node-2-key.pem") || got.ClusterCAFile != ca.File ||
		got.ClusterPassword != "second-secret" || !slices.Equal(got.Routes, []string{"nats-route://" + other, "nats-route://" + third}) {
		t.Errorf("the bus was given %+v", got)
	}
	if got.ClusterListen != listen || got.ClusterName != "test" {
		t.Errorf("the bus was given cluster listen %s, name %s; want the ones it runs with, %s, test", got.ClusterListen, got.ClusterName, listen)
	}
	if want := "reload: bus.nats.cluster.listen cannot change on reload; restart routerd"; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}
	if strings.Contains(logs.String(), "second-secret") {
		t.Errorf("the log holds the password:\n%s", logs.String())
	}

	// A certificate the bus refuses: nothing of the file takes effect.
	cb.err = errors.New("bus: bus.nats.cluster.tls.cert_file node-3.pem: the certificate expired at 2026-01-01T00:00:00Z")
	rules := len(a.cfg.Rules)
	bad := bytes.ReplaceAll(b, []byte("node-2"), []byte("node-3"))
	bad = bytes.Replace(bad, []byte("rules:\n"), []byte("rules:\n  - {name: extra, pattern: {source: [x]}, targets: [inventory]}\n"), 1)
	write(bad)
	if err := a.ReloadFile(context.Background()); err == nil || !strings.Contains(err.Error(), "cert_file node-3.pem: the certificate expired") {
		t.Fatalf("reload with a refused certificate: err = %v", err)
	}
	if m := metricsText(t, a.Addr()); !strings.Contains(m, "eventrouter_config_last_reload_successful 0") {
		t.Error("reload gauge not 0 after a refused certificate")
	}
	a.mu.Lock()
	inForce, nrules := a.cfg.Bus.NATS.Cluster.TLS.CertFile, len(a.cfg.Rules)
	a.mu.Unlock()
	if inForce != pem("node-2.pem") || nrules != rules {
		t.Errorf("after a refused certificate: cert_file %s, %d rules in force; want %s, %d", inForce, nrules, pem("node-2.pem"), rules)
	}

	// TLS turned off needs a restart: the certificates in force stay.
	cb.err = nil
	write(bytes.Replace(b, []byte("      tls: {cert_file: "+pem("node-2.pem")+", key_file: "+pem("node-2-key.pem")+", ca_file: "+ca.File+"}\n"), nil, 1))
	if err := a.ReloadFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cb.last(t); got.ClusterCertFile != pem("node-2.pem") {
		t.Errorf("tls turned off on reload: the bus was given cert_file %q, want %s", got.ClusterCertFile, pem("node-2.pem"))
	}
	if want := "bus.nats.cluster.tls (turned on or off) cannot change on reload; restart routerd"; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}
}
