package sinktest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
)

// Memory is a sink that keeps what it is sent, for tests of the code
// around sinks (consumers, app): register it in a sinks.Registry in place
// of a real type. It passes Run, so code tested against it can trust it
// behaves like a sink.
type Memory struct {
	// Fail, when set, is asked before each delivery; a non-nil answer is
	// returned from Send and nothing is kept (use sinks.Permanent or
	// sinks.RetryAfter to script the destination's answers).
	Fail func(event.Delivery) error

	mu     sync.Mutex
	got    []event.Delivery
	closed bool
}

var _ sinks.Sink = (*Memory)(nil)

// ErrClosed is returned by Memory.Send after Close.
var ErrClosed = errors.New("sinktest: sink is closed")

// Send keeps d unless ctx is done, the sink is closed or Fail says no.
func (m *Memory) Send(ctx context.Context, d event.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.Fail != nil {
		if err := m.Fail(d); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	d.Event = slices.Clone(d.Event)
	m.got = append(m.got, d)
	return nil
}

// Close marks the sink closed.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

// Received returns a copy of what Send kept, in order.
func (m *Memory) Received() []event.Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.got)
}

// Factory returns a sinks.Factory that hands out m whatever the config.
func (m *Memory) Factory() sinks.Factory {
	return func(string, sinks.Spec, sinks.Deps) (sinks.Sink, error) { return m, nil }
}
