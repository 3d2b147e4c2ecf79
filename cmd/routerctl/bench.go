package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/internal/e2ebench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark routerd",
	}
	cmd.AddCommand(newBenchE2ECmd())
	return cmd
}

func newBenchE2ECmd() *cobra.Command {
	var (
		o                 e2ebench.Options
		asJSON            bool
		cpuProfile        string
		latencyCPUProfile string
		memProfile        string
	)
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Measure routerd end to end against the raw JetStream hops it is built on",
		Long: `Start everything in this process, in a temporary directory, and measure:
  A  the raw baseline: embedded JetStream (file storage) → forwarder → 3 file sinks
  B  routerd at peak: PutEvents over HTTP → router → consumers → file sinks
     (config.example.yaml's rules, schema and consumers; every sink a file,
     no throttle)
  C  latency at half of B's delivered peak, read from the consumers' files
  D  a soak at half peak for --duration, sampling heap and RSS
Prints a short summary, or with --json the report as JSON on stdout and the
summary on stderr. The machine may be shared: the report records the load.`,
		Example: `  routerctl bench e2e
  routerctl bench e2e --duration 5m --json > e2e.json
  routerctl bench e2e --cpuprofile cpu.out && go tool pprof -top cpu.out`,
		Args: cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			o.Progress = cmd.ErrOrStderr()
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			for _, out := range []struct {
				path string
				to   *io.Writer
			}{{cpuProfile, &o.CPUProfile}, {latencyCPUProfile, &o.LatencyCPUProfile}, {memProfile, &o.HeapProfile}} {
				if out.path == "" {
					continue
				}
				f, err := os.Create(out.path)
				if err != nil {
					return err
				}
				defer f.Close()
				*out.to = f
			}
			rep, err := e2ebench.Run(ctx, o)
			if rep.Machine.Go == "" { // nothing ran
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return jerr
				}
				fmt.Fprint(cmd.ErrOrStderr(), rep.Summary())
			} else {
				fmt.Fprint(cmd.OutOrStdout(), rep.Summary())
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 0, "soak phase (D) at half peak (default 60s; 5m or more to see memory level off)")
	f.DurationVar(&o.PeakDuration, "peak-duration", 0, "measured window of the peak phases A and B (default 15s)")
	f.DurationVar(&o.Warmup, "warmup", 0, "unmeasured sending before each peak window (default 2s)")
	f.DurationVar(&o.LatencyDuration, "latency-duration", 0, "latency phase (C) at half peak (default 20s)")
	f.Float64Var(&o.LatencyRate, "latency-rate", 0, "run phases C and D at this many events/s instead of half of B's peak (the latency target is then not judged)")
	f.IntVar(&o.Batch, "batch", 10, "events per request (PutEvents entries, at most 10)")
	f.IntVar(&o.Senders, "senders", 16, "concurrent senders, each with one request in flight")
	f.StringVar(&o.Dir, "out-dir", "", "keep data and consumer files here (default: a temporary directory, removed)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON on stdout (the summary goes to stderr)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of phase B's measured window to this file")
	f.StringVar(&latencyCPUProfile, "latency-cpuprofile", "", "write a CPU profile of phase C's measured window (half peak) to this file")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile taken at the end of the soak to this file")
	return cmd
}
