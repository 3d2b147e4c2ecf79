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
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Seal marks the envelopes ingest has checked (EnvelopeKey), so that the
// router can tell them from raw entries published to events.<bus>. Anyone
// who may publish there can set a header, and an envelope taken on trust
// skips every check ingest makes; a tag that only holders of the key can
// compute cannot be forged that way. The key is the bus's: the JetStream
// bus keeps it in a key-value bucket, so that every routerd on one NATS
// system, and every restart, shares it.
type Seal struct {
	key  []byte
	macs sync.Pool // of hash.Hash: hmac.New allocates five objects
}

// NewSeal returns a seal with the given key.
func NewSeal(key []byte) *Seal {
	s := &Seal{key: key}
	s.macs.New = func() any { return hmac.New(sha256.New, s.key) }
	return s
}

// newRandomSeal returns a seal with a fresh random key.
func newRandomSeal() *Seal {
	key := make([]byte, sealKeyBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return NewSeal(key)
}

const sealKeyBytes = 32

// Tag is payload's mark: HMAC-SHA256 under the key, its first 16 bytes in
// hex. A nil seal marks nothing: its tag is empty.
func (s *Seal) Tag(payload []byte) string {
	if s == nil {
		return ""
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(s.mac(payload, sum[:0])[:16])
}

// Valid reports whether tag is payload's mark; under a nil seal, none is.
func (s *Seal) Valid(payload []byte, tag string) bool {
	if s == nil || len(tag) != 32 {
		return false
	}
	var got [16]byte
	if _, err := hex.Decode(got[:], []byte(tag)); err != nil {
		return false
	}
	var sum [sha256.Size]byte
	return hmac.Equal(got[:], s.mac(payload, sum[:0])[:16])
}

func (s *Seal) mac(payload, buf []byte) []byte {
	h := s.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(payload)
	sum := h.Sum(buf)
	s.macs.Put(h)
	return sum
}

// sealBucket and sealKey are where the JetStream bus keeps its seal's key.
const (
	sealBucket = "EVENTROUTER"
	sealKey    = "envelope-seal"
)

// loadSeal reads the seal's key from the bucket, creating both on the
// first start; of two nodes starting at once, the first to create the key
// wins and the other reads it.
func loadSeal(ctx context.Context, js jetstream.JetStream, storage jetstream.StorageType, replicas int) (*Seal, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      sealBucket,
		Description: "routerd's settings shared by its nodes: the key that marks checked envelopes",
		Storage:     storage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: key-value bucket %s: %w", sealBucket, err)
	}
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
