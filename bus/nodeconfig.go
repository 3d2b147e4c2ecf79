package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NodeConfig is what one node of a cluster records of its configuration in
// the key-value bucket EVENTROUTER, so that the nodes can tell whether
// they route alike: a digest of each part that must be the same on every
// node.
type NodeConfig struct {
	// Node is the node's server name.
	Node string `json:"node"`
	// Parts maps a part of the configuration (rules, consumers, ...) to
	// its digest.
	Parts map[string]string `json:"parts"`
	// At is when the node recorded it: at start, or at its last reload.
	At time.Time `json:"at"`
}

// nodeConfigPrefix starts the keys of the nodes' records in the bucket;
// the node's server name ends them (both are valid key characters).
const nodeConfigPrefix = "node-config."

// clusterNode tells a cluster node's server name and the names of the
// nodes it is connected to now.
type clusterNode func() (self string, peers []string)

// RecordNodeConfig stores this node's digests of its configuration, parts,
// in the bucket EVENTROUTER, replacing what it stored before. It is
// ErrNotCluster on a bus that is not an embedded cluster node's.
func (b *JetStream) RecordNodeConfig(ctx context.Context, parts map[string]string) error {
	if b.opts.node == nil {
		return ErrNotCluster
	}
	self, _ := b.opts.node()
	data, err := json.Marshal(NodeConfig{Node: self, Parts: parts, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	kv, err := b.js.KeyValue(ctx, sealBucket)
	if err != nil {
		return fmt.Errorf("bus: key-value bucket %s: %w", sealBucket, err)
	}
	if _, err := kv.Put(ctx, nodeConfigPrefix+self, data); err != nil {
		return fmt.Errorf("bus: record this node's configuration in %s: %w", sealBucket, err)
	}
	return nil
}

// PeerNodeConfigs returns this node's server name and the records of the
// nodes it is connected to now, by name. A node that is down is left out,
// so that one taken away for good is not compared forever; so is one that
// has recorded nothing (a routerd of an older version). It is
// ErrNotCluster on a bus that is not an embedded cluster node's.
func (b *JetStream) PeerNodeConfigs(ctx context.Context) (self string, peers []NodeConfig, err error) {
	if b.opts.node == nil {
		return "", nil, ErrNotCluster
	}
	self, names := b.opts.node()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	kv, err := b.js.KeyValue(ctx, sealBucket)
	if err != nil {
		return self, nil, fmt.Errorf("bus: key-value bucket %s: %w", sealBucket, err)
	}
	for _, name := range names {
		e, err := kv.Get(ctx, nodeConfigPrefix+name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return self, nil, fmt.Errorf("bus: read node %s's configuration from %s: %w", name, sealBucket, err)
		}
		var nc NodeConfig
		if err := json.Unmarshal(e.Value(), &nc); err != nil {
			return self, nil, fmt.Errorf("bus: node %s's configuration in %s: %w", name, sealBucket, err)
		}
		peers = append(peers, nc)
	}
	slices.SortFunc(peers, func(a, b NodeConfig) int { return strings.Compare(a.Node, b.Node) })
	return self, peers, nil
}
