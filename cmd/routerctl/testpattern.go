package main

import (
	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/internal/patterntest"
)

func newTestPatternCmd() *cobra.Command {
	var c patterntest.Command
	cmd := &cobra.Command{
		Use:   "test-pattern (--pattern JSON|@FILE --event JSON|@FILE | --cases FILE|-)",
		Short: "Test an event pattern against an event, offline",
		Long: `Test an EventBridge event pattern against an event, as
'aws events test-event-pattern' does, without a daemon.

Single mode prints {"Result": true} or {"Result": false}. Batch mode (--cases)
reads JSON Lines of {"pattern": ..., "event": ..., ...} and writes one line per
case, other fields copied, with "Result" or "Error". --explain says why a
non-match failed. Invalid input exits 2 with what is wrong and where.`,
		Example: `  routerctl test-pattern --pattern '{"source":["orders"]}' --event @event.json
  routerctl test-pattern --pattern @pattern.json --event @- < event.json
  routerctl test-pattern --explain --pattern @p.json --event @e.json
  routerctl test-pattern --cases cases.jsonl > results.jsonl`,
		Args: cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			return c.Run()
		}),
	}
	f := cmd.Flags()
	f.StringVar(&c.Pattern, "pattern", "", "event pattern: JSON, @FILE, or @- for stdin")
	f.StringVar(&c.Event, "event", "", "event: JSON, @FILE, or @- for stdin")
	f.StringVar(&c.Cases, "cases", "", "batch: JSON Lines file of {pattern, event, ...} cases, - for stdin")
	f.BoolVar(&c.Explain, "explain", false, "for a non-match, say which field failed and why")
	cmd.MarkFlagsRequiredTogether("pattern", "event")
	cmd.MarkFlagsOneRequired("pattern", "cases")
	cmd.MarkFlagsMutuallyExclusive("cases", "pattern")
	cmd.MarkFlagsMutuallyExclusive("cases", "event")
	return cmd
}
