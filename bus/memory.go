package bus

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Memory is an in-process Bus for tests and experiments: the same
// semantics as the JetStream bus (queues per topic shared by their
// subscribers, bounded in-flight messages, delayed redelivery, delivery
// counts), with no durability: a process exit loses everything.
type Memory struct {
	mu     sync.Mutex
	cond   *sync.Cond
	topics map[string]*memTopic
	closed bool
	seq    uint64
	wg     sync.WaitGroup
	seal   *Seal
}

var _ Bus = (*Memory)(nil)

type memTopic struct {
	queue []*memMsg
	seen  map[string]time.Time // message ids published within the stream's window
	order []seenID             // the same ids, oldest first: expiring them is O(1) each
}

type seenID struct {
	id string
	at time.Time
}

type memMsg struct {
	seq       uint64
	topic     string
	uuid      string
	payload   []byte
	metadata  []string // keys and values in turn; in room when they fit
	room      [6]string
	delivered int
	stored    time.Time
}

// NewMemory returns an empty in-memory bus.
func NewMemory() *Memory {
	m := &Memory{topics: map[string]*memTopic{}, seal: newRandomSeal()}
	m.cond = sync.NewCond(&m.mu)
	return m
}

func (b *Memory) topic(name string) *memTopic {
	t := b.topics[name]
	if t == nil {
		t = &memTopic{seen: map[string]time.Time{}}
		b.topics[name] = t
	}
	return t
}

// Publish queues the messages; see PublishAll.
func (b *Memory) Publish(topic string, msgs ...*message.Message) error {
	var buf [16]Outgoing // a PutEvents batch: no allocation
	return b.PublishAll(appendOutgoing(buf[:0], topic, msgs))
}

// PublishAll queues each message on its topic, or none when a topic has
// no stream. A UUID seen on the topic within its stream's window is
// stored once, as JetStream does, and a fresh one (FreshID) is not
// remembered.
func (b *Memory) PublishAll(out []Outgoing) error {
	for _, o := range out {
		if _, err := streamFor(o.Topic); err != nil {
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	now := time.Now()
	for _, o := range out {
		stream, _ := streamFor(o.Topic)
		t := b.topic(o.Topic)
		t.expire(now, dedupWindows[stream])
		if o.UUID != "" && !o.FreshID {
			if _, dup := t.seen[o.UUID]; dup {
				continue
			}
			t.seen[o.UUID] = now
			t.order = append(t.order, seenID{o.UUID, now})
		}
		b.seq++
		mm := &memMsg{seq: b.seq, topic: o.Topic, uuid: o.UUID, payload: append([]byte(nil), o.Payload...), stored: now}
		mm.metadata = append(mm.room[:0:len(mm.room)], o.Metadata...)
		t.queue = append(t.queue, mm)
	}
	b.cond.Broadcast()
	return nil
}

// expire forgets the ids stored longer ago than window.
func (t *memTopic) expire(now time.Time, window time.Duration) {
	expired := 0
	for _, e := range t.order {
		if now.Sub(e.at) <= window {
			break
		}
		delete(t.seen, e.id)
		expired++
	}
	t.order = t.order[expired:]
}

// Subscribe is Consume with defaults.
func (b *Memory) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return b.Consume(ctx, topic, ConsumeOptions{})
}

// Consume delivers the topic's queued messages, at most MaxInFlight at once.
func (b *Memory) Consume(ctx context.Context, topic string, opts ConsumeOptions) (<-chan *message.Message, error) {
	if _, err := streamFor(topic); err != nil {
		return nil, err
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if !strings.HasSuffix(topic, ">") {
		b.topic(topic)
	}
	b.mu.Unlock()
	out := make(chan *message.Message)
	done := make(chan struct{})
	inFlight := 0
	b.wg.Add(1)
	go func() { // wake the loop below when ctx ends
		defer b.wg.Done()
		select {
		case <-ctx.Done():
		case <-done:
		}
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	}()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(done)
		defer close(out)
		for {
			b.mu.Lock()
			var mm *memMsg
			for !b.closed && ctx.Err() == nil {
				if inFlight < opts.MaxInFlight {
					if mm = b.take(topic); mm != nil {
						break
					}
				}
				b.cond.Wait()
			}
			if mm == nil {
				b.mu.Unlock()
				return
			}
			mm.delivered++
			inFlight++
			b.mu.Unlock()

			m := message.NewMessage(mm.uuid, mm.payload)
			for i := 0; i < len(mm.metadata); i += 2 {
				m.Metadata.Set(mm.metadata[i], mm.metadata[i+1])
			}
			m.Metadata.Set(DeliveredKey, strconv.Itoa(mm.delivered))
			m.Metadata.Set(TopicKey, mm.topic)
			d := &memDelivery{b: b, mm: mm, inFlight: &inFlight}
			release := d.bind(m, ctx, d, opts.DirectAnswers, mm.stored)
			select {
			case out <- m:
			case <-ctx.Done():
				release()
				b.mu.Lock()
				mm.delivered-- // handed back unseen: not a delivery
				b.mu.Unlock()
				b.requeue(mm, 0, &inFlight)
				return
			}
			if opts.DirectAnswers {
				continue // the subscriber's bus.Ack or bus.Nack answers
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				awaitAnswer(m, d, release)
			}()
		}
	}()
	return out, nil
}

// memDelivery is one delivery of a queued message and how to answer it;
// with DirectAnswers, also the message's context.
type memDelivery struct {
	answerCtx
	b        *Memory
	mm       *memMsg
	inFlight *int // the subscription's messages delivered and not answered
}

func (d *memDelivery) answer(ok bool, delay time.Duration) {
	if !ok {
		d.b.requeue(d.mm, delay, d.inFlight)
		return
	}
	d.b.mu.Lock()
	*d.inFlight--
	d.b.cond.Broadcast()
	d.b.mu.Unlock()
}

// take removes the first message of a topic matching filter (a subject,
// or a prefix ending in ">"); the caller holds b.mu.
func (b *Memory) take(filter string) *memMsg {
	if prefix, ok := strings.CutSuffix(filter, ">"); ok {
		for name, t := range b.topics {
			if strings.HasPrefix(name, prefix) && len(t.queue) > 0 {
				mm := t.queue[0]
				t.queue = t.queue[1:]
				return mm
			}
		}
		return nil
	}
	if t := b.topics[filter]; t != nil && len(t.queue) > 0 {
		mm := t.queue[0]
		t.queue = t.queue[1:]
		return mm
	}
	return nil
}

// requeue puts a nacked message back, after delay.
func (b *Memory) requeue(mm *memMsg, delay time.Duration, inFlight *int) {
	put := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if t := b.topics[mm.topic]; t != nil && !b.closed {
			t.queue = append(t.queue, mm)
		}
		b.cond.Broadcast()
	}
	b.mu.Lock()
	*inFlight--
	b.cond.Broadcast()
	b.mu.Unlock()
	if delay > 0 {
		time.AfterFunc(delay, put)
		return
	}
	put()
}

// Ping reports whether the bus is open.
func (b *Memory) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return nil
}

// NATS returns nil: the memory bus has no NATS connection.
func (b *Memory) NATS() *nats.Conn { return nil }

// Seal is the mark of checked envelopes, random for each memory bus.
func (b *Memory) Seal() *Seal { return b.seal }

// Close ends every subscription; queued messages are dropped.
func (b *Memory) Close() error {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
	waitTimeout(&b.wg, 5*time.Second)
	return nil
}

// Len reports how many messages wait on a topic (tests).
func (b *Memory) Len(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[topic]; t != nil {
		return len(t.queue)
	}
	return 0
}
