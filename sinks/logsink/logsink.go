// Package logsink writes each event to the daemon's log, for trying rules
// out and for debugging: nothing to set up, and the event shows next to
// the router's own messages.
//
// Each event is one Info record, "event delivered", with attributes
// consumer, rule, event_id, attempt and event. event is the envelope as a
// json.RawMessage, so a JSON handler embeds it as an object rather than a
// quoted string, and a text handler prints it as one quoted value.
package logsink

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
)

// Type is the sink's name in config (consumers.<name>.sink.type).
const Type = "log"

// Message is the log record's message.
const Message = "event delivered"

// Config is the log sink's keys: none.
type Config struct{}

// Sink logs events.
type Sink struct {
	logger *slog.Logger
	closed atomic.Bool
}

var _ sinks.Sink = (*Sink)(nil)

// Validate checks a log sink's keys: there are none.
func Validate(spec sinks.Spec) error {
	var c Config
	if err := sinks.Decode(spec, &c); err != nil {
		return errors.New("logsink: " + err.Error() + " (the log sink takes no keys)")
	}
	return nil
}

// New builds a log sink on deps.Logger, or slog.Default() when it is nil.
func New(name string, spec sinks.Spec, deps sinks.Deps) (sinks.Sink, error) {
	if err := Validate(spec); err != nil {
		return nil, err
	}
	l := deps.Logger
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(context.Background(), slog.LevelInfo) {
		// Otherwise every Send would succeed and print nothing.
		l.Warn("log sink: the log level hides Info, so its events will not appear", "consumer", name)
	}
	return &Sink{logger: l}, nil
}

// Send logs the event. Invalid JSON is refused rather than logged, since
// a JSON handler would fail to embed it.
func (s *Sink) Send(ctx context.Context, d event.Delivery) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		code := "CANCELED"
		if errors.Is(err, context.DeadlineExceeded) {
			code = "TIMEOUT"
		}
		return sinks.NewError(code, "logsink: send: "+err.Error(), err)
	}
	if !json.Valid(d.Event) {
		return sinks.Permanent(sinks.NewError("INVALID_EVENT", "logsink: event "+d.ID+" is not valid JSON", nil))
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, Message,
		slog.String("consumer", d.Consumer),
		slog.String("rule", d.Rule),
		slog.String("event_id", d.ID),
		slog.Int("attempt", d.Attempt),
		slog.Any("event", json.RawMessage(d.Event)),
	)
	return nil
}

// Close stops the sink; the logger is the daemon's and stays.
func (s *Sink) Close() error {
	s.closed.Store(true)
	return nil
}

// ErrClosed is returned by Send after Close. It is retryable: the event
// goes back to the queue for the sink that replaces this one.
var ErrClosed error = sinks.NewError("SINK_CLOSED", "logsink: sink is closed", nil)

// Error is a failed delivery with a code for the dead-letter queue.
type Error = sinks.Error
