package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/testkit"
)

// node is one routerd of a cluster: its directory (data/, out/), config
// and HTTP address.
type node struct {
	dir, cfg, addr string
}

// clusterConfigs writes the configs of an n-node cluster of embedded NATS
// servers, as a user would for one machine: each node with its own data
// and output directories, HTTP and NATS ports, routes to the others, one
// cluster password, replicas 3, and writeConfig's order flow. Each
// consumer's timeout is 1s, so that the events a killed node held come
// back 12s later (its ack wait), not 20s.
func clusterConfigs(t *testing.T, n int) []node {
	t.Helper()
	nodes := make([]node, n)
	routes := make([]string, n)
	for i := range nodes {
		nodes[i] = node{dir: t.TempDir(), addr: testkit.FreeAddr(t)}
		routes[i] = testkit.FreeAddr(t)
	}
	for i := range nodes {
		nd := &nodes[i]
		nd.cfg = writeConfig(t, nd.dir, nd.addr)
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats-route://"+r)
			}
		}
		b, err := os.ReadFile(nd.cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := strings.Replace(string(b), `  nats: {listen: ""}`, fmt.Sprintf(`  replicas: 3
  nats:
    listen: 127.0.0.1:0
    cluster: {name: test, listen: %s, password: cluster-secret, routes: [%s]}`, routes[i], strings.Join(others, ", ")), 1)
		c = strings.ReplaceAll(c, "jsonl}}", "jsonl}, timeout: 1s}")
		if err := os.WriteFile(nd.cfg, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

// get returns the status and body of GET url ("" and 0 when unreachable).
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterOfThree runs three routerd processes as one cluster on
// embedded NATS, as a user would on one machine, and checks that events
// sent to two of them reach each consumer once, wherever it runs and with
// the id PutEvents returned; that when one node is killed (-9) while events
// come in, the other two deliver every acknowledged one (duplicates
// allowed); and that the killed node rejoins on restart and takes events
// again. Envelopes sealed by one node are routed by the others: none is
// rejected.
func TestClusterOfThree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of three routerd processes")
	}
	start := time.Now()
	nodes := clusterConfigs(t, 3)
	daemons := make([]*daemon, len(nodes))
	for i, nd := range nodes {
		daemons[i] = spawn(t, nd.cfg)
	}
	logs := func() string {
		var b strings.Builder
		for i, d := range daemons {
			fmt.Fprintf(&b, "--- node %d\n%s", i, tail(d.log.String(), 2000))
		}
		return b.String()
	}
	for i, nd := range nodes {
		daemons[i].waitReady(t, nd.addr, 60*time.Second)
	}
	t.Logf("3 nodes ready in %s", time.Since(start).Round(time.Millisecond))
	dirs := []string{nodes[0].dir, nodes[1].dir, nodes[2].dir}

	// Before any loss: each event once per consumer, across the cluster.
	s := &sender{addrs: []string{nodes[0].addr, nodes[1].addr}, acked: map[string]bool{}}
	for len(s.acked) < 40 || !anyVIP(s.acked) {
		if err := s.send(); err != nil {
			t.Fatalf("send: %v\n%s", err, logs())
		}
	}
	for name, dups := range waitDelivered(t, s.acked, 30*time.Second, logs, dirs...) {
		if dups > 0 {
			t.Errorf("%s: %d duplicates with every node up", name, dups)
		}
	}

	// Kill -9 a node while events come in.
	stop := s.keepSending()
	time.Sleep(500 * time.Millisecond)
	if err := daemons[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-daemons[2].done
	s.mu.Lock()
	before := len(s.acked)
	s.mu.Unlock()
	// A stream whose leader was on the dead node takes the others some
	// seconds to elect another; meanwhile requests fail (503).
	time.Sleep(time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		after := len(s.acked) - before
		s.mu.Unlock()
		if after >= 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events acknowledged in the 30s after the kill (%d requests failed)\n%s", after, stop(), logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	failed := stop()
	t.Logf("%d events acknowledged, %d after the kill; %d requests failed", len(s.acked), len(s.acked)-before, failed)
	// The two nodes left deliver them all, those the dead one held too.
	for name, dups := range waitDelivered(t, s.acked, 60*time.Second, logs, dirs...) {
		t.Logf("%s: all delivered by two nodes, %d duplicates", name, dups)
	}

	// The killed node rejoins and takes events again.
	daemons[2] = spawn(t, nodes[2].cfg)
	daemons[2].waitReady(t, nodes[2].addr, 60*time.Second)
	s.addrs = []string{nodes[2].addr}
	if err := s.send(); err != nil {
		t.Fatalf("send to the restarted node: %v\n%s", err, logs())
	}
	waitDelivered(t, s.acked, 30*time.Second, logs, dirs...)

	for i, nd := range nodes {
		code, body := get("http://" + nd.addr + "/admin/dlq/_rejected")
		var list struct{ Total int }
		if json.Unmarshal([]byte(body), &list); code != 200 || list.Total != 0 {
			t.Errorf("node %d: rejected events: %d %s", i, code, body)
		}
	}
	for i, d := range daemons {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-d.done:
			if err != nil {
				t.Errorf("node %d exited with %v on SIGTERM", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("node %d did not stop within 30s of SIGTERM", i)
		}
	}
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}

// TestSignalsWhileWaitingForCluster starts one node of a cluster whose
// other nodes are down: it waits for them, answering /readyz with 503 and
// the reason, keeps a SIGHUP for later (it killed routerd), and stops at
// once, exit 0, on SIGTERM.
func TestSignalsWhileWaitingForCluster(t *testing.T) {
	nd := clusterConfigs(t, 3)[0]
	d := spawn(t, nd.cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get("http://" + nd.addr + "/readyz")
		if code == 503 && strings.Contains(body, "no JetStream leader") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q after 30s, want 503 saying what it waits for\n%s", code, body, d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, d, "will be reloaded once started")
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("exit: %v, want 0\n%s", err, d.log)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after SIGTERM\n%s", d.log)
	}
	if code, _ := get("http://" + nd.addr + "/healthz"); code != 0 {
		t.Errorf("/healthz answers %d after the exit", code)
	}
	if _, err := os.Stat(filepath.Join(nd.dir, "data", "server_name")); err != nil {
		t.Errorf("the node's name is not kept: %v", err)
	}
}

// TestClusterWrongPassword starts two nodes of a cluster, one with another
// cluster password: each one's log says the password is why their routes
// are refused, and neither logs a password.
func TestClusterWrongPassword(t *testing.T) {
	nodes := clusterConfigs(t, 3)
	b, err := os.ReadFile(nodes[1].cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nodes[1].cfg, []byte(strings.Replace(string(b), "password: cluster-secret", "password: other-secret", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	right, wrong := spawn(t, nodes[0].cfg), spawn(t, nodes[1].cfg)
	waitLog(t, right, "a node presented another bus.nats.cluster.password than this node's")
	waitLog(t, wrong, "the other node refused this node's bus.nats.cluster.password")
	for _, d := range []*daemon{right, wrong} {
		if strings.Contains(d.log.String(), "secret") {
			t.Errorf("a password is logged:\n%s", d.log)
		}
	}
}

// TestClusterTLS runs two nodes of a three-node cluster with certificates
// of one CA, and the third with one of another CA: the first two connect,
// and refuse the third, saying to check bus.nats.cluster.tls.
func TestClusterTLS(t *testing.T) {
	nodes := clusterConfigs(t, 3)
	ca, stranger := testkit.NewCA(t, "cluster CA"), testkit.NewCA(t, "another CA")
	daemons := make([]*daemon, len(nodes))
	for i, nd := range nodes {
		issuer := ca
		if i == 2 {
			issuer = stranger
		}
		cert, key := issuer.Node(t, fmt.Sprint("node", i))
		caFile := ca.File
		if i == 2 {
			// It trusts its own CA too, which it must to start.
			caFile = testkit.Bundle(t, ca, stranger)
		}
		b, err := os.ReadFile(nd.cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := strings.Replace(string(b), "password: cluster-secret", fmt.Sprintf("tls: {cert_file: %s, key_file: %s, ca_file: %s}", cert, key, caFile), 1)
		if err := os.WriteFile(nd.cfg, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		daemons[i] = spawn(t, nd.cfg)
	}
	waitLog(t, daemons[0], "(check bus.nats.cluster.tls")
	waitLog(t, daemons[2], "(check bus.nats.cluster.tls")
	// Replicas 3 wait for the third node, and /readyz says which the
	// others reach.
	for i, want := range []string{"connected to 1 other node(s)", "connected to 1 other node(s)", "connected to no other node"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := get("http://" + nodes[i].addr + "/readyz")
			if code == 503 && strings.Contains(body, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d /readyz: %d %q, want 503 %q\n%s", i, code, body, want, tail(daemons[i].log.String(), 2000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
