package bus

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Seal marks the envelopes ingest has checked (EnvelopeKey), so that the
// router can tell them from raw entries published to events.<bus>. Anyone
// who may publish there can set a header, and an envelope taken on trust
// skips every check ingest makes; a tag that only holders of the key can
// compute cannot be forged that way. The key is the bus's and outlives
// restarts: the embedded server on one node keeps it in a file of its data
// directory (SealKeyFile), out of reach of NATS clients; routerd nodes that
// share a NATS system (a cluster, an external server) keep it in a
// key-value bucket, which clients of the same NATS account can read unless
// the server's permissions keep them to publishing on events.>.
type Seal struct {
	key  []byte
	macs sync.Pool // of *sealMAC: hmac.New allocates five objects
}

// NewSeal returns a seal with the given key.
func NewSeal(key []byte) *Seal {
	s := &Seal{key: key}
	s.macs.New = func() any { return &sealMAC{h: hmac.New(sha256.New, s.key)} }
	return s
}

// newRandomSeal returns a seal with a fresh random key.
func newRandomSeal() *Seal {
	key := make([]byte, sealKeyBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return NewSeal(key)
}

const sealKeyBytes = 32

// Tag is the mark of payload published on topic: HMAC-SHA256 under the key
// of both, its first 16 bytes in hex. The topic is in it so that an envelope
// copied to another bus's topic is not taken as checked there. A nil seal
// marks nothing: its tag is empty.
func (s *Seal) Tag(topic string, payload []byte) string {
	if s == nil {
		return ""
	}
	m := s.macs.Get().(*sealMAC)
	defer s.macs.Put(m)
	return hex.EncodeToString(m.sum(topic, payload))
}

// Valid reports whether tag is the mark of payload on topic; under a nil
// seal, none is.
func (s *Seal) Valid(topic string, payload []byte, tag string) bool {
	if s == nil || len(tag) != 32 {
		return false
	}
	var got [16]byte
	if _, err := hex.Decode(got[:], []byte(tag)); err != nil {
		return false
	}
	m := s.macs.Get().(*sealMAC)
	defer s.macs.Put(m)
	return hmac.Equal(got[:], m.sum(topic, payload))
}

// sealMAC is a pooled HMAC with scratch space of its own: bytes written
// through the hash.Hash interface escape, so a topic, separator and sum
// held on the stack would each be allocated for every event.
type sealMAC struct {
	h   hash.Hash
	buf [256]byte
}

// sum returns the first 16 bytes of HMAC(topic || 0 || payload), in m's
// scratch space: valid until m is used again.
func (m *sealMAC) sum(topic string, payload []byte) []byte {
	m.h.Reset()
	b := append(append(m.buf[:0], topic...), 0)
	m.h.Write(b)
	m.h.Write(payload)
	return m.h.Sum(m.buf[:0])[:16]
}

// sealBucket and sealKey are where the JetStream bus keeps its seal's key.
const (
	sealBucket = "EVENTROUTER"
	sealKey    = "envelope-seal"
)

// loadSealFile reads the seal's key from path, creating it (readable by
// its owner alone) on the first start.
func loadSealFile(path string) (*Seal, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		fresh := newRandomSeal()
		if err := os.WriteFile(path, fresh.key, 0o600); err != nil {
			return nil, fmt.Errorf("bus: seal key: %w", err)
		}
		return fresh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: seal key: %w", err)
	}
	if len(key) != sealKeyBytes {
		return nil, fmt.Errorf("bus: seal key %s is %d bytes, want %d", path, len(key), sealKeyBytes)
	}
	return NewSeal(key), nil
}

// loadSeal reads the seal's key from the bucket, creating both on the
// first start; of two nodes starting at once, the first to create the key
// wins and the other reads it.
func loadSeal(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, replicas int) (*Seal, error) {
	kv, err := sealBucketOf(ctx, js, storage, replicas)
	if err != nil {
		return nil, fmt.Errorf("bus: key-value bucket %s: %w", sealBucket, err)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	fresh := newRandomSeal()
	if _, err := kv.Create(ctx, sealKey, fresh.key); err == nil {
		return fresh, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("bus: create %s in %s: %w", sealKey, sealBucket, err)
	}
	e, err := kv.Get(ctx, sealKey)
	if err != nil {
		return nil, fmt.Errorf("bus: read %s from %s: %w", sealKey, sealBucket, err)
	}
	if len(e.Value()) != sealKeyBytes {
		return nil, fmt.Errorf("bus: %s in %s is %d bytes, want %d", sealKey, sealBucket, len(e.Value()), sealKeyBytes)
	}
	return NewSeal(e.Value()), nil
}

// sealBucketOf returns the bucket that keeps the seal's key, creating it
// if need be. A bucket as wanted is left alone (see JetStream.ensureStream).
func sealBucketOf(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, replicas int) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, sealBucket)
	if err == nil && bucketReplicas(ctx, kv) == replicas {
		return kv, nil
	}
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, err
	}
	return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      sealBucket,
		Description: "routerd's settings shared by its nodes: the key that marks checked envelopes",
		Storage:     storage,
		Replicas:    replicas,
	})
}

// bucketReplicas is the number of replicas of a key-value bucket, 0 if
// unknown.
func bucketReplicas(ctx context.Context, kv jetstream.KeyValue) int {
	st, err := kv.Status(ctx)
	if err != nil {
		return 0
	}
	if s, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return s.StreamInfo().Config.Replicas
	}
	return 0
}
