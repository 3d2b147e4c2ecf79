// Package bus is the message bus under everything: watermill's Publisher and
// Subscriber over NATS JetStream (an embedded server by default, or an
// external one or cluster) or in memory.
//
// Topics are NATS subjects: events.<bus> for accepted events,
// deliver.<consumer> for one consumer's queue, dlq.<consumer> for its
// dead letters. Each family is one JetStream stream (EVENTS, DELIVER, DLQ).
//
// Beyond watermill's ack and nack, a handler may ask for a delayed
// redelivery: set RetryDelayKey in the message metadata before Nack. The
// broker holds the message meanwhile; no worker waits.
package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Metadata keys the bus sets on delivered messages and reads on nacked ones.
const (
	// RetryDelayKey, set before Nack, delays the redelivery (a Go duration).
	RetryDelayKey = "eventrouter-retry-delay"
	// DeliveredKey holds how many times the message has been delivered,
	// counting this time (1 for the first delivery).
	DeliveredKey = "eventrouter-delivered"
	// StoredKey holds when the message was first stored on the bus
	// (RFC 3339 with nanoseconds). Messages of a DirectAnswers subscription
	// go without it: Stored reads the time from their context instead, so
	// that no text is made for it on every delivery.
	StoredKey = "eventrouter-stored"
	// TopicKey holds the topic the message was published on: with a
	// wildcard subscription such as "events.>", it names the bus.
	TopicKey = "eventrouter-topic"
	// FreshIDKey, set by a publisher, says the message's UUID was made for
	// it just now (a new event's generated id): no earlier copy can exist,
	// so the bus does not remember the id for de-duplication.
	FreshIDKey = "eventrouter-fresh-id"
)

// De-duplication windows: a message whose UUID was published on the same
// topic within its stream's window is stored once. JetStream keeps every
// id of the window in memory (a few small objects each), and every garbage
// collection marks them all: with windows of one minute on EVENTS and 30 s
// on DELIVER for every id, a run at 1,600 events/s kept ~250,000 ids, GC
// mark phases took 135-250 ms about once a second, and the latency tail
// grew with them (BENCHMARKS.md, "Night runs"). So
// each window is as short as its purpose allows, and fresh ids (FreshIDKey)
// are not remembered at all.
//   - EVENTS: an event id the client chose is its idempotency key; a retry
//     within a minute is stored once.
//   - DELIVER: the router publishing an event's deliveries again after a
//     failed publish, one second later. A redelivery after a crash (the
//     router's ack wait, 10 s) falls outside: at-least-once allows the
//     duplicate, and sinks get the event id as Idempotency-Key.
//   - DLQ: a consumer writing a dead letter again: 5 s later when the
//     write's ack was lost, or when the event comes back after a crash
//     between the write and the event's ack (the consumer's ack wait,
//     2 × its timeout + 10 s: 20 s by default). With timeouts above 10 s
//     such a crash can leave two records of one event; at least once
//     allows it, and a longer window would keep the ids of a consumer
//     failing every event for as long (the heap).
var dedupWindows = map[string]time.Duration{
	"EVENTS":  time.Minute,
	"DELIVER": 5 * time.Second,
	"DLQ":     30 * time.Second,
}

// fresh reports whether the message's id needs no de-duplication.
func fresh(m *message.Message) bool { return m.Metadata.Get(FreshIDKey) != "" }

// Metadata keys of the router's own messages: the contract between ingest,
// the router and the consumers. They travel as NATS headers.
const (
	// EnvelopeKey marks a message on events.<bus> whose payload is already
	// a checked, normalised envelope, with the bus's Seal tag of the
	// payload; others are raw entries published to NATS.
	EnvelopeKey = "Eventrouter-Envelope"
	// EventIDKey is the event's id on deliver. and dlq. messages.
	EventIDKey = "Eventrouter-Event-Id"
	// RuleKey names the rules (comma-separated) that sent an event to a
	// consumer.
	RuleKey = "Eventrouter-Rule"
	// IngestedKey is when the event was first stored on the bus
	// (RFC 3339 with nanoseconds): its age counts from there.
	IngestedKey = "Eventrouter-Ingested"
)

// Topic prefixes, one JetStream stream each.
const (
	EventsPrefix  = "events."
	DeliverPrefix = "deliver."
	DLQPrefix     = "dlq."
)

// EventsTopic is the topic of accepted events on the named event bus.
func EventsTopic(bus string) string { return EventsPrefix + bus }

// DeliverTopic is the queue of one consumer.
func DeliverTopic(consumer string) string { return DeliverPrefix + consumer }

// DLQTopic is the dead-letter queue of one consumer.
func DLQTopic(consumer string) string { return DLQPrefix + consumer }

// ErrClosed is returned by a bus that has been closed.
var ErrClosed = errors.New("bus: closed")

// ConsumeOptions shape a durable subscription.
type ConsumeOptions struct {
	// Durable names the subscription. Subscriptions with the same name share
	// the messages (each goes to one of them) and survive restarts.
	Durable string
	// MaxInFlight bounds the messages delivered and not yet acked or nacked.
	// A message nacked with a delay waits on the broker and holds no place:
	// a consumer retrying failed messages keeps taking new ones, up to
	// MaxWaiting messages waiting at once.
	MaxInFlight int
	// AckWait is how long a delivered message may stay unanswered before the
	// broker delivers it again (a crashed worker's messages come back).
	AckWait time.Duration
	// DirectAnswers promises that every message is answered with this
	// package's Ack, Nack or NackAfter, which then reach the broker from the
	// answering goroutine. Otherwise the message's own Ack and Nack methods
	// do, and the bus keeps a goroutine per message waiting for them.
	DirectAnswers bool
}

// MaxWaiting is how many messages nacked with a delay a subscription may
// have waiting for their redelivery before it stops receiving new ones
// (JetStream counts them as pending acknowledgement). Past it, the waiting
// messages still come back in their time.
const MaxWaiting = 10_000

// answerKey carries, in a message's context, how its bus takes a direct
// answer (ConsumeOptions.DirectAnswers).
type answerKey struct{}

// answerer answers the broker for one message: ack when ok, else nack
// with a redelivery delay.
type answerer interface {
	answer(ok bool, delay time.Duration)
}

// answerCtx is the context of a message with a direct answer. Each backend
// embeds it in its answerer for the message, so that the context, the
// guard and the answer are one allocation, where context.WithValue, a
// guard flag and two closures took four per message.
type answerCtx struct {
	context.Context
	answered atomic.Bool
	by       answerer
	stored   time.Time // for Stored
}

// Value finds the answer under answerKey; other keys are the parent's.
func (c *answerCtx) Value(key any) any {
	if key == (answerKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// bind gives m the context of one delivery, which by answers, of a
// message first stored at stored. With direct answers that is c itself,
// set up here, through which the subscriber's bus.Ack or bus.Nack answers
// and Stored reads stored; otherwise a child of parent that the returned
// release cancels once awaitAnswer has answered, and stored is StoredKey.
func (c *answerCtx) bind(m *message.Message, parent context.Context, by answerer, direct bool, stored time.Time) (release func()) {
	if direct {
		*c = answerCtx{Context: parent, by: by, stored: stored}
		m.SetContext(c)
		return func() {}
	}
	m.Metadata.Set(StoredKey, stored.UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithCancel(parent)
	m.SetContext(ctx)
	return cancel
}

// awaitAnswer answers by with watermill's verdict on m, for a delivery
// without direct answers, then releases its context.
func awaitAnswer(m *message.Message, by answerer, release func()) {
	defer release()
	select {
	case <-m.Acked():
		by.answer(true, 0)
	case <-m.Nacked():
		by.answer(false, RetryDelay(m))
	}
}

// once answers the first time only.
func (c *answerCtx) once(ok bool, delay time.Duration) {
	if c.answered.CompareAndSwap(false, true) {
		c.by.answer(ok, delay)
	}
}

// Ack acknowledges m: the bus forgets it. Messages of a subscription with
// DirectAnswers must be answered through Ack, Nack or NackAfter.
func Ack(m *message.Message) {
	if !m.Ack() {
		return // already nacked
	}
	if c, ok := m.Context().Value(answerKey{}).(*answerCtx); ok {
		c.once(true, 0)
	}
}

// Nack gives m back to be delivered again, after the delay NackAfter set.
func Nack(m *message.Message) {
	if !m.Nack() {
		return // already acked
	}
	if c, ok := m.Context().Value(answerKey{}).(*answerCtx); ok {
		c.once(false, RetryDelay(m))
	}
}

// Bus is a watermill Publisher and Subscriber with durable, bounded
// subscriptions. Publish returns once every message is durably stored.
type Bus interface {
	message.Publisher
	message.Subscriber
	// PublishAll publishes messages bound to several topics, returning
	// once every one is stored. When some are stored and others not, or
	// it cannot tell for some, the error is a *PublishError saying which.
	PublishAll(out []Outgoing) error
	// Consume subscribes to topic through a durable subscription.
	Consume(ctx context.Context, topic string, opts ConsumeOptions) (<-chan *message.Message, error)
	// Ping reports whether the bus is connected and usable.
	Ping(ctx context.Context) error
	// NATS is the client connection of a NATS bus, nil otherwise.
	NATS() *nats.Conn
	// Seal marks the envelopes ingest has checked (EnvelopeKey).
	Seal() *Seal
}

// messageRoom is what a stored event may need beside its envelope on its
// way: the router's headers on its deliveries (the rule names among them)
// and the attributes around it in a dead letter.
const messageRoom = 64 << 10

// MaxEventBytes is the largest envelope b can carry through to a consumer
// and its DLQ: the NATS server's max_payload less messageRoom, or 0 for no
// limit (the memory bus). Ingest refuses larger events, so that none is
// accepted that could not be delivered.
func MaxEventBytes(b Bus) int {
	nc := b.NATS()
	if nc == nil {
		return 0
	}
	return max(int(nc.MaxPayload())-messageRoom, 1)
}

// RetryDelay reads the redelivery delay a handler attached to a message.
func RetryDelay(m *message.Message) time.Duration {
	v := m.Metadata.Get(RetryDelayKey)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// NackAfter asks for the message to be delivered again after d.
func NackAfter(m *message.Message, d time.Duration) {
	m.Metadata.Set(RetryDelayKey, d.String())
	Nack(m)
}

// Delivered reads how many times the message has been delivered (≥ 1).
func Delivered(m *message.Message) int {
	n, err := strconv.Atoi(m.Metadata.Get(DeliveredKey))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// QueuedID names one stored message: its id and when it was stored. Its
// redeliveries have the same name; the same event queued again (replayed,
// or sent again under the client's id) has another.
func QueuedID(m *message.Message) string {
	return m.UUID + "@" + strconv.FormatInt(Stored(m).UnixNano(), 10)
}

// Stored reads when the message was first stored on the bus.
func Stored(m *message.Message) time.Time {
	if c, ok := m.Context().Value(answerKey{}).(*answerCtx); ok {
		return c.stored.UTC() // as parsed from StoredKey: no zone, no monotonic reading
	}
	t, err := time.Parse(time.RFC3339Nano, m.Metadata.Get(StoredKey))
	if err != nil {
		return time.Time{}
	}
	return t
}

// durableName turns a topic into a JetStream-safe consumer name.
func durableName(topic string) string {
	return strings.NewReplacer(".", "_", "*", "any", ">", "all").Replace(topic)
}

// streamFor names the stream that holds a topic.
func streamFor(topic string) (string, error) {
	switch {
	case strings.HasPrefix(topic, EventsPrefix):
		return "EVENTS", nil
	case strings.HasPrefix(topic, DeliverPrefix):
		return "DELIVER", nil
	case strings.HasPrefix(topic, DLQPrefix):
		return "DLQ", nil
	}
	return "", fmt.Errorf("bus: topic %q is not under events., deliver. or dlq.", topic)
}

// PublishError is PublishAll's answer when it knows, message by message,
// which were stored: Errs has one entry per message, nil for each stored.
// Any other error means none was.
type PublishError struct {
	Errs []error
}

// StoredNone reports whether no message of the call was stored.
func (e *PublishError) StoredNone() bool {
	for _, err := range e.Errs {
		if err == nil {
			return false
		}
	}
	return true
}

// Unwrap gives the errors of the messages not stored, so that errors.Is
// finds ErrStorageFull when the bus refused any for lack of room.
func (e *PublishError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (e *PublishError) Error() string {
	failed, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if failed++; first == nil {
				first = err
			}
		}
	}
	return fmt.Sprintf("%d of %d messages not stored: %v", failed, len(e.Errs), first)
}

// Outgoing is one message for PublishAll: its topic and the parts of a
// message. The router and ingest build these rather than watermill
// Messages, which cost four allocations and a map each for what the bus
// only copies out of. The bus keeps no reference to Metadata once
// PublishAll returns, so a caller may reuse its array; Payload must not
// change afterwards.
type Outgoing struct {
	Topic   string
	UUID    string
	Payload []byte
	// Metadata holds keys and values in turn.
	Metadata []string
	// FreshID says UUID was made for this message just now (as FreshIDKey
	// in a Message's metadata): the bus does not remember it.
	FreshID bool
}

// deliveryKey reports whether k is one of the keys the bus sets on each
// delivery of a message, which publishing it again must not carry over.
func deliveryKey(k string) bool {
	return k == DeliveredKey || k == StoredKey || k == TopicKey || k == RetryDelayKey
}

// appendOutgoing appends msgs, published on topic, to out as Outgoings:
// for the buses' Publish, watermill's interface, in terms of PublishAll.
func appendOutgoing(out []Outgoing, topic string, msgs []*message.Message) []Outgoing {
	for _, m := range msgs {
		o := Outgoing{Topic: topic, UUID: m.UUID, Payload: m.Payload, FreshID: fresh(m)}
		for k, v := range m.Metadata {
			if !deliveryKey(k) && k != FreshIDKey { // FreshIDKey is FreshID
				o.Metadata = append(o.Metadata, k, v)
			}
		}
		out = append(out, o)
	}
	return out
}

// Message is o as a watermill message, FreshID as FreshIDKey: for fakes
// of the bus in tests.
func (o Outgoing) Message() *message.Message {
	m := message.NewMessage(o.UUID, o.Payload)
	for i := 0; i+1 < len(o.Metadata); i += 2 {
		m.Metadata.Set(o.Metadata[i], o.Metadata[i+1])
	}
	if o.FreshID {
		m.Metadata.Set(FreshIDKey, "1")
	}
	return m
}
