package bus

import (
	"strings"
	"testing"
	"time"
)

// TestClusterPasswordReload changes the cluster's password on its two
// nodes, one after the other, while they run: between the two reloads the
// nodes refuse each other (each presents a password the other does not
// hold), after the second they are routed again. And a node's routes
// follow a reload: given none, it drops the one it made; given it back,
// it makes it again.
func TestClusterPasswordReload(t *testing.T) {
	opts := clusterOptions(t, 2)
	var nodes []*embedded
	for i := range opts {
		opts[i].ClusterPassword = "old-secret"
		nc, e, err := startEmbedded(opts[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); e.srv.Shutdown(); e.srv.WaitForShutdown() })
		nodes = append(nodes, e)
	}
	a, b := nodes[0], nodes[1]
	wait := func(what string, routed bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for (routedTo(a.srv, b.srv.Name()) && routedTo(b.srv, a.srv.Name())) != routed || (routedTo(a.srv, b.srv.Name()) || routedTo(b.srv, a.srv.Name())) != routed {
			if time.Now().After(deadline) {
				t.Fatalf("%s: nodes routed %v/%v after 15s, want %v", what, routedTo(a.srv, b.srv.Name()), routedTo(b.srv, a.srv.Name()), routed)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("at start", true)
	for i, e := range nodes {
		o := opts[i]
		o.ClusterPassword = "new-secret"
		if err := e.reloadCluster(o); err != nil {
			t.Fatal(err)
		}
		opts[i] = o
		wait("after node "+string(rune('0'+i))+"'s reload", i == 1)
	}

	o := opts[0]
	o.Routes = nil
	if err := a.reloadCluster(o); err != nil {
		t.Fatal(err)
	}
	o = opts[1]
	o.Routes = nil
	if err := b.reloadCluster(o); err != nil {
		t.Fatal(err)
	}
	wait("without routes", false)
	if err := a.reloadCluster(opts[0]); err != nil {
		t.Fatal(err)
	}
	wait("with the route again", true)

	// Turning TLS on needs a restart: the routes up would stay without.
	o = opts[0]
	o.ClusterCertFile, o.ClusterKeyFile, o.ClusterCAFile = "c.pem", "k.pem", "ca.pem"
	if err := a.reloadCluster(o); err == nil || !strings.Contains(err.Error(), "bus.nats.cluster.tls cannot be turned on or off on reload") {
		t.Errorf("tls turned on: err = %v", err)
	}
}
