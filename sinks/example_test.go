package sinks_test

import (
	"fmt"

	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/filesink"
	"github.com/eventrouter/eventrouter/sinks/httpsink"
	"github.com/eventrouter/eventrouter/sinks/logsink"
	"github.com/eventrouter/eventrouter/sinks/natssink"
)

// The registry is a plain value assembled where the concrete types meet
// (package app); tests build their own with fakes.
func ExampleRegistry() {
	reg := sinks.Registry{
		httpsink.Type: {New: httpsink.New, Validate: httpsink.Validate},
		filesink.Type: {New: filesink.New, Validate: filesink.Validate},
		natssink.Type: {New: natssink.New, Validate: natssink.Validate},
		logsink.Type:  {New: logsink.New, Validate: logsink.Validate},
	}
	_, err := reg.New("smtp", "inventory", nil, sinks.Deps{})
	fmt.Println(err)
	err = reg.Validate("http", sinks.Spec{"url": "http://127.0.0.1:9001/inventory", "timeot": "5s"})
	fmt.Println(err)
	// Output:
	// key type: unknown sink type "smtp" (known: file, http, log, nats)
	// httpsink: unknown key "timeot"
}
