package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/internal/patterntest"
)

// newPutEventsCmd sends events to routerd over its PutEvents API, as
// `aws events put-events` does.
func newPutEventsCmd(g *globals) *cobra.Command {
	var entries, source, detailType, detail, busName string
	var resources []string
	cmd := &cobra.Command{
		Use:   "put-events (--entries JSON|@FILE | --source S --detail-type T [--detail JSON|@FILE])",
		Short: "Send events to routerd (PutEvents)",
		Long: `Send up to 10 events in one PutEvents request and print routerd's answer:
the event id of each accepted entry, or its error code and message.
--entries takes PutEvents entries as AWS spells them (a JSON array of
{"Source","DetailType","Detail","Resources","EventBusName"}, Detail a string
holding JSON); the other flags build one entry.`,
		Example: `  routerctl put-events --source orders.service --detail-type OrderCreated --detail '{"orderId":"o-1","total":1250}'
  routerctl put-events --entries @entries.json`,
		Args: cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			var list []json.RawMessage
			switch {
			case entries != "" && source != "":
				return &patterntest.InputError{What: "--entries", Err: fmt.Errorf("give either --entries or --source/--detail-type, not both")}
			case entries != "":
				b, err := patterntest.ReadArg(entries, cmd.InOrStdin())
				if err != nil {
					return &patterntest.InputError{What: "--entries", Err: err}
				}
				if err := json.Unmarshal(b, &list); err != nil {
					return &patterntest.InputError{What: "--entries", Err: entriesError(err)}
				}
			case source != "" && detailType != "":
				d := []byte("{}")
				if detail != "" {
					var err error
					if d, err = patterntest.ReadArg(detail, cmd.InOrStdin()); err != nil {
						return &patterntest.InputError{What: "--detail", Err: err}
					}
				}
				e, _ := json.Marshal(map[string]any{
					"Source": source, "DetailType": detailType, "Detail": strings.TrimSpace(string(d)),
					"Resources": resources, "EventBusName": busName,
				})
				list = []json.RawMessage{e}
			default:
				return &patterntest.InputError{What: "put-events", Err: fmt.Errorf("give --entries, or --source and --detail-type")}
			}
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			res, err := c.PutEvents(cmd.Context(), list)
			if err != nil {
				return err
			}
			out, _ := json.MarshalIndent(res, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			if res.FailedEntryCount > 0 {
				return fmt.Errorf("%d of %d entries failed", res.FailedEntryCount, len(res.Entries))
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&entries, "entries", "", "PutEvents entries: a JSON array, @FILE or @-")
	f.StringVar(&source, "source", "", "the event's source")
	f.StringVar(&detailType, "detail-type", "", "the event's detail-type")
	f.StringVar(&detail, "detail", "", "the event's detail: a JSON object, @FILE or @-")
	f.StringVar(&busName, "bus", "", "event bus (default: default)")
	f.StringSliceVar(&resources, "resources", nil, "resource ARNs, comma-separated")
	return cmd
}

// entriesError words a failure to read --entries as a JSON array for the
// user, without the Go type json names.
func entriesError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf(`want a JSON array of entries, [{"Source":...,"DetailType":...,"Detail":"{...}"}, ...], got a JSON %s (one entry goes in brackets too)`, te.Value)
	}
	return fmt.Errorf("want a JSON array of entries: %v", err)
}

// newDLQCmd inspects, replays and purges a consumer's dead letters.
func newDLQCmd(g *globals) *cobra.Command {
	var consumer string
	var listLimit, replayLimit int // each subcommand its own: they differ in default
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and purge a consumer's dead-letter queue",
	}
	cmd.PersistentFlags().StringVar(&consumer, "consumer", "", "the consumer (_rejected: entries published to NATS that were not events)")
	cmd.MarkPersistentFlagRequired("consumer")
	list := &cobra.Command{
		Use:   "list --consumer C [--limit N]",
		Short: "Print dead letters, oldest first, one JSON record per line",
		Long: `Print the consumer's dead letters, oldest first, one JSON line each:
{"seq":N,"record":{"event":{...},"rule","consumer","error_code","error_message",
"reason","attempts","first_attempt","last_attempt","ingested"}}, then the total
on stderr.`,
		Args: cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			d, err := c.DLQList(cmd.Context(), consumer, listLimit)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false) // events as they were, not \u003c for <
			for _, e := range d.Entries {
				if err := enc.Encode(e); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d dead letters of %s shown\n", len(d.Entries), d.Total, consumer)
			return nil
		}),
	}
	list.Flags().IntVar(&listLimit, "limit", 100, "at most this many (1–10000)")
	replay := &cobra.Command{
		Use:   "replay --consumer C [--limit N]",
		Short: "Queue dead letters for delivery again (oldest first), removing them from the DLQ",
		Args:  cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			n, err := c.DLQReplay(cmd.Context(), consumer, replayLimit)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "{\"consumer\":%q,\"replayed\":%d}\n", consumer, n)
			return nil
		}),
	}
	replay.Flags().IntVar(&replayLimit, "limit", 10000, "at most this many (1–10000)")
	purge := &cobra.Command{
		Use:   "purge --consumer C",
		Short: "Drop every dead letter of the consumer",
		Args:  cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			n, err := c.DLQPurge(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "{\"consumer\":%q,\"purged\":%d}\n", consumer, n)
			return nil
		}),
	}
	cmd.AddCommand(list, replay, purge)
	return cmd
}

// newReloadCmd asks a running routerd to reload its configuration file.
func newReloadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Make routerd reload its configuration file (like SIGHUP)",
		Args:  cobra.NoArgs,
		RunE: body(func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(cmd)
			if err != nil {
				return err
			}
			if err := c.Reload(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), `{"reloaded":true}`)
			return nil
		}),
	}
}
