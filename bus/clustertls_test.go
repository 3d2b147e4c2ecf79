package bus

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestClusterTLS checks that nodes with certificates of the cluster's CA
// form a cluster over mutual TLS, and that a node whose certificate
// another CA signed is refused by them, whichever end dials.
func TestClusterTLS(t *testing.T) {
	ca, stranger := testkit.NewCA(t, "cluster CA"), testkit.NewCA(t, "another CA")
	opts := clusterOptions(t, 3)
	logs := make([]*testkit.Buffer, len(opts))
	srvs := make([]*server.Server, len(opts))
	for i, o := range opts {
		logs[i] = &testkit.Buffer{}
		o.Logger = slog.New(slog.NewTextHandler(logs[i], nil))
		issuer := ca
		if i == 2 {
			issuer = stranger
		}
		o.ClusterCertFile, o.ClusterKeyFile = issuer.Node(t, "node"+string(rune('0'+i)))
		o.ClusterCAFile = ca.File
		if i == 2 {
			// The stranger trusts the cluster's CA, and its own, which it
			// must to start: the others must refuse it all the same.
			o.ClusterCAFile = testkit.Bundle(t, ca, stranger)
		}
		nc, srv, err := StartEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
		srvs[i] = srv
	}
	a, b := srvs[0], srvs[1]
	deadline := time.Now().Add(15 * time.Second)
	for !routedTo(a, b.Name()) || !routedTo(b, a.Name()) {
		if time.Now().After(deadline) {
			t.Fatalf("no route between %s and %s after 15s:\n%s", a.Name(), b.Name(), logs[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Node 2 dials both others, and they dial it: each refusal is logged.
	for i := range 2 {
		deadline := time.Now().Add(15 * time.Second)
		for strings.Count(logs[i].String(), "TLS route handshake error") < 2 || !strings.Contains(logs[i].String(), "(check bus.nats.cluster.tls") {
			if time.Now().After(deadline) {
				t.Fatalf("node %d logs no refusal of node 2 both ways:\n%s", i, logs[i])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i, s := range srvs {
		want := 1
		if i == 2 {
			want = 0
		}
		if got := routedPeers(s); len(got) != want {
			t.Errorf("node %d has routes to %v, want %d node(s)", i, got, want)
		}
	}
}

// TestClusterTLSNeedsCA checks that cluster TLS without a CA file is
// refused: any certificate of a public CA would join the cluster.
func TestClusterTLSNeedsCA(t *testing.T) {
	o := clusterOptions(t, 1)[0]
	o.ClusterCertFile, o.ClusterKeyFile = testkit.NewCA(t, "ca").Node(t, "node")
	if _, _, err := StartEmbedded(o); err == nil || !strings.Contains(err.Error(), "needs a CA file") {
		t.Errorf("err = %v, want a CA file asked for", err)
	}
}

// TestClusterTLSReload rotates a node's certificate, to one of another CA,
// while it runs: a certificate file that is not one, a key of another
// certificate and TLS turned off are refused, naming what is wrong, and
// leave the routes as they were; the new certificate and CAs leave the
// route up (the cluster is not dropped) and are those a node that trusts
// only the new CA meets when it joins.
func TestClusterTLSReload(t *testing.T) {
	ca, next := testkit.NewCA(t, "cluster CA"), testkit.NewCA(t, "next CA")
	opts := clusterOptions(t, 3)
	var nodes []*embedded
	var conns []*nats.Conn
	start := func(o EmbeddedOptions) {
		t.Helper()
		nc, e, err := startEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); e.srv.Shutdown(); e.srv.WaitForShutdown() })
		nodes, conns = append(nodes, e), append(conns, nc)
	}
	for i, o := range opts[:2] {
		o.ClusterCertFile, o.ClusterKeyFile = ca.Node(t, "node"+string(rune('0'+i)))
		o.ClusterCAFile = ca.File
		opts[i] = o
		start(o)
	}
	a, b := nodes[0], nodes[1]
	waitRouted := func(x, y *server.Server) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !routedTo(x, y.Name()) || !routedTo(y, x.Name()) {
			if time.Now().After(deadline) {
				t.Fatalf("no route between %s and %s after 15s", x.Name(), y.Name())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitRouted(a.srv, b.srv)
	routeIDs := func() []uint64 {
		rz, err := a.srv.Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, r := range rz.Routes {
			ids = append(ids, r.Rid)
		}
		slices.Sort(ids)
		return ids
	}
	before := routeIDs()
	// The cluster carries messages from a node to the other.
	crosses := func() {
		t.Helper()
		sub, err := conns[1].SubscribeSync("probe")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		conns[1].Flush()
		deadline := time.Now().Add(10 * time.Second)
		for {
			conns[0].Publish("probe", []byte("x"))
			if _, err := sub.NextMsg(200 * time.Millisecond); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("a message published on node 0 does not reach node 1")
			}
		}
	}
	crosses()

	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	newCert, newKey := next.Node(t, "node0-next")
	_, otherKey := next.Node(t, "other")
	bundle := testkit.Bundle(t, ca, next)

	bad := []struct {
		name      string
		cert, key string
		want      []string
	}{
		{"not a certificate", notPEM, newKey, []string{"bus.nats.cluster.tls.cert_file " + notPEM, "holds no PEM certificate"}},
		{"missing file", filepath.Join(dir, "gone.pem"), newKey, []string{"bus.nats.cluster.tls.cert_file", "gone.pem", "no such file"}},
		{"key of another certificate", newCert, otherKey, []string{"bus.nats.cluster.tls.key_file " + otherKey + " is not the private key of cert_file " + newCert}},
		{"tls off", "", "", []string{"bus.nats.cluster.tls cannot be turned on or off on reload; restart routerd"}},
	}
	for _, c := range bad {
		o := opts[0]
		o.ClusterCertFile, o.ClusterKeyFile, o.ClusterCAFile = c.cert, c.key, bundle
		if c.cert == "" {
			o.ClusterCAFile = ""
		}
		err := a.reloadCluster(o)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: reload error = %v, want one saying %q", c.name, err, w)
			}
		}
	}
	kept := func() bool { // no route up before is dropped (pooled ones may be added)
		got := routeIDs()
		return !slices.ContainsFunc(before, func(id uint64) bool { return !slices.Contains(got, id) })
	}
	if !kept() {
		t.Errorf("routes after refused reloads: %v, want those before, %v, among them", routeIDs(), before)
	}

	o := opts[0]
	o.ClusterCertFile, o.ClusterKeyFile, o.ClusterCAFile = newCert, newKey, bundle
	if err := a.reloadCluster(o); err != nil {
		t.Fatalf("reload with a new certificate: %v", err)
	}
	if !kept() {
		t.Errorf("routes after the reload: %v, want those before, %v, among them (the cluster was dropped)", routeIDs(), before)
	}
	crosses()

	// A node that trusts only the new CA, and has a certificate of it,
	// joins node 0, which must present its new certificate, and trust the
	// new CA, for that.
	c := opts[2]
	c.ClusterCertFile, c.ClusterKeyFile = next.Node(t, "node2")
	c.ClusterCAFile = next.File
	c.Routes = c.Routes[:1] // node 0
	start(c)
	waitRouted(a.srv, nodes[2].srv)
}

// TestClusterTLSChecksFiles checks the certificate checks of cluster TLS
// that a test cannot make a file for with testkit.CA: expired, not yet
// valid. (TestClusterTLSReload makes the others.)
func TestClusterTLSChecksFiles(t *testing.T) {
	ca := testkit.NewCA(t, "ca")
	cert, key := ca.Node(t, "node")
	if _, err := clusterTLS(cert, key, ca.File, time.Now()); err != nil {
		t.Fatal(err)
	}
	for when, want := range map[time.Duration]string{2 * time.Hour: "the certificate expired at", -2 * time.Hour: "the certificate is valid only from"} {
		_, err := clusterTLS(cert, key, ca.File, time.Now().Add(when))
		if err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.tls.cert_file "+cert+": "+want) {
			t.Errorf("now %+v: err = %v, want %q", when, err, want)
		}
	}
	if _, err := clusterTLS(cert, key, cert+".missing", time.Now()); err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.tls.ca_file") {
		t.Errorf("missing CA file: err = %v", err)
	}
	// A CA file without the CA that signed the node's certificate: the
	// other nodes would refuse its routes at the next handshake.
	other := testkit.NewCA(t, "other CA")
	if _, err := clusterTLS(cert, key, other.File, time.Now()); err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.tls.ca_file "+other.File+" does not hold the CA that signed cert_file "+cert) {
		t.Errorf("a CA file of another CA: err = %v", err)
	}
	// Both the old and the new CA, as while a cluster moves to a new one:
	// a certificate of either passes.
	bundle := testkit.Bundle(t, other, ca)
	otherCert, otherKey := other.Node(t, "other")
	for _, pair := range [][2]string{{cert, key}, {otherCert, otherKey}} {
		if _, err := clusterTLS(pair[0], pair[1], bundle, time.Now()); err != nil {
			t.Errorf("a CA file of both CAs, cert_file %s: %v", pair[0], err)
		}
	}
	// A key file of garbage, or the certificate given for the key, is said
	// to hold no key, not to be another certificate's.
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a key\n"), 0o600)
	for _, k := range []string{garbage, cert} {
		if _, err := clusterTLS(cert, k, ca.File, time.Now()); err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.tls.key_file "+k+" holds no PEM private key") {
			t.Errorf("key_file %s: err = %v", k, err)
		}
	}
	if _, err := clusterTLS(cert, key, key, time.Now()); err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.tls.ca_file "+key+" holds no PEM certificate") {
		t.Errorf("a key for a CA file: err = %v", err)
	}
}
