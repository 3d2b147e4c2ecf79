package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/app"
	"github.com/eventrouter/eventrouter/config"
)

// configInvalid is a configuration that failed validation (exit 2).
type configInvalid struct{ err error }

func (e configInvalid) Error() string { return e.err.Error() }
func (e configInvalid) Unwrap() error { return e.err }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with routerd configuration files"}
	var path string
	var insecure bool
	validate := &cobra.Command{
		Use:   "validate [--config FILE]",
		Short: "Check a configuration as routerd would at start, without starting anything",
		Long: `Load the file as routerd does (environment overrides included) and run every
check routerd runs before it starts anything: unknown keys, patterns, rule
targets, sink settings, schemas (schema files are read and compiled), and
whether each file sink's file could be created (relative paths from the
working directory, as routerd resolves them). Nothing is created or
contacted: listen addresses, NATS servers and HTTP sink URLs are not tried.
Each problem is printed with its key path; the exit status is 2 when there
is any.`,
		Example: `  routerctl config validate --config config.example.yaml`,
		Args:    cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Load(path, nil, config.WithInsecure(insecure))
			if err != nil {
				return configInvalid{err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d rules, %d consumers)\n", cfg.Source(), len(cfg.Rules), len(cfg.Consumers))
			return nil
		}),
	}
	validate.Flags().StringVar(&path, "config", "", "configuration file (default: config.yaml in the working directory)")
	validate.Flags().BoolVar(&insecure, "insecure", false, "validate as routerd --insecure would")
	cmd.AddCommand(validate)
	return cmd
}
