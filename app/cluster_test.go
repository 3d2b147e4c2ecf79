package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/internal/testkit"
)

// TestWaitsForItsCluster starts one node of a three-node cluster whose
// other nodes are down. It waits for them, and meanwhile answers: /healthz
// ok, /readyz 503 saying what it waits for, events and the admin API 503
// (there was no listener until the bus was up, and the node gave up after
// 5s). Cancelling the start ends the wait.
func TestWaitsForItsCluster(t *testing.T) {
	dir := t.TempDir()
	path := orderConfig(t, dir, config.BusNATSEmbedded, "")
	addr := testkit.FreeAddr(t)
	b, _ := os.ReadFile(path)
	b = bytes.Replace(b, []byte("  listen: 127.0.0.1:0\n"), []byte("  listen: "+addr+"\n"), 1)
	b = bytes.Replace(b, []byte("    listen: \"\"\n"), []byte(fmt.Sprintf(`    listen: 127.0.0.1:0
    cluster:
      name: test
      listen: %s
      routes: [nats-route://%s, nats-route://%s]
`, testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t))), 1)
	b = bytes.Replace(b, []byte("bus:\n"), []byte("bus:\n  replicas: 3\n"), 1)
	os.WriteFile(path, b, 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := New(cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- a.Start(ctx) }()

	get := func(method, path, body string, header ...string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var ready string
	waitFor(t, "/readyz to say what it waits for", 30*time.Second, func() bool {
		var code int
		code, ready = get("GET", "/readyz", "")
		return code == 503 && strings.Contains(ready, "no JetStream leader")
	})
	if !strings.Contains(ready, "waiting for the bus") || !strings.Contains(ready, "connected to no other node") {
		t.Errorf("/readyz: %s", ready)
	}
	if code, body := get("GET", "/healthz", ""); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get("GET", "/metrics", ""); code != 200 || !strings.Contains(body, "eventrouter_") {
		t.Errorf("/metrics: %d", code)
	}
	sent := time.Now()
	code, body := get("POST", "/", `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}`,
		"Content-Type", "application/x-amz-json-1.1", "X-Amz-Target", "AWSEvents.PutEvents")
	if code != 503 || !strings.Contains(body, "ServiceUnavailableException") || time.Since(sent) > 2*time.Second {
		t.Errorf("PutEvents while waiting: %d %s after %s, want 503 at once", code, body, time.Since(sent))
	}
	if code, body := get("GET", "/admin/dlq/inventory", ""); code != 503 || !strings.Contains(body, "no JetStream leader") {
		t.Errorf("admin API while waiting: %d %s", code, body)
	}
	select {
	case err := <-started:
		t.Fatalf("Start returned %v while the cluster is down", err)
	default:
	}

	cancel()
	select {
	case err := <-started:
		if err == nil || !strings.Contains(err.Error(), "gave up waiting") {
			t.Errorf("Start after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start still waiting 10s after its context ended")
	}
	if code, _ := get("GET", "/healthz", ""); code != 0 {
		t.Errorf("the listener still answers after a failed start (%d)", code)
	}
}
