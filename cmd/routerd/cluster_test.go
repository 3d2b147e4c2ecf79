package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// node is one routerd of a cluster: its directory (data/, out/), config
// and HTTP address.
type node struct {
	dir, cfg, addr string
}

// clusterConfigs writes the configs of an n-node cluster of embedded NATS
// servers, as a user would for one machine: each node with its own data
// and output directories, HTTP and NATS ports, routes to the others,
// replicas 3, and writeConfig's order flow. Each consumer's timeout is 1s,
// so that the events a killed node held come back 12s later (its ack
// wait), not 20s.
func clusterConfigs(t *testing.T, n int) []node {
	t.Helper()
	nodes := make([]node, n)
	routes := make([]string, n)
	for i := range nodes {
		nodes[i] = node{dir: t.TempDir(), addr: freePort(t)}
		routes[i] = freePort(t)
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
    cluster: {name: test, listen: %s, routes: [%s]}`, routes[i], strings.Join(others, ", ")), 1)
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
