package bus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure the in-process NATS server of the default
// nats-embedded bus.
type EmbeddedOptions struct {
	// Listen is the client address other programs publish to
	// (host:port; port 0 picks one; "" accepts in-process clients only).
	Listen string
	// DataDir holds the JetStream file store (under DataDir/jetstream).
	DataDir string
	// SyncAlways makes JetStream fsync every write: an acknowledged event
	// then survives a power cut, not only a process crash, at a cost in
	// throughput. Off, the store syncs every two minutes.
	SyncAlways bool
	// MaxStore bounds, in bytes, what JetStream stores under DataDir: past
	// it, publishes are refused with ErrStorageFull until consumers take
	// their messages or dead letters are purged. 0 takes DefaultMaxStore.
	MaxStore int64
	// Token or User/Password protect the client port.
	Token, User, Password string
	// ServerName identifies this node in a cluster; default "routerd".
	ServerName string
	// ClusterName, ClusterListen and Routes join embedded servers of several
	// routerd nodes into one JetStream cluster.
	ClusterName   string
	ClusterListen string
	Routes        []string
}

// EmbeddedMaxPayload is the largest message the embedded server takes. NATS
// defaults to 1 MiB, which an event of EventBridge's largest size (1 MiB of
// entry, more once its strings are escaped in the envelope) exceeds with
// the router's headers; NATS advises against more than 8 MiB.
const EmbeddedMaxPayload = 8 << 20

// StartEmbedded starts the NATS server in this process and connects to it.
// The returned shutdown stops the server; call it after closing the
// connection.
func StartEmbedded(o EmbeddedOptions) (nc *nats.Conn, srv *server.Server, err error) {
	opts := &server.Options{
		ServerName:    o.ServerName,
		JetStream:     true,
		StoreDir:      storeDir(o.DataDir),
		SyncAlways:    o.SyncAlways,
		NoSigs:        true,
		NoLog:         true,
		MaxPayload:    EmbeddedMaxPayload,
		Authorization: o.Token,
		Username:      o.User,
		Password:      o.Password,
	}
	if opts.ServerName == "" {
		opts.ServerName = "routerd"
	}
	if opts.JetStreamMaxStore = o.MaxStore; o.MaxStore <= 0 {
		// Where the free space cannot be told, NATS's own default holds.
		opts.JetStreamMaxStore, _ = DefaultMaxStore(o.DataDir)
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("bus: nats listen %q: %w", o.Listen, err)
		}
		opts.Host, opts.Port = host, port
		if port == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	if o.ClusterName != "" || o.ClusterListen != "" {
		host, port, err := splitHostPort(o.ClusterListen)
		if err != nil {
			return nil, nil, fmt.Errorf("bus: nats cluster listen %q: %w", o.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: host, Port: port}
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, nil, fmt.Errorf("bus: nats route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err = server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	var failure startFailure
	srv.SetLoggerV2(&failure, false, false, false)
	go srv.Start()
	for deadline := time.Now().Add(15 * time.Second); !srv.ReadyForConnections(100 * time.Millisecond); {
		fatal, last := failure.get()
		if fatal == "" && time.Now().Before(deadline) {
			continue
		}
		srv.Shutdown()
		why := fatal
		if why == "" {
			why = "not ready after 15s"
			if last != "" {
				why += "; last error: " + last
			}
		}
		return nil, nil, fmt.Errorf("bus: embedded nats did not start: %s", why)
	}
	copts := []nats.Option{nats.InProcessServer(srv), nats.Name("routerd"), nats.MaxReconnects(-1)}
	if o.Token != "" {
		copts = append(copts, nats.Token(o.Token))
	}
	if o.User != "" {
		copts = append(copts, nats.UserInfo(o.User, o.Password))
	}
	nc, err = nats.Connect("", copts...)
	if err != nil {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("bus: connect to embedded nats: %w", err)
	}
	return nc, srv, nil
}

// OpenEmbedded starts the embedded server and returns a JetStream bus on it;
// closing the bus shuts the server down.
// The data directory is locked meanwhile: a second routerd on it is refused.
func OpenEmbedded(ctx context.Context, o EmbeddedOptions, js JetStreamOptions) (*JetStream, *server.Server, error) {
	unlock, err := lockDataDir(o.DataDir)
	if err != nil {
		return nil, nil, err
	}
	nc, srv, err := StartEmbedded(o)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	if o.ClusterName == "" && o.ClusterListen == "" && js.SealKeyFile == "" {
		js.SealKeyFile = filepath.Join(o.DataDir, "seal.key")
	}
	js.serverStore = func() (Storage, error) { return serverStore(srv) }
	logStoreBound(js.Logger, o, srv.JetStreamConfig().MaxStore)
	b, err := NewJetStream(ctx, nc, js, func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
	})
	if err != nil {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		return nil, nil, err
	}
	return b, srv, nil
}

// logStoreBound says at start how much JetStream may store, and warns
// when a bound set in the options leaves the disk too little room
// (DefaultMaxStore says why).
func logStoreBound(log *slog.Logger, o EmbeddedOptions, bound int64) {
	if log == nil {
		log = slog.Default()
	}
	room, known := storeRoom(o.DataDir)
	set := "bus.nats.max_store"
	if o.MaxStore <= 0 {
		set = "default: half the free space of data_dir"
	}
	log.Info("bus: JetStream may store up to "+FormatBytes(bound)+" ("+set+"); past "+strconv.Itoa(int(IngestShare*100))+"% of it, ingest answers 503",
		"data_dir", o.DataDir)
	if known && o.MaxStore > 0 && o.MaxStore > room/2 {
		log.Warn("bus: bus.nats.max_store is more than half the space free for data_dir: JetStream's files can take up to twice what it stores, so the disk may fill first, and a full disk loses acknowledgements and stops routerd from starting",
			"max_store", FormatBytes(o.MaxStore), "free", FormatBytes(room), "data_dir", o.DataDir)
	}
}

// FormatBytes writes n bytes as bus.nats.max_store is written, in the
// largest unit of 1024 that leaves at least 1, to a tenth (1.5GB).
func FormatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") + units[i:i+1] + "B"
}

// Connect opens a JetStream bus on an external NATS server or cluster.
func Connect(ctx context.Context, url string, auth nats.Option, js JetStreamOptions) (*JetStream, error) {
	opts := []nats.Option{nats.Name("routerd"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}
	if auth != nil {
		opts = append(opts, auth)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to %s: %w", url, err)
	}
	b, err := NewJetStream(ctx, nc, js)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// startFailure keeps what the embedded server reports while it starts,
// which otherwise logs nothing: a port in use or a store it cannot open
// (reported as fatal) then stops the start at once, saying so, instead of
// a timeout that names neither. Errors are only remembered: a cluster node
// reports routes to peers not yet up as errors and starts all the same.
type startFailure struct {
	mu          sync.Mutex
	fatal, last string
}

func (f *startFailure) get() (fatal, last string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal, f.last
}

func (f *startFailure) Fatalf(format string, v ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fatal == "" {
		f.fatal = fmt.Sprintf(format, v...)
	}
}

func (f *startFailure) Errorf(format string, v ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = fmt.Sprintf(format, v...)
}

func (*startFailure) Noticef(string, ...any) {}
func (*startFailure) Warnf(string, ...any)   {}
func (*startFailure) Debugf(string, ...any)  {}
func (*startFailure) Tracef(string, ...any)  {}
