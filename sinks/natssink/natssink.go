// Package natssink publishes events on a NATS subject, over the bus's own
// connection.
//
// When a JetStream stream captures the subject, Send publishes through
// JetStream and returns only after the stream's ack, so nil means stored.
// The message id (Nats-Msg-Id) is the event id plus the consumer, so a
// redelivery of the same event within the stream's duplicate window is
// stored once. Without a stream there is nothing to ack: Send publishes on
// core NATS and flushes, so nil means the server has the message, and
// subscribers that are not listening miss it, as with any core subject.
//
// Whether a stream covers the subject is looked up at the first Send, not
// in New (the bus may create streams after sinks are built), and again
// every RecheckEvery, so adding or removing a stream needs no restart.
package natssink

import (
	"context"
	"errors"
	"fmt"
	"github.com/eventrouter/eventrouter/bus"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
)

// Type is the sink's name in config (consumers.<name>.sink.type).
const Type = "nats"

// DefaultTimeout bounds one publish (with its ack or flush) when the
// caller's context has no deadline.
const DefaultTimeout = 5 * time.Second

// RecheckEvery is how long a "stream or not" answer is trusted.
const RecheckEvery = 30 * time.Second

// Config is the nats sink's keys.
type Config struct {
	Subject string `json:"subject"`
}

// Sink publishes events on one subject.
type Sink struct {
	subject string
	nc      *nats.Conn
	js      jetstream.JetStream
	closed  atomic.Bool

	mu       sync.Mutex
	known    bool      // whether useJS is an answer
	useJS    bool      // a stream captures subject
	checked  time.Time // when useJS was looked up
	checking bool      // a recheck is under way
}

var _ sinks.Sink = (*Sink)(nil)

// Validate checks a nats sink's keys without connecting.
func Validate(spec sinks.Spec) error {
	_, err := parse(spec)
	return err
}

func parse(spec sinks.Spec) (Config, error) {
	var c Config
	if err := sinks.Decode(spec, &c); err != nil {
		return c, fmt.Errorf("natssink: %w", err)
	}
	if c.Subject == "" {
		return c, errors.New(`natssink: missing required key "subject"`)
	}
	if err := validSubject(c.Subject); err != nil {
		return c, fmt.Errorf("natssink: %w", sinks.KeyErr("subject", "%q %v", c.Subject, err))
	}
	return c, nil
}

// validSubject accepts what a publisher may use: dot-separated non-empty
// tokens without wildcards or whitespace, outside the reserved $… and
// _INBOX. spaces (JetStream's API, the system account, replies).
func validSubject(s string) error {
	if strings.HasPrefix(s, "$") || strings.HasPrefix(s, "_INBOX.") {
		return errors.New("is reserved for NATS itself")
	}
	for _, p := range []string{bus.EventsPrefix, bus.DeliverPrefix, bus.DLQPrefix} {
		if strings.HasPrefix(s, p) {
			return fmt.Errorf("is routerd's own (%s…): delivering there would loop events back into the router", p)
		}
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" {
			return errors.New("has an empty token (leading, trailing or double dot)")
		}
		if strings.ContainsAny(tok, "*> \t\r\n\f\v\x00") {
			return errors.New("must not contain wildcards (*, >) or whitespace")
		}
	}
	return nil
}

// New builds a nats sink on the bus's connection. It sends nothing.
func New(name string, spec sinks.Spec, deps sinks.Deps) (sinks.Sink, error) {
	c, err := parse(spec)
	if err != nil {
		return nil, err
	}
	if deps.NATS == nil {
		return nil, errors.New("natssink: the nats sink needs the bus to be NATS (bus.type nats-embedded or nats)")
	}
	js, err := jetstream.New(deps.NATS)
	if err != nil {
		return nil, fmt.Errorf("natssink: %w", err)
	}
	return &Sink{subject: c.Subject, nc: deps.NATS, js: js}, nil
}

// Send publishes the event and waits for JetStream's ack or the server's
// flush.
func (s *Sink) Send(ctx context.Context, d event.Delivery) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "send", err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()

	useJS, err := s.useJetStream(ctx)
	if err != nil {
		return s.fail(ctx, "look up stream for "+s.subject, err)
	}
	m := nats.NewMsg(s.subject)
	m.Data = d.Event
	m.Header.Set("Content-Type", "application/json")
	m.Header.Set("Idempotency-Key", d.ID)
	m.Header.Set("X-Eventrouter-Rule", d.Rule)
	m.Header.Set("X-Eventrouter-Consumer", d.Consumer)
	m.Header.Set("X-Eventrouter-Attempt", strconv.Itoa(d.Attempt))

	if useJS {
		_, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(d.ID+":"+d.Consumer))
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			s.forget() // the stream went away: look again next time
		}
		if err != nil {
			return s.fail(ctx, "publish to JetStream on "+s.subject, err)
		}
		return nil
	}
	if err := s.nc.PublishMsg(m); err != nil {
		return s.fail(ctx, "publish on "+s.subject, err)
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return s.fail(ctx, "flush publish on "+s.subject, err)
	}
	return nil
}

// Close stops the sink. The connection is the bus's and stays open.
func (s *Sink) Close() error {
	s.closed.Store(true)
	return nil
}

var errDefaultTimeout = errors.New("natssink: no answer within the default timeout")

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, DefaultTimeout, errDefaultTimeout)
}

// useJetStream reports whether a stream captures the subject, from the
// cached answer when it is fresh. While one Send rechecks a stale answer,
// the others keep using it; a failed recheck keeps it too.
func (s *Sink) useJetStream(ctx context.Context) (bool, error) {
	s.mu.Lock()
	if s.known && (s.checking || time.Since(s.checked) < RecheckEvery) {
		v := s.useJS
		s.mu.Unlock()
		return v, nil
	}
	s.checking = true
	s.mu.Unlock()

	_, err := s.js.StreamNameBySubject(ctx, s.subject)
	found := err == nil
	switch {
	case err == nil,
		errors.Is(err, jetstream.ErrStreamNotFound),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders): // no JetStream on this server
		err = nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.checking = false
	if err != nil {
		if s.known {
			return s.useJS, nil
		}
		return false, err
	}
	s.known, s.useJS, s.checked = true, found, time.Now()
	return found, nil
}

func (s *Sink) forget() {
	s.mu.Lock()
	s.known = false
	s.mu.Unlock()
}

// fail turns a NATS error into a coded one; only what no retry can fix
// (an event larger than the server or stream accepts) is permanent.
func (s *Sink) fail(ctx context.Context, what string, err error) error {
	msg := "natssink: " + what + ": "
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return sinks.NewError("CANCELED", msg+ctx.Err().Error(), ctx.Err())
	case context.Cause(ctx) == errDefaultTimeout:
		return sinks.NewError("TIMEOUT", msg+fmt.Sprintf("no answer within %v", DefaultTimeout), context.DeadlineExceeded)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), ctx.Err() != nil:
		return sinks.NewError("TIMEOUT", msg+err.Error(), context.DeadlineExceeded)
	case errors.Is(err, nats.ErrMaxPayload):
		return sinks.Permanent(sinks.NewError("NATS_MAX_PAYLOAD", msg+err.Error(), err))
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return sinks.NewError("NATS_NO_STREAM", msg+err.Error(), err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return sinks.NewError("NATS_CONNECTION_CLOSED", msg+err.Error(), err)
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
		return sinks.Permanent(sinks.NewError("NATS_MAX_PAYLOAD", msg+err.Error(), err))
	}
	return sinks.NewError("NATS_ERROR", msg+err.Error(), err)
}

// ErrClosed is returned by Send after Close. It is retryable: the event
// goes back to the queue for the sink that replaces this one.
var ErrClosed error = sinks.NewError("SINK_CLOSED", "natssink: sink is closed", nil)

// Error is a failed delivery with a code for the dead-letter queue.
type Error = sinks.Error
