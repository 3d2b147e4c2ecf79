package bus

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/internal/tlsfiles"
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
	// MinFreeDisk is the free space, in bytes, below which the file system
	// holding DataDir makes the bus refuse new events as when the store
	// holds IngestShare of MaxStore. 0 takes DefaultMinFreeDisk; negative
	// turns the guard off.
	MinFreeDisk int64
	// Token or User/Password protect the client port.
	Token, User, Password string
	// ServerName identifies this node's server. Default: "routerd" alone;
	// in a cluster, where each node needs a name of its own that stays the
	// same across restarts (JetStream knows its peers by it), the one kept
	// in DataDir/server_name, made at the first start from the host name
	// and the cluster port (clusterServerName).
	ServerName string
	// ClusterName, ClusterListen and Routes join embedded servers of several
	// routerd nodes into one JetStream cluster.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// ClusterPassword, when set, is the secret the nodes prove to each
	// other: the server accepts routes only from servers that present it,
	// and presents it on its own routes (Routes are given without it).
	ClusterPassword string
	// ClusterCertFile, ClusterKeyFile and ClusterCAFile, when set, make
	// every route mutual TLS: each node proves itself with its certificate,
	// which must be signed by a CA in ClusterCAFile and name the host
	// other nodes' routes give for it.
	ClusterCertFile, ClusterKeyFile, ClusterCAFile string
	// Logger, when set, receives the server's errors and warnings.
	Logger *slog.Logger
}

// embeddedMaxPayload is the largest message the embedded server takes. NATS
// defaults to 1 MiB, which an event of EventBridge's largest size (1 MiB of
// entry, more once its strings are escaped in the envelope) exceeds with
// the router's headers; NATS advises against more than 8 MiB.
const embeddedMaxPayload = 8 << 20

// StartEmbedded starts the NATS server in this process and connects to it.
// The returned shutdown stops the server; call it after closing the
// connection.
func StartEmbedded(o EmbeddedOptions) (nc *nats.Conn, srv *server.Server, err error) {
	nc, e, err := startEmbedded(o)
	if err != nil {
		return nil, nil, err
	}
	return nc, e.srv, nil
}

// embedded is a running embedded server with the options it runs with: a
// reload of its cluster settings starts from them (the server keeps its
// own to itself), and any other difference would be refused.
type embedded struct {
	srv *server.Server

	mu   sync.Mutex
	opts *server.Options // in force, as given to the server or its last reload
	o    EmbeddedOptions // the cluster settings in force
}

func startEmbedded(o EmbeddedOptions) (nc *nats.Conn, e *embedded, err error) {
	opts := &server.Options{
		ServerName:    o.ServerName,
		JetStream:     true,
		StoreDir:      storeDir(o.DataDir),
		SyncAlways:    o.SyncAlways,
		NoSigs:        true,
		NoLog:         true,
		MaxPayload:    embeddedMaxPayload,
		Authorization: o.Token,
		Username:      o.User,
		Password:      o.Password,
	}
	if opts.ServerName == "" {
		opts.ServerName = "routerd"
		if o.clustered() {
			name, err := clusterServerName(o.DataDir, o.ClusterListen)
			if err != nil {
				return nil, nil, err
			}
			opts.ServerName = name
		}
	}
	if opts.JetStreamMaxStore = o.MaxStore; o.MaxStore <= 0 {
		// Where the free space cannot be told, NATS's own default holds.
		opts.JetStreamMaxStore, _ = DefaultMaxStore(o.DataDir)
	}
	if o.Listen == "" {
		if o.clustered() {
			// The server would wait for a client port before opening its
			// cluster port, and neither start nor shut down.
			return nil, nil, errors.New("bus: an embedded server in a cluster needs a client port (listen)")
		}
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
	if o.clustered() {
		host, port, err := splitHostPort(o.ClusterListen)
		if err != nil {
			return nil, nil, fmt.Errorf("bus: nats cluster listen %q: %w", o.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: host, Port: port}
		if err := setClusterAuth(opts, o); err != nil {
			return nil, nil, err
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	failure := &serverLog{log: o.Logger}
	srv.SetLoggerV2(failure, false, false, false)
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
	return nc, &embedded{srv: srv, opts: opts, o: o}, nil
}

// OpenEmbedded starts the embedded server and returns a JetStream bus on it;
// closing the bus shuts the server down.
// The data directory is locked meanwhile: a second routerd on it is refused.
func OpenEmbedded(ctx context.Context, o EmbeddedOptions, js JetStreamOptions) (*JetStream, *server.Server, error) {
	unlock, err := lockDataDir(o.DataDir)
	if err != nil {
		return nil, nil, err
	}
	nc, e, err := startEmbedded(o)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	srv := e.srv
	if !o.clustered() && js.SealKeyFile == "" {
		js.SealKeyFile = filepath.Join(o.DataDir, "seal.key")
	}
	if o.clustered() {
		// The other nodes may not be up yet.
		js.Wait = true
		if js.Explain == nil {
			js.Explain = func() string { return clusterState(srv) }
		}
		if js.Health == nil {
			js.Health = func() error { return clusterHealth(srv) }
		}
		js.reloadCluster = e.reloadCluster
		js.node = func() (string, []string) { return srv.Name(), routedPeers(srv) }
	}
	js.serverStore = func() (Storage, error) { return serverStore(srv) }
	js.markName = srv.Name()
	js.liftOnClose = !o.clustered()
	js.diskDir = storeDir(o.DataDir)
	if js.diskFree == nil {
		js.diskFree = func() (int64, bool) { return diskFree(js.diskDir) }
	}
	if js.minFreeDisk = o.MinFreeDisk; o.MinFreeDisk == 0 {
		js.minFreeDisk, _ = DefaultMinFreeDisk(o.DataDir)
	}
	js.minFreeDisk = max(js.minFreeDisk, 0)
	logStoreBound(js.Logger, o, srv.JetStreamConfig().MaxStore)
	logDiskFloor(js.Logger, o, js.minFreeDisk)
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
	set := "bus.nats.max_store"
	if o.MaxStore <= 0 {
		set = "default: half the free space of data_dir"
	}
	log.Info("bus: JetStream may store up to "+formatBytes(bound)+" ("+set+"); past "+strconv.Itoa(int(IngestShare*100))+"% of it, ingest answers 503",
		"data_dir", o.DataDir)
	if o.MaxStore <= 0 {
		return // the default bound is half the room, measured once already
	}
	if room, known := storeRoom(o.DataDir); known && o.MaxStore > room/2 {
		log.Warn("bus: bus.nats.max_store is more than half the space free for data_dir: JetStream's files can take up to twice what it stores, so the disk may fill first, and a full disk loses acknowledgements and stops routerd from starting",
			"max_store", formatBytes(o.MaxStore), "free", formatBytes(room), "data_dir", o.DataDir)
	}
}

// logDiskFloor says at start below what free space of data_dir's disk
// the bus refuses new events.
func logDiskFloor(log *slog.Logger, o EmbeddedOptions, floor int64) {
	if log == nil {
		log = slog.Default()
	}
	switch {
	case floor > 0:
		set := "bus.nats.min_free_disk"
		if o.MinFreeDisk == 0 {
			set = "default: 1GB or 5% of the disk, whichever is less"
		}
		log.Info("bus: below "+formatBytes(floor)+" free on data_dir's disk ("+set+"), ingest answers 503", "data_dir", o.DataDir)
		if size, ok := diskSize(nearestDir(o.DataDir)); ok && floor >= size {
			// A typo (900GB for 90GB) would otherwise look like a full disk.
			log.Warn("bus: bus.nats.min_free_disk is "+formatBytes(floor)+", no less than the whole of data_dir's disk ("+formatBytes(size)+"): ingest will refuse every event (503)", "data_dir", o.DataDir)
		}
	case o.MinFreeDisk == 0:
		log.Info("bus: the free space of data_dir's disk is not watched: its size cannot be told here", "data_dir", o.DataDir)
	}
}

// formatBytes writes n bytes as bus.nats.max_store is written, in the
// largest unit of 1024 that leaves at least 1, to a tenth (1.5GB).
func formatBytes(n int64) string {
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

// routedPeers returns the names of the servers srv has routes to.
func routedPeers(srv *server.Server) []string {
	var peers []string
	if rz, err := srv.Routez(nil); err == nil {
		for _, r := range rz.Routes {
			if r.RemoteName != "" && !slices.Contains(peers, r.RemoteName) {
				peers = append(peers, r.RemoteName)
			}
		}
	}
	slices.Sort(peers)
	return peers
}

// clusterHealth fails while srv reaches no majority of its cluster's
// nodes (itself included): nothing can be stored then, though JetStream
// takes seconds to notice. It holds once the cluster has formed: before,
// the size JetStream gives is a guess.
func clusterHealth(srv *server.Server) error {
	jsz, err := srv.Jsz(&server.JSzOptions{})
	if err != nil || jsz.Meta == nil || jsz.Meta.Size < 2 {
		return nil
	}
	peers := routedPeers(srv)
	if reached := len(peers) + 1; reached <= jsz.Meta.Size/2 {
		return fmt.Errorf("bus: %s reaches %d of the cluster's %d nodes, no majority: JetStream cannot store events (connected to: %s)",
			srv.Name(), reached, jsz.Meta.Size, cmp.Or(strings.Join(peers, ", "), "none"))
	}
	return nil
}

// clusterState says how a cluster node's server sees its cluster: which
// nodes it is connected to, and whether JetStream has a leader, which
// needs a majority of the cluster's nodes.
func clusterState(srv *server.Server) string {
	peers := routedPeers(srv)
	seen := "no other node"
	if len(peers) > 0 {
		seen = fmt.Sprintf("%d other node(s): %s", len(peers), strings.Join(peers, ", "))
	}
	leader := ""
	if jsz, err := srv.Jsz(&server.JSzOptions{}); err == nil && jsz.Meta != nil {
		leader = jsz.Meta.Leader
	}
	if leader == "" {
		return fmt.Sprintf("no JetStream leader: one needs a majority of the cluster's nodes up and connected; %s is connected to %s", srv.Name(), seen)
	}
	return fmt.Sprintf("JetStream leader %s; %s is connected to %s", leader, srv.Name(), seen)
}

// clusterUser is the user name the nodes of a cluster with a password
// present on their routes: NATS checks a route's password only with a
// user name, and one secret is all a node is configured with.
const clusterUser = "routerd"

// clustered reports whether the server joins a cluster.
func (o EmbeddedOptions) clustered() bool { return o.ClusterName != "" || o.ClusterListen != "" }

// routeTLS reports whether o secures the cluster's routes with TLS.
func (o EmbeddedOptions) routeTLS() bool {
	return o.ClusterCertFile != "" || o.ClusterKeyFile != "" || o.ClusterCAFile != ""
}

// serverNameFile keeps a cluster node's server name in its data directory.
const serverNameFile = "server_name"

// clusterServerName returns the name a cluster node's server goes by when
// none is configured: the one kept in dataDir, else a new one made of the
// host name and the cluster port, kept there for the next starts. Every
// node of a cluster needs a name of its own (the servers refuse routes
// from a server with their own name, and JetStream never elects a leader),
// and the same one after a restart: JetStream knows its peers by name, and
// a node that came back under another would be a stranger holding a dead
// peer's data. Keeping it makes it outlive a change of host name (a
// container re-created on the same volume) or of port.
func clusterServerName(dataDir, clusterListen string) (string, error) {
	path := filepath.Join(dataDir, serverNameFile)
	b, err := os.ReadFile(path)
	if err == nil {
		name := strings.TrimSpace(string(b))
		if !ValidServerName(name) {
			return "", fmt.Errorf("bus: %s holds %q, which is not a server name (letters, digits, '.', '-', '_')", path, name)
		}
		return name, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("bus: server name: %w", err)
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if nameChar(r) {
			return r
		}
		return '-'
	}, host)
	if host == "" {
		host = "routerd"
	}
	name := host
	if _, port, err := net.SplitHostPort(clusterListen); err == nil {
		name += "-" + port
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("bus: server name: %w", err)
	}
	if err := os.WriteFile(path, []byte(name+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("bus: server name: %w", err)
	}
	return name, nil
}

// ValidServerName reports whether name can name a NATS server: letters,
// digits, '.', '-' and '_', at most 64 of them.
func ValidServerName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !nameChar(r) {
			return false
		}
	}
	return true
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
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

// serverLog keeps what the embedded server reports while it starts, which
// otherwise logs nothing: a port in use or a store it cannot open
// (reported as fatal) then stops the start at once, saying so, instead of
// a timeout that names neither. Errors are only remembered there: a
// cluster node reports routes to peers not yet up as errors and starts all
// the same.
//
// With a logger (EmbeddedOptions.Logger), it also passes the server's
// errors and warnings on, the same one at most once a minute: in a
// cluster they are what tells a route refused (a name twice, a cluster
// name that differs), a peer unreachable, a stream without quorum. The
// server's warnings include steps of a normal start ("Waiting for routing
// to be established"): they are logged as info, its errors as warnings,
// its notices (routes made and lost, leaders elected) as debug.
type serverLog struct {
	log *slog.Logger

	mu          sync.Mutex
	fatal, last string
	said        map[string]time.Time // message → when last logged
}

// serverLogEvery is how often one message of the server is logged at most.
const serverLogEvery = time.Minute

func (f *serverLog) get() (fatal, last string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal, f.last
}

// connPrefix starts the messages about one connection: its address and
// id, such as "127.0.0.1:6222 - rid:7 - ".
var connPrefix = regexp.MustCompile(`^\S+ - [a-z]+:\d+ - `)

// pass logs the server's message at level, unless it was logged within
// serverLogEvery. Neither the connection a message is about nor numbers in
// its arguments (attempt counts) make it another.
func (f *serverLog) pass(level slog.Level, format string, v []any) {
	if f.log == nil || !f.log.Enabled(context.Background(), level) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	key := connPrefix.ReplaceAllString(format, "")
	for _, a := range v {
		switch a.(type) {
		case int, int32, int64, uint, uint32, uint64, float64:
		default:
			key += "\x00" + fmt.Sprint(a)
		}
	}
	f.mu.Lock()
	if f.said == nil {
		f.said = map[string]time.Time{}
	}
	last, ok := f.said[key]
	now := time.Now()
	if ok && now.Sub(last) < serverLogEvery {
		f.mu.Unlock()
		return
	}
	f.said[key] = now
	if len(f.said) > 1000 { // messages naming ephemeral ports: forget the old
		for k, t := range f.said {
			if now.Sub(t) >= serverLogEvery {
				delete(f.said, k)
			}
		}
	}
	f.mu.Unlock()
	f.log.Log(context.Background(), level, "nats: "+msg+routeAuthHint(msg))
}

// routeAuthHint explains NATS's word for a route refused for its password
// or certificate, on the node that refused it and on the node refused.
func routeAuthHint(msg string) string {
	if !strings.Contains(msg, " - rid:") {
		return ""
	}
	switch {
	case strings.Contains(msg, "TLS route handshake error"):
		return " (check bus.nats.cluster.tls: each node's certificate must be signed by a CA of the others' ca_file and name the host their routes give for it)"
	case strings.Contains(msg, server.ErrAuthentication.Error()):
		return " (a node presented another bus.nats.cluster.password than this node's, or none)"
	case strings.Contains(msg, "Authorization Violation"):
		return " (the other node refused this node's bus.nats.cluster.password: set the same one on every node)"
	}
	return ""
}

func (f *serverLog) Fatalf(format string, v ...any) {
	f.mu.Lock()
	if f.fatal == "" {
		f.fatal = fmt.Sprintf(format, v...)
	}
	f.mu.Unlock()
	f.pass(slog.LevelError, format, v)
}

func (f *serverLog) Errorf(format string, v ...any) {
	f.mu.Lock()
	f.last = fmt.Sprintf(format, v...)
	f.mu.Unlock()
	f.pass(slog.LevelWarn, format, v)
}

func (f *serverLog) Warnf(format string, v ...any)   { f.pass(slog.LevelInfo, format, v) }
func (f *serverLog) Noticef(format string, v ...any) { f.pass(slog.LevelDebug, format, v) }
func (*serverLog) Debugf(string, ...any)             {}
func (*serverLog) Tracef(string, ...any)             {}

// setClusterAuth sets what o says of how the nodes of a cluster prove
// themselves to each other: the password (presented on each route, and
// asked of each route accepted), the certificates, and the routes.
func setClusterAuth(opts *server.Options, o EmbeddedOptions) error {
	opts.Cluster.Username, opts.Cluster.Password = "", ""
	if o.ClusterPassword != "" {
		opts.Cluster.Username, opts.Cluster.Password = clusterUser, o.ClusterPassword
	}
	opts.Cluster.TLSConfig = nil
	if o.routeTLS() {
		tc, err := clusterTLS(o.ClusterCertFile, o.ClusterKeyFile, o.ClusterCAFile, time.Now())
		if err != nil {
			return err
		}
		opts.Cluster.TLSConfig = tc
	}
	opts.Routes = nil
	for _, r := range o.Routes {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("bus: nats route %q: %w", r, err)
		}
		if o.ClusterPassword != "" {
			u.User = url.UserPassword(clusterUser, o.ClusterPassword)
		}
		opts.Routes = append(opts.Routes, u)
	}
	// In the order a reload compares them in: the NATS server sorts the
	// routes of the options in force in place when it compares them with
	// new ones, while its goroutines that dial the routes read them, a data
	// race (seen under -race in TestClusterTLSReload). Routes already in
	// that order are not written, as long as there are at most twelve (the
	// sort moves longer lists, sorted or not: a cluster of more nodes keeps
	// the race on reload).
	slices.SortFunc(opts.Routes, func(a, b *url.URL) int { return cmp.Compare(a.String(), b.String()) })
	return nil
}

// clusterTLS reads a node's certificate, its key and the cluster's CAs
// into the TLS configuration of its routes, and checks them first
// (CheckClusterTLS), so that a bad file is refused, naming it and what is
// wrong with it, rather than found at the next handshake, by the other
// nodes, in words that name neither.
func clusterTLS(certFile, keyFile, caFile string, now time.Time) (*tls.Config, error) {
	const key = "bus.nats.cluster.tls"
	switch {
	case certFile == "" || keyFile == "":
		return nil, errors.New("bus: " + key + ": cert_file and key_file must be set together")
	case caFile == "":
		// Without one, any certificate of a public CA would do.
		return nil, errors.New("bus: nats cluster tls needs a CA file (" + key + ".ca_file)")
	}
	if err := CheckClusterTLS(certFile, keyFile, caFile, now); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile, CaFile: caFile, Verify: true})
	if err != nil { // the files changed since they were read
		return nil, fmt.Errorf("bus: %s: %w", key, err)
	}
	// A node dials routes as well as accepting them: it checks the others'
	// certificates against the same CAs either way, as nats-server does
	// with a cluster's tls block.
	tc.RootCAs = tc.ClientCAs
	return tc, nil
}

// CheckClusterTLS checks the files of a cluster node's TLS
// (bus.nats.cluster.tls's cert_file, key_file and ca_file, all set) as
// the node uses them: the certificate must be valid at now, for server
// and client use both (routes go either way), the key must be its, and
// ca_file must hold the CA that signed it, through any further
// certificates of cert_file: the other nodes check it so at each
// handshake, with the same CAs, and a node that passed its own start
// would otherwise find its routes refused at the next reconnect. A
// problem is a *tlsfiles.Error, naming the key and the file; routerd
// checks so at start and on reload, routerctl config validate too.
func CheckClusterTLS(certFile, keyFile, caFile string, now time.Time) error {
	const key = "bus.nats.cluster.tls"
	pair, err := tlsfiles.CheckPair(key, certFile, keyFile, now)
	if err != nil {
		return err
	}
	leaf := pair.Leaf
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) &&
		(!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth)) {
		return tlsfiles.Errorf(key+".cert_file", "%s: the certificate is not for server and client use both (extended key usage serverAuth and clientAuth): a node's routes go either way", certFile)
	}
	caPEM, err := tlsfiles.Read(key+".ca_file", caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return tlsfiles.Errorf(key+".ca_file", "%s holds no PEM certificate", caFile)
	}
	inter := x509.NewCertPool()
	for _, c := range pair.Chain {
		inter.AddCert(c)
	}
	for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{use}})
		var unknown x509.UnknownAuthorityError
		switch {
		case errors.As(err, &unknown):
			return tlsfiles.Errorf(key+".ca_file", "%s does not hold the CA that signed cert_file %s (issued by %q), nor one a chain in cert_file leads to", caFile, certFile, leaf.Issuer.String())
		case err != nil:
			return tlsfiles.Errorf(key+".ca_file", "%s does not verify cert_file %s: %v", caFile, certFile, err)
		}
	}
	return nil
}

// reloadCluster gives the running server of a cluster node o's routes,
// password and certificates; o's other fields are ignored. The certificate
// files are read again even where their names are the same: rotated
// certificates keep theirs. The new settings apply to the routes made from
// then on: those up stay up (NATS checks a route's certificate only when
// it connects), except that a new password drops the routes accepted with
// the old one, and routes to a node taken out of the routes. When
// anything is wrong with them (a file unreadable, a certificate expired,
// a key of another certificate), the settings in force stay.
func (e *embedded) reloadCluster(o EmbeddedOptions) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.o
	if !cur.clustered() {
		return ErrNotCluster
	}
	if cur.routeTLS() != o.routeTLS() {
		// Routes up would stay as they are, with or without TLS.
		return errors.New("bus: bus.nats.cluster.tls cannot be turned on or off on reload; restart routerd")
	}
	if !o.routeTLS() && o.ClusterPassword == cur.ClusterPassword && slices.Equal(o.Routes, cur.Routes) {
		return nil
	}
	next := e.opts.Clone()
	if err := setClusterAuth(next, o); err != nil {
		return err
	}
	if err := e.srv.ReloadOptions(next); err != nil {
		return fmt.Errorf("bus: reload nats cluster settings: %w", err)
	}
	e.opts = next
	e.o.Routes = slices.Clone(o.Routes)
	e.o.ClusterPassword = o.ClusterPassword
	e.o.ClusterCertFile, e.o.ClusterKeyFile, e.o.ClusterCAFile = o.ClusterCertFile, o.ClusterKeyFile, o.ClusterCAFile
	return nil
}
