package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestClusterPasswordReload changes the cluster's password on its two
// nodes, one after the other, while they run: after the second reload they
// are routed again. (Between the two, the nodes are routed or not
// depending on which of them made the route: a reload drops only the
// routes a node accepted with the old password.) And a node's routes
// follow a reload: given none, it drops the ones it made from its routes
// list; given them back, it is routed again. A route a node made to an
// address it learned from the other (NATS's implicit routes) is not in the
// list and stays up until it breaks, as NATS keeps it.
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
	before := routeIDs(a.srv)
	for i, e := range nodes {
		o := opts[i]
		o.ClusterPassword = "new-secret"
		if err := e.reloadCluster(o); err != nil {
			t.Fatal(err)
		}
		opts[i] = o
	}
	wait("after both reloads", true)
	// Every route made with the old password is gone: each node dropped
	// those it had accepted with it.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		now := routeIDs(a.srv)
		old := 0
		for id := range now {
			if before[id] {
				old++
			}
		}
		if old == 0 && len(now) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after both reloads: %d of node 0's %d routes are still those made with the old password", old, len(now))
		}
	}
	// Let the routes settle: a route the new password's reconnects are
	// still dialing when the routes are taken out below is made after the
	// reload has closed the others, and NATS keeps it.
	settled := func() string { return fmt.Sprint(routeIDs(a.srv), routeIDs(b.srv)) }
	for last, since, deadline := settled(), time.Now(), time.Now().Add(15*time.Second); time.Since(since) < time.Second; time.Sleep(50 * time.Millisecond) {
		if now := settled(); now != last {
			last, since = now, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("after both reloads: routes still changing after 15s: %s; %s", describeRoutes(a.srv), describeRoutes(b.srv))
		}
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
	for deadline := time.Now().Add(15 * time.Second); configuredRoutes(a.srv)+configuredRoutes(b.srv) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("without routes: after 15s, routes made from the routes list remain: %s; %s", describeRoutes(a.srv), describeRoutes(b.srv))
		}
	}
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

// TestNodeConfigRecords starts a two-node cluster: each node records its
// configuration's digests in the bucket EVENTROUTER and reads the other's,
// and a node records again over its own record. A single node's bus is not
// a cluster node's.
func TestNodeConfigRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-node NATS cluster with JetStream")
	}
	opts := clusterOptions(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := make([]*JetStream, len(opts))
	errs := make(chan error, len(opts))
	for i, o := range opts {
		go func() {
			b, err := openNode(ctx, t, o, 1)
			nodes[i] = b
			errs <- err
		}()
	}
	for range opts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	a, b := nodes[0], nodes[1]
	if err := a.RecordNodeConfig(ctx, map[string]string{"rules": "r1", "consumers": "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.RecordNodeConfig(ctx, map[string]string{"rules": "r1", "consumers": "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.RecordNodeConfig(ctx, map[string]string{"rules": "r2", "consumers": "c1"}); err != nil {
		t.Fatal(err)
	}
	self, peers, err := a.PeerNodeConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].Node == self || peers[0].Parts["rules"] != "r2" || peers[0].Parts["consumers"] != "c1" || peers[0].At.IsZero() {
		t.Errorf("node %s reads %+v, want the other node's last record", self, peers)
	}
	otherSelf, peers, err := b.PeerNodeConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].Node != self || otherSelf == self || peers[0].Parts["rules"] != "r1" {
		t.Errorf("node %s reads %+v, want node %s's record", otherSelf, peers, self)
	}

	single, _, err := OpenEmbedded(ctx, EmbeddedOptions{DataDir: t.TempDir()}, JetStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	if err := single.RecordNodeConfig(ctx, nil); !errors.Is(err, ErrNotCluster) {
		t.Errorf("a single node's record: err = %v, want ErrNotCluster", err)
	}
}

// routeIDs are the ids of srv's route connections.
// configuredRoutes counts the routes srv made from its routes list.
func configuredRoutes(srv *server.Server) int {
	n := 0
	if rz, err := srv.Routez(nil); err == nil {
		for _, r := range rz.Routes {
			if r.DidSolicit && r.IsConfigured {
				n++
			}
		}
	}
	return n
}

// describeRoutes lists srv's routes for a failure message.
func describeRoutes(srv *server.Server) string {
	rz, err := srv.Routez(nil)
	if err != nil {
		return srv.Name() + ": " + err.Error()
	}
	var b strings.Builder
	b.WriteString(srv.Name() + " routes:")
	for _, r := range rz.Routes {
		fmt.Fprintf(&b, " [to %s solicited=%v configured=%v %s:%d]", r.RemoteName, r.DidSolicit, r.IsConfigured, r.IP, r.Port)
	}
	return b.String()
}

func routeIDs(srv *server.Server) map[uint64]bool {
	ids := map[uint64]bool{}
	if rz, err := srv.Routez(nil); err == nil {
		for _, r := range rz.Routes {
			ids[r.Rid] = true
		}
	}
	return ids
}
