package app

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/sinks/filesink"
)

// The parts of the configuration that every node of a cluster must share,
// as the nodes record them (bus.NodeConfig) and the log names them.
const (
	partRules     = "rules"
	partConsumers = "consumers"
	partSchemas   = "schemas"
)

// configCheckEvery is how often a cluster node compares its configuration
// with the other nodes' records.
const configCheckEvery = 10 * time.Second

// nodeRecorder is a bus that keeps the nodes' records of their
// configuration (*bus.JetStream of an embedded cluster node).
type nodeRecorder interface {
	RecordNodeConfig(ctx context.Context, parts map[string]string) error
	PeerNodeConfigs(ctx context.Context) (self string, peers []bus.NodeConfig, err error)
}

// configDigests digests each part of cfg that the nodes of a cluster must
// share, since any node may route any event and deliver any delivery:
// the rules, the consumers' settings and the schemas. What is a node's own
// is left out: listen addresses, names, a consumer's concurrency (each
// node runs its own workers) and a file sink's path (each node writes its
// own file). Order does not count where it does not change routing: rules,
// targets and schemas are sorted.
func configDigests(cfg *config.Config) map[string]string {
	type rule struct {
		Name    string          `json:"name"`
		Bus     string          `json:"bus"`
		Pattern json.RawMessage `json:"pattern"`
		Targets []string        `json:"targets"`
	}
	var rules []rule
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		js, _ := r.PatternJSON()
		rules = append(rules, rule{Name: r.Name, Bus: r.Bus, Pattern: canonicalJSON(js), Targets: slices.Sorted(slices.Values(r.Targets))})
	}
	slices.SortFunc(rules, func(a, b rule) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Bus, b.Bus)) })

	type consumer struct {
		Sink       string         `json:"sink"`
		Spec       map[string]any `json:"spec"`
		Retry      config.Retry   `json:"retry"`
		Timeout    time.Duration  `json:"timeout"`
		DLQ        bool           `json:"dlq"`
		MaxBacklog int            `json:"max_backlog"`
	}
	consumers := map[string]consumer{}
	for name, c := range cfg.Consumers {
		spec := maps.Clone(c.Sink.Spec)
		if c.Sink.Type == filesink.Type {
			delete(spec, "path")
		}
		consumers[name] = consumer{Sink: c.Sink.Type, Spec: spec, Retry: c.Retry, Timeout: c.Timeout, DLQ: c.DLQ, MaxBacklog: c.MaxBacklog}
	}

	type schema struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Schema     json.RawMessage `json:"schema,omitempty"`
		File       string          `json:"file_sha256,omitempty"`
	}
	dir := "."
	if cfg.File != "" {
		dir = filepath.Dir(cfg.File)
	}
	var schemas []schema
	for i := range cfg.Schemas {
		s := &cfg.Schemas[i]
		e := schema{Source: s.Source, DetailType: s.DetailType}
		if s.SchemaFile != "" {
			path := s.SchemaFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			// The file's content, wherever it is; a schema it $refs is not
			// followed.
			data, err := os.ReadFile(path)
			if err != nil {
				data = []byte("unreadable: " + err.Error())
			}
			e.File = digest(data)
		} else {
			js, _ := s.InlineJSON()
			e.Schema = canonicalJSON(js)
		}
		schemas = append(schemas, e)
	}
	slices.SortFunc(schemas, func(a, b schema) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.DetailType, b.DetailType))
	})

	return map[string]string{
		partRules:     digestJSON(rules),
		partConsumers: digestJSON(consumers),
		partSchemas:   digestJSON(schemas),
	}
}

// canonicalJSON writes a JSON document with its objects' keys sorted and
// its numbers as written, so that two spellings of one pattern digest
// alike; a document that is not JSON is kept as a JSON string.
func canonicalJSON(doc []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil {
		if out, err := json.Marshal(v); err == nil {
			return out
		}
	}
	out, _ := json.Marshal(string(doc))
	return out
}

func digestJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil { // not for these types; a digest no other node has
		data = []byte(err.Error())
	}
	return digest(data)
}

// digest is the first 16 hex digits of data's SHA-256: enough to tell
// two configurations apart.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// configDrift is a node whose recorded configuration differs from this
// node's, and in which parts.
type configDrift struct {
	node  string
	parts []string
}

// compareConfigs compares this node's digests with the other nodes'
// records. Parts that one side does not record (another version of
// routerd) are not compared.
func compareConfigs(own map[string]string, peers []bus.NodeConfig) []configDrift {
	var drifts []configDrift
	for _, p := range peers {
		var parts []string
		for _, part := range slices.Sorted(maps.Keys(own)) {
			if theirs, ok := p.Parts[part]; ok && theirs != own[part] {
				parts = append(parts, part)
			}
		}
		if len(parts) > 0 {
			drifts = append(drifts, configDrift{node: p.Node, parts: parts})
		}
	}
	return drifts
}

// describeDrifts says which nodes differ from self, and in what.
func describeDrifts(self string, drifts []configDrift) string {
	var each []string
	for _, d := range drifts {
		each = append(each, d.node+" differs in "+strings.Join(d.parts, ", "))
	}
	return fmt.Sprintf("this node (%s) and the others of its cluster do not share their configuration: %s. "+
		"Any node may route any event and deliver any delivery, so events are routed and delivered by one node's rules or another's; "+
		"give every node the same rules, consumers and schemas and reload each",
		self, strings.Join(each, "; "))
}

// watchClusterConfig records this node's configuration digests in the
// bus at once, and again after each reload (a.checkConfig), and compares
// them with the other nodes' every configCheckEvery and after each reload:
// eventrouter_cluster_config_mismatch says whether they differ, and the
// log says so, once for each state, naming the nodes and the parts. A
// difference is a warning only, not a failure of /readyz: every reload
// of the nodes one after the other passes through one.
func (a *App) watchClusterConfig(ctx context.Context, r nodeRecorder, every time.Duration) {
	var recorded map[string]string
	said, recordErr := "", ""
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		own := *a.digests.Load()
		if !maps.Equal(own, recorded) {
			err := r.RecordNodeConfig(ctx, own)
			switch {
			case errors.Is(err, bus.ErrNotCluster):
				return
			case err != nil && ctx.Err() == nil && err.Error() != recordErr:
				a.log.Warn("cannot record this node's configuration for the other nodes of its cluster to compare; will try again", "err", err)
				recordErr = err.Error()
			case err == nil:
				recorded, recordErr = own, ""
			}
		}
		self, peers, err := r.PeerNodeConfigs(ctx)
		if err == nil {
			drifts := compareConfigs(own, peers)
			now := ""
			if len(drifts) > 0 {
				now = describeDrifts(self, drifts)
				a.configMismatch.Set(1)
			} else {
				a.configMismatch.Set(0)
			}
			switch {
			case now != "" && now != said:
				a.log.Warn(now)
			case now == "" && said != "":
				a.log.Info("the nodes of the cluster share their configuration again", "nodes", len(peers)+1)
			}
			said = now
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.checkConfig:
		}
	}
}
