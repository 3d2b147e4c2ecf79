package main

import (
	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/internal/rulebench"
)

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Work with rule sets",
	}
	cmd.AddCommand(newRulesBenchCmd())
	return cmd
}

func newRulesBenchCmd() *cobra.Command {
	var c rulebench.Command
	cmd := &cobra.Command{
		Use:   "bench --rules FILE --events FILE.jsonl",
		Short: "Measure how fast a rule set matches events",
		Long: `Load a rule set (a JSON object of rule name → pattern, each pattern an object
or a string holding one) and events (JSON Lines), validate them all, then time
matching every event against all rules at once, in memory. Prints one line:
{"rules":R,"events":N,"matches":M,"seconds":S,"events_per_second":X}
where M counts (event, rule) matches in one pass.`,
		Example: `  routerctl rules bench --rules rules.json --events events.jsonl --passes 5`,
		Args:    cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			c.Stdin, c.Stdout = cmd.InOrStdin(), cmd.OutOrStdout()
			return c.Run()
		}),
	}
	f := cmd.Flags()
	f.StringVar(&c.Rules, "rules", "", "JSON object of rule name → pattern")
	f.StringVar(&c.Events, "events", "", "events, one JSON object per line (- for stdin)")
	f.IntVar(&c.Passes, "passes", 1, "times to repeat the timed loop, for steadier numbers")
	cmd.MarkFlagRequired("rules")
	cmd.MarkFlagRequired("events")
	return cmd
}
