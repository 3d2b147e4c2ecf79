package e2ebench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/filesink"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The raw baseline's three consumers stand for inventory, notification and
// analytics, with their concurrency in config.example.yaml.
var rawConsumers = []struct {
	name        string
	subject     string
	concurrency int
}{
	{"a", "out.a", 16},
	{"b", "out.b", 16},
	{"c", "out.c", 4},
}

// rawForwarders matches the router's default worker count (and its
// consumer's MaxAckPending).
const rawForwarders = 64

// rawPipeline is routerd's hops without routerd: the same embedded NATS
// server and JetStream file store (bus.StartEmbedded), a stream IN for
// accepted events, a forwarder that copies each event to one subject per
// consumer on a stream OUT before acking it, and three consumers that
// append each event to a file through the file sink (the same group
// commit code routerd's consumers use), then ack. What it lacks is
// routerd's own work: HTTP and PutEvents decoding, normalisation, rule
// matching, watermill messages and metadata, retries, metrics.
type rawPipeline struct {
	srv   *server.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	sinks []sinks.Sink
	ccs   []jetstream.ConsumeContext
	done  chan struct{}
	wg    sync.WaitGroup
	files map[string]string
	order []string
}

func startRaw(ctx context.Context, dir string) (_ *rawPipeline, err error) {
	nc, srv, err := bus.StartEmbedded(bus.EmbeddedOptions{DataDir: filepath.Join(dir, "data"), ServerName: "e2ebench-raw"})
	if err != nil {
		return nil, err
	}
	r := &rawPipeline{srv: srv, nc: nc, done: make(chan struct{}), files: map[string]string{}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.js, err = jetstream.New(nc); err != nil {
		return nil, err
	}
	// The stream settings of bus.NewJetStream, but for the de-duplication
	// window: the raw publishes carry no message id, so it would remember
	// nothing.
	for _, sc := range []jetstream.StreamConfig{
		{Name: "IN", Subjects: []string{"in"}},
		{Name: "OUT", Subjects: []string{"out.*"}},
	} {
		sc.Storage = jetstream.FileStorage
		sc.Retention = jetstream.WorkQueuePolicy
		sc.Replicas = 1
		sc.AllowDirect = true
		if _, err := r.js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("raw: stream %s: %w", sc.Name, err)
		}
	}
	if err := r.consume(ctx, "IN", "in", "forward", rawForwarders, 10*time.Second, r.forward); err != nil {
		return nil, err
	}
	for _, c := range rawConsumers {
		path := filepath.Join(dir, "out", c.name+".jsonl")
		s, err := filesink.New(c.name, sinks.Spec{"path": path}, sinks.Deps{})
		if err != nil {
			return nil, err
		}
		r.sinks = append(r.sinks, s)
		r.files[c.name], r.order = path, append(r.order, c.name)
		name := c.name
		deliver := func(m jetstream.Msg) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := s.Send(ctx, event.Delivery{Event: m.Data(), Consumer: name, Attempt: 1})
			cancel()
			if err != nil {
				_ = m.NakWithDelay(time.Second)
				return
			}
			_ = m.Ack()
		}
		if err := r.consume(ctx, "OUT", c.subject, "deliver-"+c.name, c.concurrency, 15*time.Second, deliver); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// consume runs workers goroutines on a durable pull consumer with the
// settings bus.JetStream.Consume gives routerd's: explicit acks, at most
// workers unacked, pulled in batches of up to workers.
func (r *rawPipeline) consume(ctx context.Context, stream, subject, durable string, workers int, ackWait time.Duration, handle func(jetstream.Msg)) error {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: workers,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("raw: consumer %s: %w", durable, err)
	}
	ch := make(chan jetstream.Msg)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case ch <- m:
		case <-r.done:
		}
	}, jetstream.PullMaxMessages(min(workers, 512)))
	if err != nil {
		return fmt.Errorf("raw: consume %s: %w", durable, err)
	}
	r.ccs = append(r.ccs, cc)
	for range workers {
		r.wg.Go(func() {
			for {
				select {
				case m := <-ch:
					handle(m)
				case <-r.done:
					return
				}
			}
		})
	}
	return nil
}

// forward copies an accepted event to each consumer's subject, waits until
// all three copies are stored, then acks the input.
func (r *rawPipeline) forward(m jetstream.Msg) {
	var futures [3]jetstream.PubAckFuture
	for i, c := range rawConsumers {
		f, err := r.js.PublishMsgAsync(&nats.Msg{Subject: c.subject, Data: m.Data()})
		if err != nil {
			_ = m.NakWithDelay(time.Second)
			return
		}
		futures[i] = f
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case <-f.Err():
			_ = m.NakWithDelay(time.Second)
			return
		case <-time.After(10 * time.Second):
			_ = m.NakWithDelay(time.Second)
			return
		}
	}
	_ = m.Ack()
}

// sender returns a sendFunc publishing batches to IN as the ingester does:
// every event published asynchronously, then every ack awaited.
func (r *rawPipeline) sender() sendFunc {
	futures := make([]jetstream.PubAckFuture, 0, 16)
	return func(ctx context.Context, seq0 int64, n int, sent time.Time) (int, error) {
		futures = futures[:0]
		for i := range n {
			f, err := r.js.PublishMsgAsync(&nats.Msg{Subject: "in", Data: envelope(seq0+int64(i), sent)})
			if err != nil {
				return 0, err
			}
			futures = append(futures, f)
		}
		acked := 0
		var errs []error
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		for _, f := range futures {
			select {
			case <-f.Ok():
				acked++
			case err := <-f.Err():
				errs = append(errs, err)
			case <-timeout.C:
				return acked, errors.New("raw: no publish ack within 10s")
			}
		}
		return acked, errors.Join(errs...)
	}
}

// close stops consuming, closes the sinks, the connection and the server.
func (r *rawPipeline) close() error {
	for _, cc := range r.ccs {
		cc.Stop()
	}
	close(r.done)
	r.wg.Wait()
	var errs []error
	for _, s := range r.sinks {
		errs = append(errs, s.Close())
	}
	r.nc.Close()
	r.srv.Shutdown()
	r.srv.WaitForShutdown()
	return errors.Join(errs...)
}
