package bus

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/eventrouter/eventrouter/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
)

// clusterOptions returns the embedded options of an n-node cluster, as n
// routerd configs would give them: each node routes to the others, and
// none is given a server name.
func clusterOptions(t *testing.T, n int) []EmbeddedOptions {
	t.Helper()
	addrs := testkit.FreeAddrs(t, n)
	opts := make([]EmbeddedOptions, n)
	for i := range opts {
		var routes []string
		for j, a := range addrs {
			if j != i {
				routes = append(routes, "nats-route://"+a)
			}
		}
		opts[i] = EmbeddedOptions{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ClusterName: "test", ClusterListen: addrs[i], Routes: routes}
	}
	return opts
}

// routedTo reports whether srv has a route to the server named name.
func routedTo(srv *server.Server, name string) bool {
	rz, err := srv.Routez(nil)
	if err != nil {
		return false
	}
	for _, r := range rz.Routes {
		if r.RemoteName == name {
			return true
		}
	}
	return false
}

// TestClusterNodeNames checks that the nodes of a cluster configured
// without server names get names of their own, so that their servers
// accept each other's routes (they were all "routerd", and refused them as
// duplicates: no JetStream leader was ever elected), and that a node keeps
// its name across restarts, in its data directory.
func TestClusterNodeNames(t *testing.T) {
	opts := clusterOptions(t, 2)
	var srvs []*server.Server
	for _, o := range opts {
		nc, srv, err := StartEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
		srvs = append(srvs, srv)
	}
	a, b := srvs[0], srvs[1]
	if a.Name() == b.Name() {
		t.Fatalf("both nodes are named %q", a.Name())
	}
	for _, s := range srvs {
		if !ValidServerName(s.Name()) || !strings.HasSuffix(s.Name(), "-"+strings.Split(s.ClusterAddr().String(), ":")[1]) {
			t.Errorf("server name %q: want the host name and the cluster port", s.Name())
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for !routedTo(a, b.Name()) || !routedTo(b, a.Name()) {
		if time.Now().After(deadline) {
			t.Fatalf("no route between %s and %s after 15s", a.Name(), b.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The name is kept: a later start on another port keeps it.
	name := a.Name()
	srvs[0].Shutdown()
	srvs[0].WaitForShutdown()
	kept, err := os.ReadFile(filepath.Join(opts[0].DataDir, serverNameFile))
	if err != nil || strings.TrimSpace(string(kept)) != name {
		t.Fatalf("%s holds %q (%v), want %q", serverNameFile, kept, err, name)
	}
	again := opts[0]
	again.ClusterListen = "127.0.0.1:0"
	nc, srv, err := StartEmbedded(again)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() }()
	if srv.Name() != name {
		t.Errorf("restarted as %q, want %q", srv.Name(), name)
	}
	// A configured name wins.
	named := opts[0]
	named.DataDir, named.ServerName, named.ClusterListen = t.TempDir(), "node-a", "127.0.0.1:0"
	nc2, srv2, err := StartEmbedded(named)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { nc2.Close(); srv2.Shutdown(); srv2.WaitForShutdown() }()
	if srv2.Name() != "node-a" {
		t.Errorf("configured name node-a, server named %q", srv2.Name())
	}
}

// TestClusterNeedsClientPort checks that a cluster node without a client
// port is refused at once: NATS opens the cluster port only after the
// client port, so the server never became ready, and then hung in its
// shutdown.
func TestClusterNeedsClientPort(t *testing.T) {
	o := clusterOptions(t, 1)[0]
	o.Listen = ""
	done := make(chan error, 1)
	go func() {
		nc, srv, err := StartEmbedded(o)
		if err == nil {
			nc.Close()
			srv.Shutdown()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "needs a client port") {
			t.Errorf("err = %v, want the client port asked for", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("StartEmbedded still running after 20s")
	}
}

// openNode opens one cluster node's bus, waiting for the cluster up to
// ctx's end, and closes it when the test ends.
func openNode(ctx context.Context, t *testing.T, o EmbeddedOptions, replicas int) (*JetStream, error) {
	b, _, err := OpenEmbedded(ctx, o, JetStreamOptions{Replicas: replicas})
	if err == nil {
		t.Cleanup(func() { b.Close() })
	}
	return b, err
}

// TestClusterStartsInAnyOrder checks that the nodes of a cluster wait for
// each other: a node alone says why it waits, and nodes started one after
// another all come up (each gave up after 5s, before the cluster could
// elect a leader). Then an event published on one node is consumed on
// another, under the same seal, and after one node's loss too.
func TestClusterStartsInAnyOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	opts := clusterOptions(t, 3)

	// Alone, a node waits, and says what for.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := openNode(ctx, t, opts[0], 3)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "no JetStream leader") || !strings.Contains(err.Error(), "connected to no other node") {
		t.Fatalf("a node alone: err = %v, want it to say it has no leader and no other node", err)
	}

	// One after another, they all come up.
	start := time.Now()
	// The whole test's budget: under -race, beside other packages' tests on
	// two cores, it has taken more than a minute.
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := make([]*JetStream, len(opts))
	errs := make(chan error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := openNode(ctx, t, o, 3)
			nodes[i] = b
			errs <- err
		}()
		time.Sleep(time.Second)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("3 nodes up in %s", time.Since(start).Round(time.Millisecond))

	a, b, c := nodes[0], nodes[1], nodes[2]
	tag := a.Seal().Tag("events.default", []byte("e"))
	if !b.Seal().Valid("events.default", []byte("e"), tag) || !c.Seal().Valid("events.default", []byte("e"), tag) {
		t.Error("the nodes have different seals")
	}
	ch, err := b.Consume(ctx, "deliver.x", ConsumeOptions{Durable: "x"})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, a, "deliver.x", "e1")
	if got := receiveIDs(t, ch, 1, nil); got["e1"] != 1 {
		t.Fatalf("got %v, want e1", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A stream or consumer whose leader was on c elects another one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := a.Publish("deliver.x", message.NewMessage("e2", []byte(`{}`)))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish after a node's loss: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case m := <-ch:
		if m.UUID != "e2" {
			t.Errorf("got %s, want e2", m.UUID)
		}
		m.Ack()
	case <-time.After(30 * time.Second):
		t.Fatal("e2 not delivered within 30s of a node's loss")
	}
	if err := a.Ping(ctx); err != nil {
		t.Errorf("ping with two nodes of three: %v", err)
	}

	// Two nodes lost of three: no quorum. Ping says so, and a publish
	// fails, at once (JetStream takes seconds to see it, and a publish
	// waited for its timeout).
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.Ping(pctx)
		cancel()
		if err != nil {
			// Which, depends on whether JetStream has seen it yet; the
			// publish below fails at once from when the node has seen
			// its routes go (no majority), which JetStream may report
			// a moment before.
			if !strings.Contains(err.Error(), "reaches 1 of the cluster's 3 nodes, no majority") &&
				!strings.Contains(err.Error(), "no JetStream leader") {
				t.Errorf("ping without quorum: %v, want it to say why", err)
				break
			}
			if strings.Contains(err.Error(), "no majority") {
				break
			}
		}
		if time.Since(lost) > 5*time.Second {
			t.Fatal("ping did not say \"no majority\" within 5s of the cluster losing its quorum")
		}
		time.Sleep(100 * time.Millisecond)
	}
	sent := time.Now()
	if err := a.Publish("deliver.x", message.NewMessage("e3", []byte(`{}`))); err == nil || time.Since(sent) > time.Second {
		t.Errorf("publish without quorum: %v after %s, want an error at once", err, time.Since(sent))
	}
}

// TestClusterLogsWhyRoutesFail checks that the embedded server's errors
// reach routerd's log, once however often they repeat: two nodes given one
// server name refuse each other's routes, and nothing said so.
func TestClusterLogsWhyRoutesFail(t *testing.T) {
	var out testkit.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	for _, o := range clusterOptions(t, 2) {
		o.ServerName, o.Logger = "twin", log
		nc, srv, err := StartEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), `Remote server has a duplicate name: \"twin\""`) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not name the duplicate:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the routes are tried again every second
	if n := strings.Count(out.String(), "duplicate name"); n > 2 {
		t.Errorf("the duplicate is logged %d times:\n%s", n, out.String())
	}
}

// TestClusterPassword checks that nodes given one password form a
// cluster, and that a node with another password, or none, is refused by
// them, which both ends log in words that name the password (NATS says
// only "authentication error" and "Authorization Violation"); and that
// the password itself is never logged.
func TestClusterPassword(t *testing.T) {
	opts := clusterOptions(t, 4)
	logs := make([]*testkit.Buffer, len(opts))
	srvs := make([]*server.Server, len(opts))
	for i, o := range opts {
		logs[i] = &testkit.Buffer{}
		o.Logger = slog.New(slog.NewTextHandler(logs[i], &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Routes = o.Routes[:1] // each node routes to the first, the first to the second
		switch i {
		case 0, 1:
			o.ClusterPassword = "right-secret"
		case 2:
			o.ClusterPassword = "wrong-secret"
		}
		nc, srv, err := StartEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
		srvs[i] = srv
	}
	waitLog := func(i int, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(logs[i].String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d does not log %q:\n%s", i, want, logs[i].String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a, b := srvs[0], srvs[1]
	deadline := time.Now().Add(15 * time.Second)
	for !routedTo(a, b.Name()) || !routedTo(b, a.Name()) {
		if time.Now().After(deadline) {
			t.Fatalf("no route between %s and %s, which share a password, after 15s", a.Name(), b.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nodes 2 (wrong password) and 3 (none) route to node 0, which
	// refuses both; each says why.
	waitLog(0, `authentication error - User \"routerd\" (a node presented another bus.nats.cluster.password`)
	waitLog(0, "authentication error (a node presented another bus.nats.cluster.password")
	waitLog(2, "(the other node refused this node's bus.nats.cluster.password")
	waitLog(3, "(the other node refused this node's bus.nats.cluster.password")
	for i, s := range srvs {
		want := 0
		if i < 2 {
			want = 1
		}
		if got := len(routedPeers(s)); got != want {
			t.Errorf("node %d has routes to %v, want %d node(s)", i, routedPeers(s), want)
		}
		if strings.Contains(logs[i].String(), "secret") {
			t.Errorf("node %d logs its password:\n%s", i, logs[i].String())
		}
	}
}
