package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eventrouter/eventrouter/config"
)

func ExampleLoad() {
	c, err := config.Load("../config.example.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range c.Rules {
		fmt.Println(r.Name, "→", r.Targets)
	}
	fmt.Println(c.Consumers["vip-alerts"].Retry.MaxAttempts, c.Consumers["inventory"].Sink.Spec["path"])
	// Output:
	// order-created → [inventory notification analytics]
	// order-created-vip → [vip-alerts]
	// 50 ./data/out/inventory.jsonl
}

func ExampleErrors() {
	dir, _ := os.MkdirTemp("", "config")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte(`
rules:
  - name: big-orders
    pattern: {detail: {total: [{numeric: [">", 30, "<", 1]}]}}
    targets: [analytics2]
consumers:
  analytics: {sink: {type: log}, retry: {max_attempts: 0}}
`), 0o644)

	_, err := config.Load(path)
	var problems config.Errors
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Println(p)
		}
	}
	// Output:
	// rules[0].pattern: detail.total: numeric: lower bound 30 must be below upper bound 1
	// rules[0].targets[0]: consumer "analytics2" is not defined (did you mean "analytics"?)
	// consumers.analytics.retry.max_attempts: must be at least 1, got 0
}
