package bus

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NATS clients that publish to events.<bus> reach the EVENTS stream
// without the bus: only JetStream can refuse them. While the bus refuses
// its own new events (the store holds IngestShare of its bound, or its
// disk is below the floor), it bounds EVENTS to eventsCapBytes with
// discard new, so that JetStream answers every publish to events.> with
// its error 10077 "maximum bytes exceeded" (ErrStorageFull) and stores
// nothing; once there is room, it lifts the bound. The bound holds the
// bus's own publishes to events.> too, which is as wanted. A server that
// starts with EVENTS bounded (after a crash, or a cluster node's restart)
// opens it with JetStream's smallest file blocks (32 KB, sized from the
// bound) until its next start: slower, nothing lost. Messages already in EVENTS stay and are routed: with
// discard new, a stream over its bound refuses new messages and removes
// none (nats-server's enforceBytesLimit acts only on discard old). A bound
// on a stream reserves its bytes against the server's max_store, but only
// reservations count there, not what the store holds: setting one byte is
// allowed however full the store is.
//
// Every node of a cluster measures its own store and disk, and EVENTS is one stream
// for all: each node that wants new events refused marks it in EVENTS'
// metadata under capMark plus its name, with the time, and the stream is
// bounded while any node's mark is there. A node removes only its own
// mark, so nodes do not undo each other's; one that stops while full
// leaves its mark, which the others drop once it is capStale old (a node
// that still wants it renews it every capRenew). Each node checks the
// stream every capCheckEvery and puts it right: an update another node
// made at the same moment may have lost its mark.

const (
	// eventsCapBytes bounds EVENTS while new events are refused: less than
	// any message takes, so that none is stored. A bound any larger would
	// let NATS publishers in at the rate the router empties EVENTS, into
	// deliveries that take the room kept for the events accepted.
	eventsCapBytes = 1
	// capHold is the least time new events stay refused, so that a store
	// at the share does not update the stream at every measure.
	capHold = time.Second
	// capCheckEvery is how often the bus checks EVENTS' bound and marks
	// besides when it changes its own wish.
	capCheckEvery = 5 * time.Second
	// capRenew and capStale: how often a node renews its mark, and how
	// old another node's mark is when it is taken for left behind.
	capRenew = 30 * time.Second
	capStale = 2 * time.Minute
	// capMark starts the keys of EVENTS' metadata that mark a node
	// refusing new events.
	capMark = "eventrouter.refuse."
)

// setRefuse records whether JetStream is to refuse new events from NATS
// publishers and tells capEvents.
func (b *JetStream) setRefuse(on bool) {
	b.refuse.Store(on)
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// capEvents keeps EVENTS' bound as the bus's refusal wants it until the
// bus closes. It acts at once when started, which lifts a bound left by a
// restart while the store was full. On the embedded server of a single
// node, it lifts the bound as the bus closes: the server stops with it,
// so no publisher can get in meanwhile, and EVENTS then opens at the next
// start with its usual file blocks rather than ones sized for one byte.
func (b *JetStream) capEvents() {
	defer close(b.capDone)
	node := b.opts.markName
	if node == "" {
		// On an external server: the host's name, which a restart keeps.
		// Every routerd on the server measures the same account, so two
		// on one host want the same.
		node, _ = os.Hostname()
		node = cmp.Or(node, "routerd")
	}
	t := time.NewTicker(capCheckEvery)
	defer t.Stop()
	var c capState
	for {
		c.check(b, node, b.refuse.Load())
		select {
		case <-b.stop:
			if b.opts.liftOnClose && c.capped {
				c.check(b, node, false)
			}
			return
		case <-b.wake:
		case <-t.C:
		}
	}
}

// capState is what capEvents remembers between checks.
type capState struct {
	capped   bool      // EVENTS was bounded at the last check
	warned   time.Time // when a failure was last logged
	lastWarn string
}

// check reads EVENTS and updates it when its marks or bound differ from
// what this node wants: new events refused or not.
func (c *capState) check(b *JetStream, node string, want bool) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	s, err := b.js.Stream(ctx, "EVENTS")
	if err != nil {
		c.warn(b, fmt.Errorf("read stream EVENTS: %w", err))
		return
	}
	cfg := s.CachedInfo().Config
	md, changed := capMarks(cfg.Metadata, node, want, time.Now())
	marks := markedNodes(md)
	bound := int64(-1)
	if len(marks) > 0 {
		bound = eventsCapBytes
	}
	if changed || max(cfg.MaxBytes, -1) != bound || cfg.Discard != jetstream.DiscardNew {
		cfg.Metadata, cfg.MaxBytes, cfg.Discard = md, bound, jetstream.DiscardNew
		if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
			c.warn(b, fmt.Errorf("update stream EVENTS: %w", err))
			return
		}
	}
	c.warned, c.lastWarn = time.Time{}, ""
	switch capped := len(marks) > 0; {
	case capped && !c.capped:
		b.log.Warn("bus: JetStream refuses new events from NATS publishers (events.>: error 10077 \"maximum bytes exceeded\") while the store of these nodes is full or their disk low", "nodes", strings.Join(marks, ","))
		c.capped = true
	case !capped && c.capped:
		b.log.Info("bus: JetStream takes new events from NATS publishers again")
		c.capped = false
	}
}

// warn logs why a check failed: at once when the reason is new, else at
// most once a minute. The next check tries again.
func (c *capState) warn(b *JetStream, err error) {
	select {
	case <-b.stop:
		return
	default:
	}
	if msg := err.Error(); msg != c.lastWarn || time.Since(c.warned) >= time.Minute {
		b.log.Warn("bus: cannot set whether JetStream refuses new events from NATS publishers; trying again", "err", err)
		c.warned, c.lastWarn = time.Now(), msg
	}
}

// capMarks returns EVENTS' metadata md with node's mark as want says (set
// when missing or capRenew old, removed when not wanted) and without the
// other nodes' marks capStale old or unreadable; changed reports whether
// it differs from md, which is left as it was.
func capMarks(md map[string]string, node string, want bool, now time.Time) (out map[string]string, changed bool) {
	out = maps.Clone(md)
	if out == nil {
		out = map[string]string{}
	}
	mine := capMark + node
	for k, v := range md {
		if !strings.HasPrefix(k, capMark) || k == mine {
			continue
		}
		if at, err := time.Parse(time.RFC3339, v); err != nil || now.Sub(at) >= capStale {
			delete(out, k)
			changed = true
		}
	}
	_, has := md[mine]
	at, err := time.Parse(time.RFC3339, md[mine])
	fresh := err == nil && now.Sub(at) < capRenew && at.Before(now.Add(capRenew))
	switch {
	case want && !fresh:
		out[mine] = now.UTC().Format(time.RFC3339)
		changed = true
	case !want && has:
		delete(out, mine)
		changed = true
	}
	return out, changed
}

// markedNodes returns the names of the nodes that mark EVENTS, sorted.
func markedNodes(md map[string]string) []string {
	var nodes []string
	for k := range md {
		if name, ok := strings.CutPrefix(k, capMark); ok {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	return nodes
}
