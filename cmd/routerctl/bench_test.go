package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBenchE2EFlags checks the command's flags reach the benchmark without
// running it: a batch PutEvents cannot carry is refused before anything
// starts. (The benchmark itself is tested in internal/e2ebench.)
func TestBenchE2EFlags(t *testing.T) {
	cmd := newBenchCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // as under the root
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"e2e", "--batch", "11", "--duration", "1s", "--senders", "2", "--json"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "batch must be 1 to 10") {
		t.Fatalf("err = %v, want the batch refused", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed a report for a run that did not happen:\n%s", out.String())
	}
}
