package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Kept is a message kept on a topic, read without consuming it.
type Kept struct {
	Seq      uint64 // its position, for Delete
	UUID     string
	Payload  []byte
	Metadata map[string]string
	Stored   time.Time
}

// Store reads and edits the messages kept on a topic without consuming
// them: how dead letters are inspected, replayed and purged.
type Store interface {
	// List returns up to limit messages of topic, oldest first, and how
	// many the topic holds in all.
	List(ctx context.Context, topic string, limit int) ([]Kept, int, error)
	// Delete removes one message.
	Delete(ctx context.Context, topic string, seq uint64) error
	// Purge removes every message of topic and says how many there were.
	Purge(ctx context.Context, topic string) (int, error)
}

var (
	_ Store = (*JetStream)(nil)
	_ Store = (*Memory)(nil)
)

// List reads the topic through an ordered consumer, which acknowledges
// nothing and leaves the messages in place.
func (b *JetStream) List(ctx context.Context, topic string, limit int) ([]Kept, int, error) {
	stream, total, err := b.streamOf(ctx, topic)
	if err != nil || total == 0 || limit <= 0 {
		return nil, total, err
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{topic}})
	if err != nil {
		return nil, 0, fmt.Errorf("bus: list %s: %w", topic, err)
	}
	want := min(limit, total)
	batch, err := cons.Fetch(want, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		return nil, 0, fmt.Errorf("bus: list %s: %w", topic, err)
	}
	var out []Kept
	for jm := range batch.Messages() {
		s := Kept{Payload: jm.Data(), Metadata: map[string]string{}}
		s.UUID = fromHeaders(jm.Headers(), s.Metadata)
		if md, err := jm.Metadata(); err == nil {
			s.Seq, s.Stored = md.Sequence.Stream, md.Timestamp
		}
		out = append(out, s)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && len(out) < want {
		return out, total, fmt.Errorf("bus: list %s: %w", topic, err)
	}
	return out, total, nil
}

// Delete removes the message at seq, which must be on topic.
func (b *JetStream) Delete(ctx context.Context, topic string, seq uint64) error {
	stream, _, err := b.streamOf(ctx, topic)
	if err != nil {
		return err
	}
	m, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return fmt.Errorf("bus: message %d: %w", seq, err)
	}
	if m.Subject != topic {
		return fmt.Errorf("bus: message %d is on %s, not %s", seq, m.Subject, topic)
	}
	return stream.DeleteMsg(ctx, seq)
}

// Purge removes every message of topic.
func (b *JetStream) Purge(ctx context.Context, topic string) (int, error) {
	stream, total, err := b.streamOf(ctx, topic)
	if err != nil || total == 0 {
		return 0, err
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(topic)); err != nil {
		return 0, fmt.Errorf("bus: purge %s: %w", topic, err)
	}
	return total, nil
}

// streamOf returns the stream holding topic and the topic's message count.
func (b *JetStream) streamOf(ctx context.Context, topic string) (jetstream.Stream, int, error) {
	name, err := streamFor(topic)
	if err != nil {
		return nil, 0, err
	}
	stream, err := b.js.Stream(ctx, name)
	if err != nil {
		return nil, 0, fmt.Errorf("bus: stream %s: %w", name, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(topic))
	if err != nil {
		return nil, 0, fmt.Errorf("bus: stream %s: %w", name, err)
	}
	return stream, int(info.State.Subjects[topic]), nil
}

// List returns the messages waiting on topic.
func (b *Memory) List(_ context.Context, topic string, limit int) ([]Kept, int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[topic]
	if t == nil {
		return nil, 0, nil
	}
	var out []Kept
	for _, mm := range t.queue {
		if len(out) >= limit {
			break
		}
		md := map[string]string{}
		for i := 0; i < len(mm.metadata); i += 2 {
			md[mm.metadata[i]] = mm.metadata[i+1]
		}
		out = append(out, Kept{Seq: mm.seq, UUID: mm.uuid, Payload: mm.payload, Metadata: md, Stored: mm.stored})
	}
	return out, len(t.queue), nil
}

// Delete removes the waiting message with sequence seq.
func (b *Memory) Delete(_ context.Context, topic string, seq uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[topic]; t != nil {
		for i, mm := range t.queue {
			if mm.seq == seq {
				t.queue = append(t.queue[:i], t.queue[i+1:]...)
				return nil
			}
		}
	}
	return fmt.Errorf("bus: no message %d on %s", seq, topic)
}

// Purge drops every message waiting on topic.
func (b *Memory) Purge(_ context.Context, topic string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[topic]
	if t == nil {
		return 0, nil
	}
	n := len(t.queue)
	t.queue = nil
	return n, nil
}

// Message turns a stored message back into one that can be published.
func (s Kept) Message(uuid string) *message.Message {
	m := message.NewMessage(uuid, s.Payload)
	for k, v := range s.Metadata {
		if !deliveryKey(k) {
			m.Metadata.Set(k, v)
		}
	}
	return m
}
