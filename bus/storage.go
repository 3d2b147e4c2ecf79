package bus

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrStorageFull is wrapped by the publish errors of messages the bus
// refused for lack of room: JetStream's storage bound (bus.nats.max_store
// on the embedded server) or its account's is reached. Nothing is lost:
// the message was not stored, and the publisher knows it. Room comes back
// as consumers take their messages, or when dead letters are purged.
var ErrStorageFull = errors.New("bus storage is full")

// JetStream's error codes for a message refused for lack of room.
const (
	jsInsufficientResources = 10023 // the server's storage bound
	jsAccountResources      = 10002 // the account's storage bound
	jsStorageResources      = 10047 // no room to reserve for a stream
	jsStoreFailed           = 10077 // a stream's own limits (max bytes, max messages)
)

// storageFull reports whether err is JetStream refusing a message for lack
// of room.
func storageFull(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case jsInsufficientResources, jsAccountResources, jsStorageResources:
		return true
	case jsStoreFailed:
		return strings.Contains(api.Description, "maximum bytes") || strings.Contains(api.Description, "maximum messages")
	}
	return false
}

// publishError is the error of one message the broker did not store.
func publishError(subject string, err error) error {
	if storageFull(err) {
		return fmt.Errorf("bus: publish to %s: %w: %w", subject, ErrStorageFull, err)
	}
	return fmt.Errorf("bus: publish to %s: %w", subject, err)
}

// IngestShare is the share of its storage bound past which the bus
// refuses new events (topics events.*) with ErrStorageFull. The rest is
// kept for what the events already accepted still need: their deliveries
// to every consumer, and dead letters. Without it, a store filled by one
// consumer's queue would hold the last events accepted back from every
// other consumer until room came back, and the room a consumer makes would
// go to the full one's deliveries as often as to theirs. The share is
// checked against the store's use as measured every storageEvery, plus
// the messages the bus has published since, less those acknowledged on a
// work queue (EVENTS, DELIVER), which the store then removes: an estimate
// close enough that a burst of events cannot overrun the share by much,
// nor a fast flow through the store be taken for a full one. NATS clients
// that publish to events.<bus> directly are refused by JetStream itself
// meanwhile: see capEvents.
const IngestShare = 0.9

// storageEvery is how often the bus measures its store for IngestShare.
const storageEvery = 250 * time.Millisecond

// storeUse is the store's use as the bus knows it, for IngestShare and
// the free-disk guard.
type storeUse struct {
	limit, used atomic.Int64 // as last measured; limit 0: no bound known
	since       atomic.Int64 // bytes published since, less those acked on a work queue, roughly as the store counts them
	diskLow     atomic.Bool  // the store's file system has less free than its floor (lowDisk)
}

// add counts a message published (n > 0) or removed (n < 0).
func (r *storeUse) add(n int) { r.since.Add(int64(n)) }

// measured records a measure of the store, which counts what was
// published and removed before it: a message published or removed while
// it was taken may count twice, or not at all, until the next.
func (r *storeUse) measured(s Storage) {
	r.since.Store(0)
	r.used.Store(s.Used)
	r.limit.Store(s.Limit)
}

// full reports whether the bus refuses new events: the store holds
// IngestShare of its bound, or its disk is low.
func (r *storeUse) full() bool { return r.diskLow.Load() || r.shareFull() }

// shareFull reports whether the store holds IngestShare of its bound.
func (r *storeUse) shareFull() bool {
	limit := r.limit.Load()
	return limit > 0 && float64(r.used.Load()+r.since.Load()) >= IngestShare*float64(limit)
}

// refusal says why new events are refused.
func (r *storeUse) refusal() string {
	if r.diskLow.Load() {
		return "new events wait until the disk of the store has room again"
	}
	return fmt.Sprintf("new events wait until it holds less than %d%% of its bound", int(IngestShare*100))
}

// watchStorage measures the store and its disk every d until the bus
// closes, and has JetStream refuse NATS publishers' new events
// (capEvents) while the bus refuses its own: from the first measure that
// finds the store full or its disk low, for at least capHold, until a
// measure finds room.
func (b *JetStream) watchStorage(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	was := false
	var refusedAt time.Time
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := b.Storage(ctx)
		cancel()
		if err == nil {
			b.room.measured(s)
			if s.Disk {
				wasLow := b.room.diskLow.Load()
				switch low := lowDisk(s.DiskFree, s.MinFreeDisk, wasLow); {
				case low && !wasLow:
					b.log.Warn("bus: the disk of the store has less free than bus.nats.min_free_disk: new events are refused (503) until it has room; the rest is kept for the events accepted",
						"dir", b.opts.diskDir, "free", formatBytes(s.DiskFree), "min_free_disk", formatBytes(s.MinFreeDisk))
					b.room.diskLow.Store(true)
				case wasLow && !low:
					b.log.Info("bus: room on the disk of the store again: new events are accepted",
						"dir", b.opts.diskDir, "free", formatBytes(s.DiskFree), "min_free_disk", formatBytes(s.MinFreeDisk))
					b.room.diskLow.Store(false)
				}
			}
			full := b.room.shareFull()
			switch {
			case full && !was:
				b.log.Warn(fmt.Sprintf("bus: the store holds %d%% of its bound: new events are refused (503) until consumers make room; the rest is kept for the events accepted", int(IngestShare*100)),
					"used", formatBytes(s.Used), "bound", formatBytes(s.Limit))
			case was && !full:
				b.log.Info("bus: room in the store again: new events are accepted", "used", formatBytes(s.Used), "bound", formatBytes(s.Limit))
			}
			was = full
			full = full || b.room.diskLow.Load()
			switch now := time.Now(); {
			case full && !b.refuse.Load():
				refusedAt = now
				b.setRefuse(true)
			case !full && b.refuse.Load() && now.Sub(refusedAt) >= capHold:
				b.setRefuse(false)
			}
		}
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// Storage is how much a bus stores and may store, in bytes.
type Storage struct {
	Used int64
	// Limit is the bound past which publishes are refused with
	// ErrStorageFull; 0 when the bus knows none.
	Limit int64
	// Disk tells whether the bus watches the free space of its store's
	// file system (the embedded server, where it can be told), which
	// DiskFree then is, in bytes. Below MinFreeDisk (0: no guard), the bus
	// refuses new events as at IngestShare, until the disk has 10% more
	// than the floor free again: DiskLow says whether it does now.
	Disk                  bool
	DiskFree, MinFreeDisk int64
	DiskLow               bool
}

// StorageReporter is a bus that can tell its Storage.
type StorageReporter interface {
	Storage(ctx context.Context) (Storage, error)
}

var _ StorageReporter = (*JetStream)(nil)

// Storage reports what JetStream stores in files and the bound it is held
// to: on the embedded server, the server's own (bus.nats.max_store, which
// holds for what this server stores, replicas of a cluster's streams
// included); on an external server, the account's use and its limit, if
// it has one.
func (b *JetStream) Storage(ctx context.Context) (Storage, error) {
	if b.opts.serverStore != nil {
		s, err := b.opts.serverStore()
		if err == nil && b.opts.diskFree != nil {
			s.DiskFree, s.Disk = b.opts.diskFree()
			s.MinFreeDisk = b.opts.minFreeDisk
			s.DiskLow = b.room.diskLow.Load()
		}
		return s, err
	}
	info, err := b.js.AccountInfo(ctx)
	if err != nil {
		return Storage{}, fmt.Errorf("bus: jetstream: %w", err)
	}
	s := Storage{Used: int64(info.Store)}
	if info.Limits.MaxStore > 0 {
		s.Limit = info.Limits.MaxStore
	}
	return s, nil
}

// serverStore is what an embedded server stores and may store.
func serverStore(srv *server.Server) (Storage, error) {
	jsi, err := srv.Jsz(nil)
	if err != nil {
		return Storage{}, fmt.Errorf("bus: jetstream: %w", err)
	}
	if jsi.Disabled {
		return Storage{}, errors.New("bus: jetstream is not running")
	}
	return Storage{Used: int64(jsi.Store), Limit: jsi.Config.MaxStore}, nil
}

// DefaultMaxStore is the storage bound of an embedded server whose
// options set none: half of what the file system of dataDir has free,
// counting what the store there already holds as free. JetStream counts
// the bytes of the messages it holds, and its files hold more: a file
// block is compacted only once more than half of it is deleted, so while
// one consumer lags behind the others, its queue's blocks can take about
// twice what JetStream counts. NATS's own default, three quarters of the
// free space at start, then lets the disk fill before the bound refuses
// anything; a full disk makes the server fail writes it has answered for
// (acknowledgements are lost, so deliveries repeat) and then refuse to
// start at all. ok is false when the free space cannot be told.
func DefaultMaxStore(dataDir string) (int64, bool) {
	room, ok := storeRoom(dataDir)
	return room / 2, ok
}

// DefaultMinFreeDisk is the free-disk floor of an embedded server whose
// options set none: 1GB, or 5% of the file system of dataDir when that is
// less. Below it, the bus refuses new events as when its store holds
// IngestShare of its bound: max_store is set once, at start, and other
// programs (logs, backups, another store) may fill the disk afterwards,
// and a full disk makes JetStream fail writes it has answered for and
// then refuse to start. 1GB leaves room for what the events already
// accepted still write (their deliveries, dead letters, JetStream's
// compaction and metadata) and for an operator to act; 5% keeps a small
// volume usable, where 1GB would be most of it (file systems keep about
// as much for root by default). ok is false when the size of the file
// system cannot be told: the guard is then off.
func DefaultMinFreeDisk(dataDir string) (int64, bool) {
	size, ok := diskSize(nearestDir(dataDir))
	if !ok || size <= 0 {
		return 0, false
	}
	return min(1<<30, size/20), true
}

// lowDisk reports whether free bytes are too few against floor (0: no
// guard): below floor, and once below, until 10% above it, so that a disk
// at the floor does not turn refusal on and off with every write.
func lowDisk(free, floor int64, was bool) bool {
	switch {
	case floor <= 0:
		return false
	case was:
		return free < floor+floor/10
	}
	return free < floor
}

// nearestDir is dir, or its nearest parent that exists: the directory
// may not be made yet, and its nearest parent is on the same file system,
// most likely.
func nearestDir(dir string) string {
	dir = filepath.Clean(dir)
	for filepath.Dir(dir) != dir {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	return dir
}

// storeRoom is the space JetStream may count on under dataDir: what the
// file system has free plus what the store's files already take.
func storeRoom(dataDir string) (int64, bool) {
	free, ok := diskFree(nearestDir(dataDir))
	if !ok {
		return 0, false
	}
	var held int64
	filepath.WalkDir(storeDir(dataDir), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				held += fi.Size()
			}
		}
		return nil
	})
	return free + held, true
}

// storeDir is where the embedded server keeps JetStream's files.
func storeDir(dataDir string) string { return filepath.Join(dataDir, "jetstream") }
