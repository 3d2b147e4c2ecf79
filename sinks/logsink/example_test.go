package logsink_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/logsink"
)

func Example() {
	// The daemon's JSON logger, without the time so the output is stable.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	s, err := logsink.New("audit", nil, sinks.Deps{Logger: logger})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	env := `{"version":"0","id":"6a7e8feb","detail-type":"OrderCreated","source":"orders.service","account":"000000000000","time":"2026-11-28T06:21:54Z","region":"local","resources":[],"detail":{"total":12.5}}`
	_ = s.Send(context.Background(), event.Delivery{Event: []byte(env), ID: "6a7e8feb", Rule: "all-orders", Consumer: "audit", Attempt: 1})
	// Output:
	// {"level":"INFO","msg":"event delivered","consumer":"audit","rule":"all-orders","event_id":"6a7e8feb","attempt":1,"event":{"version":"0","id":"6a7e8feb","detail-type":"OrderCreated","source":"orders.service","account":"000000000000","time":"2026-11-28T06:21:54Z","region":"local","resources":[],"detail":{"total":12.5}}}
}
