// Command routerctl is the eventrouter CLI. Offline commands (test-pattern,
// rules bench) need no daemon; online ones talk to routerd at --endpoint.
// Commands here only parse flags and call packages, where the logic and its
// tests live.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/internal/client"
	"github.com/eventrouter/eventrouter/internal/patterntest"
	"github.com/eventrouter/eventrouter/internal/rulebench"
)

// Exit statuses, as scripts see them.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (I/O, network)
	exitInvalid = 2 // usage error or invalid input: fix the command line or the files
)

// globals are the root's persistent flags; online commands get a *globals
// from newRoot when they are added.
type globals struct {
	endpoint string
	token    string
	// An AWS access key to sign with (SigV4), and the signature's region;
	// see credentials.go.
	accessKeyID, secretAccessKey, region string
}

func newRoot() *cobra.Command {
	var g globals
	root := &cobra.Command{
		Use:           "routerctl",
		Short:         "Control and test eventrouter",
		SilenceUsage:  true, // a failing command is not a reason to print its usage
		SilenceErrors: true, // main prints errors once, with the exit status
	}
	root.PersistentFlags().StringVar(&g.endpoint, "endpoint", "http://127.0.0.1:8080", "routerd HTTP endpoint (online commands)")
	root.PersistentFlags().StringVar(&g.token, "token", "", "API key sent as Authorization: Bearer (online commands)")
	root.PersistentFlags().StringVar(&g.accessKeyID, "access-key-id", "",
		"AWS access key id to sign with (SigV4; online commands); default $AWS_ACCESS_KEY_ID when --token is not given")
	root.PersistentFlags().StringVar(&g.secretAccessKey, "secret-access-key", "",
		"its secret; default $AWS_SECRET_ACCESS_KEY (the variable keeps it out of the process list)")
	root.PersistentFlags().StringVar(&g.region, "region", client.DefaultRegion, "region of the SigV4 signature (routerd takes any)")
	root.AddCommand(newTestPatternCmd(), newRulesCmd(), newConfigCmd(),
		newPutEventsCmd(&g), newDLQCmd(&g), newReloadCmd(&g), newBenchCmd())
	return root
}

// bodyError marks errors returned by a command's body, so main can tell them from
// the usage errors cobra returns before the body runs.
type bodyError struct{ err error }

func (e bodyError) Error() string { return e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

// body wraps a command's RunE; see bodyError.
func body(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return bodyError{err}
		}
		return nil
	}
}

// exitCode maps an error from Execute to the process status.
func exitCode(err error) int {
	var pe *patterntest.InputError
	var be *rulebench.InputError
	switch {
	case err == nil:
		return exitOK
	case !errors.As(err, new(bodyError)), errors.As(err, &pe), errors.As(err, &be), errors.As(err, new(configInvalid)):
		return exitInvalid
	}
	return exitFailure
}

func main() {
	cmd, err := newRoot().ExecuteC()
	if err != nil {
		fmt.Fprintf(os.Stderr, "routerctl: %v\n", err)
		if !errors.As(err, new(bodyError)) {
			fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	os.Exit(exitCode(err))
}
