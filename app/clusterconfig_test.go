package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/internal/testkit"
)

// TestConfigDigests checks what the nodes of a cluster compare: rules,
// consumers and schemas, each apart; not what is a node's own (its file
// sink's path, its concurrency, its addresses), nor the order of rules and
// targets or how a pattern is spelt.
func TestConfigDigests(t *testing.T) {
	dir := t.TempDir()
	load := func(edit func(string) string) map[string]string {
		t.Helper()
		path := orderConfig(t, t.TempDir(), config.BusMemory, "")
		b, _ := os.ReadFile(path)
		s := string(b) + `schemas:
  - {source: orders.service, detail-type: OrderCreated, schema_file: ` + filepath.Join(dir, "order.json") + `}
`
		if edit != nil {
			s = edit(s)
		}
		os.WriteFile(path, []byte(s), 0o644)
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return configDigests(cfg)
	}
	os.WriteFile(filepath.Join(dir, "order.json"), []byte(`{"type":"object"}`), 0o644)
	base := load(nil)
	for _, p := range []string{partRules, partConsumers, partSchemas} {
		if len(base[p]) != 16 {
			t.Fatalf("digests %v", base)
		}
	}
	same := map[string]func(string) string{
		"another http.listen": func(s string) string {
			return strings.Replace(s, "listen: 127.0.0.1:0", "listen: 127.0.0.1:9999", 1)
		},
		"a file sink's path": func(s string) string { return strings.Replace(s, "/inventory.jsonl", "/node2-inventory.jsonl", 1) },
		"a consumer's concurrency": func(s string) string {
			return strings.Replace(s, "  inventory:\n", "  inventory:\n    concurrency: 4\n", 1)
		},
		"targets in another order": func(s string) string {
			return strings.Replace(s, "[inventory, notification, analytics]", "[analytics, inventory, notification]", 1)
		},
		"a pattern as a JSON string": func(s string) string {
			return strings.Replace(s, "pattern: {source: [orders.service], detail-type: [OrderCreated]}", `pattern: '{"detail-type": ["OrderCreated"], "source": ["orders.service"]}'`, 1)
		},
	}
	for what, edit := range same {
		if got := load(edit); fmt.Sprint(got) != fmt.Sprint(base) {
			t.Errorf("%s: digests %v, want %v", what, got, base)
		}
	}
	differ := map[string]struct {
		edit func(string) string
		part string
	}{
		"another target": {func(s string) string {
			return strings.Replace(s, "targets: [vip-alerts]", "targets: [vip-alerts, inventory]", 1)
		}, partRules},
		"another pattern": {func(s string) string { return strings.Replace(s, `">=", 1000`, `">=", 2000`, 1) }, partRules},
		"another retry": {func(s string) string {
			return strings.Replace(s, "  inventory:\n", "  inventory:\n    retry: {max_attempts: 3}\n", 1)
		}, partConsumers},
		"a consumer more": {func(s string) string {
			return strings.Replace(s, "consumers:\n", "consumers:\n  audit: {sink: {type: log}}\n", 1)
		}, partConsumers},
		"another schema": {func(s string) string {
			return strings.Replace(s, "OrderCreated, schema_file", "OrderShipped, schema_file", 1)
		}, partSchemas},
	}
	for what, c := range differ {
		got := load(c.edit)
		for _, p := range []string{partRules, partConsumers, partSchemas} {
			if (got[p] != base[p]) != (p == c.part) {
				t.Errorf("%s: %s digest %s, was %s; want only %s to differ", what, p, got[p], base[p], c.part)
			}
		}
	}
	// The schema file's content counts, wherever it is.
	os.WriteFile(filepath.Join(dir, "order.json"), []byte(`{"type":"object","required":["total"]}`), 0o644)
	if got := load(nil); got[partSchemas] == base[partSchemas] || got[partRules] != base[partRules] {
		t.Errorf("schema file changed: digests %v, were %v", got, base)
	}

	own := map[string]string{partRules: "r1", partConsumers: "c1", partSchemas: "s1"}
	drifts := compareConfigs(own, []bus.NodeConfig{
		{Node: "n2", Parts: map[string]string{partRules: "r1", partConsumers: "c1", partSchemas: "s1"}},
		{Node: "n3", Parts: map[string]string{partRules: "r2", partConsumers: "c1", partSchemas: "s2"}},
		{Node: "n4", Parts: map[string]string{partRules: "r1", "later": "x"}}, // another version: what both record is compared
	})
	if got := fmt.Sprint(drifts); got != "[{n3 [rules schemas]}]" {
		t.Errorf("drifts %s", got)
	}
	if got := describeDrifts("n1", drifts); !strings.Contains(got, "this node (n1) and the others of its cluster do not share their configuration: n3 differs in rules, schemas.") {
		t.Errorf("described as %q", got)
	}
}

// TestClusterConfigMismatch starts two nodes of a cluster in process: they
// agree; a reload of one with another rule makes both say so, naming the
// other node and the rules, by log and by eventrouter_cluster_config_mismatch,
// while /readyz stays 200; reloaded back, they agree again.
func TestClusterConfigMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-node NATS cluster with JetStream")
	}
	clusterAddrs := testkit.FreeAddrs(t, 2)
	paths := make([]string, 2)
	apps := make([]*App, 2)
	logs := make([]*testkit.Buffer, 2)
	for i := range apps {
		dir := t.TempDir()
		paths[i] = orderConfig(t, dir, config.BusNATSEmbedded, "")
		b, _ := os.ReadFile(paths[i])
		b = bytes.Replace(b, []byte("    listen: \"\"\n"), []byte(fmt.Sprintf(`    listen: 127.0.0.1:0
    cluster:
      name: test
      listen: %s
      routes: [nats-route://%s]
      server_name: node%d
`, clusterAddrs[i], clusterAddrs[1-i], i)), 1)
		os.WriteFile(paths[i], b, 0o644)
		cfg, err := config.Load(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = &testkit.Buffer{}
		apps[i] = New(cfg, Options{Logger: slog.New(slog.NewTextHandler(logs[i], nil))})
		apps[i].configEvery = 200 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, a := range apps {
		wg.Go(func() { errs[i] = a.Start(ctx) })
	}
	wg.Wait()
	for i, a := range apps {
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a.Stop(sctx)
		})
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	gauge := func(i int) string {
		for line := range strings.Lines(metricsText(t, apps[i].Addr())) {
			if v, ok := strings.CutPrefix(line, "eventrouter_cluster_config_mismatch "); ok {
				return strings.TrimSpace(v)
			}
		}
		return "absent"
	}
	waitGauges := func(want string) {
		t.Helper()
		waitFor(t, "eventrouter_cluster_config_mismatch "+want+" on both nodes", 30*time.Second, func() bool { return gauge(0) == want && gauge(1) == want })
	}
	waitGauges("0")

	orig, _ := os.ReadFile(paths[1])
	os.WriteFile(paths[1], bytes.Replace(orig, []byte("targets: [vip-alerts]"), []byte("targets: [vip-alerts, inventory]"), 1), 0o644)
	if err := apps[1].ReloadFile(ctx); err != nil {
		t.Fatal(err)
	}
	waitGauges("1")
	for i := range apps {
		want := fmt.Sprintf("this node (node%d) and the others of its cluster do not share their configuration: node%d differs in rules.", i, 1-i)
		if !strings.Contains(logs[i].String(), want) {
			t.Errorf("node %d does not log %q:\n%s", i, want, logs[i].String())
		}
		if err := apps[i].Ready(ctx); err != nil {
			t.Errorf("node %d not ready on a mismatch: %v", i, err)
		}
	}

	os.WriteFile(paths[1], orig, 0o644)
	if err := apps[1].ReloadFile(ctx); err != nil {
		t.Fatal(err)
	}
	waitGauges("0")
	waitFor(t, "both nodes log that they agree again", 10*time.Second, func() bool {
		return strings.Contains(logs[0].String(), "share their configuration again") && strings.Contains(logs[1].String(), "share their configuration again")
	})
}
