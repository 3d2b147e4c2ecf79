package bus

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
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
		o.ClusterCAFile = ca.File // the stranger trusts the cluster's CA: the others must refuse it all the same
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
