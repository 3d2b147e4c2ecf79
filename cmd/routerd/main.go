// Command routerd is the eventrouter daemon: it loads the configuration,
// starts the app and turns signals into its lifecycle: SIGTERM and SIGINT
// drain and stop, SIGHUP reloads the configuration file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eventrouter/eventrouter/app"
	"github.com/eventrouter/eventrouter/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("routerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: routerd [--config FILE] [--insecure] [--shutdown-grace DURATION]")
		fs.PrintDefaults()
	}
	path := fs.String("config", "", "configuration file (default: config.yaml in the working directory, else built-in defaults)")
	insecure := fs.Bool("insecure", false, "allow listening on a non-loopback address without authentication")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long SIGTERM waits for in-flight deliveries")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// A path given without --config would otherwise be ignored, and routerd
	// would start on the defaults as if the file did not exist.
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "routerd: unexpected argument %q (the config file is given with --config FILE)\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	// Every check runs here, the sinks' and schemas' too, before the bus
	// opens or a file is created: a bad config is a usage error (2).
	cfg, err := app.Load(*path, nil, config.WithInsecure(*insecure))
	if err != nil {
		fmt.Fprintf(stderr, "routerd: %v\n", err)
		return 2
	}
	log := newLogger(cfg.Log, os.Stdout)
	slog.SetDefault(log)

	a := app.New(cfg, app.Options{Logger: log})
	// Signals are taken before the start, which can take long: a node of a
	// cluster waits for the others. SIGTERM then stops the wait, and a
	// SIGHUP reloads once started (by default either killed routerd).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if code, ok := start(a, sigs, log); !ok {
		return code
	}
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			reloadOnHUP(a, log)
			continue
		}
		log.Info("stopping", "signal", sig.String(), "grace", *grace)
		ctx, cancel := context.WithTimeout(context.Background(), *grace)
		err := a.Stop(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("stopped with errors", "err", err)
			return 1
		}
		log.Info("stopped")
		return 0
	}
	return 0
}

// start starts a, meanwhile handling sigs: SIGTERM and SIGINT cancel the
// start (exit 0), a SIGHUP is kept for the end of it. ok is false when
// routerd is to exit with code.
func start(a *app.App, sigs <-chan os.Signal, log *slog.Logger) (code int, ok bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()
	reload := false
	for {
		select {
		case err := <-done:
			switch {
			case err != nil && ctx.Err() != nil:
				log.Info("stopped before the start completed")
				return 0, false
			case err != nil:
				log.Error("routerd: start failed", "err", err)
				return 1, false
			}
			if reload {
				reloadOnHUP(a, log)
			}
			return 0, true
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				log.Info("SIGHUP while starting: the configuration file will be reloaded once started")
				reload = true
				continue
			}
			log.Info("stopping while starting", "signal", sig.String())
			cancel()
		}
	}
}

// reloadOnHUP reloads the configuration file; a failure is logged by a.
func reloadOnHUP(a *app.App, log *slog.Logger) {
	if err := a.ReloadFile(context.Background()); err == nil {
		log.Info("reloaded on SIGHUP")
	}
}

// newLogger builds the daemon's slog logger from the log settings.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.Level))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
