// Package sinks holds the transports that deliver events to consumers: one
// sub-package per type (http, file, nats, log). A sink only sends; retries,
// backoff and the dead-letter queue live in package consumers.
package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/nats-io/nats.go"
)

// Sink delivers events to one consumer's destination.
type Sink interface {
	// Send delivers one event. A nil error means the destination has it.
	// Errors are retried unless marked with Permanent.
	Send(ctx context.Context, d event.Delivery) error
	// Close releases the sink's resources.
	Close() error
}

// BatchSender is a sink that delivers several events more cheaply together
// than one by one: a file takes them in one write and one fsync. SendBatch
// returns nil when every delivery succeeded, else one error per delivery
// (nil for those that succeeded).
type BatchSender interface {
	SendBatch(ctx context.Context, ds []event.Delivery) []error
}

// Deps are the shared resources a sink may use.
type Deps struct {
	Logger *slog.Logger
	// NATS is a connection to the bus's NATS server, for the nats sink; nil
	// when the bus is not NATS.
	NATS *nats.Conn
}

// Spec is a sink's configuration as read from the config file: the keys of
// consumers.<name>.sink other than type.
type Spec map[string]any

// Factory builds a sink of one type. name is the consumer's name.
type Factory func(name string, spec Spec, deps Deps) (Sink, error)

// Kind is one sink type: its factory, and a check of its configuration
// that creates nothing and opens no connection (for validation and
// reload); it may look at the file system.
type Kind struct {
	New      Factory
	Validate func(Spec) error // nil: New is the only check
}

// Registry maps sink types to their kinds. It is a plain value built in one
// place (package app), so tests can register fakes.
type Registry map[string]Kind

// New builds a sink of the given type, or says which types exist.
func (r Registry) New(typ, name string, spec Spec, deps Deps) (Sink, error) {
	k, err := r.kind(typ)
	if err != nil {
		return nil, err
	}
	return k.New(name, spec, deps)
}

// Validate checks a sink's configuration without building it.
func (r Registry) Validate(typ string, spec Spec) error {
	k, err := r.kind(typ)
	if err != nil || k.Validate == nil {
		return err
	}
	return k.Validate(spec)
}

func (r Registry) kind(typ string) (Kind, error) {
	k, ok := r[typ]
	if !ok {
		known := make([]string, 0, len(r))
		for t := range r {
			known = append(known, t)
		}
		slices.Sort(known)
		return k, KeyErr("type", "unknown sink type %q (known: %s)", typ, strings.Join(known, ", "))
	}
	return k, nil
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the event goes to the
// dead-letter queue at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError carries the destination's own wish for when to retry.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no sooner than after (an HTTP
// Retry-After, say).
func RetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: after}
}

// RetryDelay returns the delay attached with RetryAfter, if any.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// Error is a failed delivery carrying a code for the dead-letter queue;
// the sinks build theirs with NewError.
type Error struct {
	code string
	msg  string
	err  error
}

// NewError returns a delivery error with a DLQ code (e.g. "HTTP_503"), a
// message and the cause it wraps (may be nil).
func NewError(code, msg string, cause error) *Error {
	return &Error{code: code, msg: msg, err: cause}
}

func (e *Error) Error() string { return e.msg }

// Code is the error's DLQ code.
func (e *Error) Code() string  { return e.code }
func (e *Error) Unwrap() error { return e.err }

// ErrorCode is a short machine-readable cause recorded with dead-lettered
// events, like EventBridge's ERROR_CODE attribute.
type ErrorCode interface{ Code() string }

// Timeouter is a sink with a configured timeout for one delivery (0 when
// none is set). A consumer without a timeout of its own bounds its attempts
// a little beyond it, so that the sink's own timeout, which its error
// names, is what fires.
type Timeouter interface {
	Timeout() time.Duration
}

// CodeOf returns err's code, or "SINK_ERROR".
func CodeOf(err error) string {
	var c ErrorCode
	if errors.As(err, &c) {
		return c.Code()
	}
	return "SINK_ERROR"
}

// KeyError is a problem with the value of one key of a sink's config. Key
// is its path inside the sink (timeout, headers.X-Token), so that config
// can report the full key path and the environment variable that set it.
type KeyError struct {
	Key string
	Err error
}

// KeyErr returns a KeyError for key, its reason formatted as fmt.Errorf does.
func KeyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

func (e *KeyError) Error() string { return "key " + e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Decode strictly decodes a sink spec into dst (a pointer to a struct with
// json tags): unknown keys are errors that name the key.
func Decode(spec Spec, dst any) error {
	b, err := json.Marshal(map[string]any(spec))
	if err != nil {
		return fmt.Errorf("sink config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "json: unknown field ") {
			return fmt.Errorf("unknown key %s", strings.TrimPrefix(msg, "json: unknown field "))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return KeyErr(te.Field, "expected %s, got %s", te.Type, te.Value)
		}
		// A value's own decoder (a duration, say) does not know its key:
		// find the key by decoding them one at a time.
		for _, k := range slices.Sorted(maps.Keys(spec)) {
			one, _ := json.Marshal(map[string]any{k: spec[k]})
			if json.Unmarshal(one, reflect.New(reflect.TypeOf(dst).Elem()).Interface()) != nil {
				return &KeyError{Key: k, Err: err}
			}
		}
		return fmt.Errorf("sink config: %v", err)
	}
	return nil
}

// Duration is a time.Duration that decodes from strings like "5s".
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (use e.g. 5s, 500ms)", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("invalid duration %s", b)
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}
