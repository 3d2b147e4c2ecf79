package sinktest

import (
	"testing"

	"github.com/eventrouter/eventrouter/sinks"
)

func TestMemoryConforms(t *testing.T) {
	Run(t, func(t *testing.T) (sinks.Sink, Received) {
		m := &Memory{}
		return m, m.Received
	})
}
