// Package app wires routerd together: the one place where the concrete
// bus, sinks, consumers, router and sources meet. Start brings them up in
// dependency order (bus → sinks → consumers → router → sources), Stop takes
// them down in reverse, Reload builds a whole new rule table and consumer
// set before swapping it in.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/consumers"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/tlsfiles"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/schemas"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/filesink"
	"github.com/eventrouter/eventrouter/sinks/httpsink"
	"github.com/eventrouter/eventrouter/sinks/logsink"
	"github.com/eventrouter/eventrouter/sinks/natssink"
	"github.com/eventrouter/eventrouter/sources"
	httpsrc "github.com/eventrouter/eventrouter/sources/http"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultSinks is the registry of built-in sink types.
func DefaultSinks() sinks.Registry {
	return sinks.Registry{
		httpsink.Type: {New: httpsink.New, Validate: httpsink.Validate},
		filesink.Type: {New: filesink.New, Validate: filesink.Validate},
		natssink.Type: {New: natssink.New, Validate: natssink.Validate},
		logsink.Type:  {New: logsink.New, Validate: logsink.Validate},
	}
}

// Options are what the caller of New provides besides the config.
type Options struct {
	Logger *slog.Logger
	// Sinks is the sink registry; nil means DefaultSinks.
	Sinks sinks.Registry
	// Bus, when set, is used instead of the one the config describes
	// (tests); the app does not close it.
	Bus bus.Bus
}

// App is a running routerd.
type App struct {
	opts Options
	log  *slog.Logger
	reg  *prometheus.Registry

	mu        sync.Mutex // guards cfg, consumers and reloads
	cfg       *config.Config
	consumers map[string]*liveConsumer

	bus       bus.Bus
	ownBus    bool
	router    *router.Router
	ingester  *sources.Ingester
	ingestM   *sources.Metrics
	routerM   *router.Metrics
	deliverM  *consumers.Metrics
	schemas   schemas.Live // detail schemas in force, swapped on reload
	reloadOK  prometheus.Gauge
	ready     atomic.Bool
	waiting   atomic.Pointer[error] // while Start waits for the bus, why
	servers   []*http.Server
	handler   atomic.Pointer[http.Handler]
	metricsH  http.Handler
	addr      string
	cancelRun context.CancelFunc
	routerRun chan struct{}
	cleanups  []cleanup

	// A cluster node's comparison of its configuration with the others'
	// (watchClusterConfig).
	configMismatch prometheus.Gauge
	digests        atomic.Pointer[map[string]string] // configDigests of the configuration in force
	checkConfig    chan struct{}                     // record and compare now
	configEvery    time.Duration
}

type liveConsumer struct {
	spec config.Consumer
	sink sinks.Sink
	c    *consumers.Consumer
}

type cleanup struct {
	name string
	fn   func(context.Context) error
}

// New prepares an app for cfg, which must have passed config.Validate.
// Nothing starts until Start.
func New(cfg *config.Config, opts Options) *App {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Sinks == nil {
		opts.Sinks = DefaultSinks()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &App{opts: opts, log: opts.Logger, reg: reg, cfg: cfg, consumers: map[string]*liveConsumer{}}
	a.ingestM = sources.NewMetrics(reg)
	a.routerM = router.NewMetrics(reg)
	a.deliverM = consumers.NewMetrics(reg)
	a.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eventrouter_config_last_reload_successful",
		Help: "1 if the last configuration (re)load succeeded, 0 if it failed and the previous one is still in use.",
	})
	a.configMismatch = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eventrouter_cluster_config_mismatch",
		Help: "1 if a node of this node's cluster, connected to it, has recorded rules, consumers or schemas other than this node's (the log says which); 0 otherwise, and on a single node.",
	})
	a.checkConfig = make(chan struct{}, 1)
	a.configEvery = configCheckEvery
	reg.MustRegister(a.reloadOK, a.configMismatch, newBacklogCollector(a))
	return a
}

// Registry is the app's metrics registry.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Addr is the address the HTTP listener is bound to (useful with port 0).
func (a *App) Addr() string { return a.addr }

// Bus is the running bus.
func (a *App) Bus() bus.Bus { return a.bus }

func (a *App) push(name string, fn func(context.Context) error) {
	a.cleanups = append(a.cleanups, cleanup{name, fn})
}

// Start brings routerd up. On error, whatever had started is stopped again.
func (a *App) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a.Stop(sctx)
		}
	}()
	cfg := a.cfg
	stamp := event.Stamp{Account: cfg.Account, Region: cfg.Region}

	// Schemas, before anything starts: a bad schema file stops the start.
	set, err := compileSchemas(cfg)
	if err != nil {
		return err
	}
	a.schemas.Store(set)

	// The listeners first, with no ingester: while the bus waits for the
	// other nodes of its cluster, /healthz answers, /readyz says what it
	// waits for, and clients are told 503 instead of finding no listener.
	if err := a.startHTTP(cfg); err != nil {
		return err
	}

	// Bus.
	if a.opts.Bus != nil {
		a.bus = a.opts.Bus
	} else {
		b, err := a.openBus(ctx, cfg)
		if err != nil {
			return err
		}
		a.bus, a.ownBus = b, true
		a.push("bus", func(context.Context) error { return b.Close() })
	}
	maxEvent := bus.MaxEventBytes(a.bus)
	if maxEvent > 0 && maxEvent < 2*event.MaxEntrySize {
		a.log.Warn("the NATS server's max_payload is too small for the largest events: larger envelopes are refused at ingest; set max_payload to 8MB",
			"max_payload", a.bus.NATS().MaxPayload(), "largest_event_bytes", maxEvent)
	}
	if !cfg.HTTP.SNS.VerifySignatures && !cfg.HTTP.Auth.Enabled() {
		a.log.Warn("SNS signatures are not checked (http.sns.verify_signatures: false) and http.auth is off: anyone who can reach POST /v1/s3 can send notifications as SNS")
	}

	// Sinks and consumers.
	runCtx, cancelRun := context.WithCancel(context.Background())
	a.cancelRun = cancelRun
	live, err := a.buildConsumers(cfg)
	if err != nil {
		return err
	}
	for name, lc := range live {
		if err := lc.c.Start(runCtx); err != nil {
			closeSinks(live)
			return err
		}
		a.consumers[name] = lc
	}
	a.push("consumers", func(ctx context.Context) error { return a.stopConsumers(ctx) })

	// Router.
	routes, err := buildRoutes(cfg)
	if err != nil {
		return err
	}
	a.router = router.New(a.bus, routes, router.Options{
		Stamp: stamp, Ingest: a.ingestM.Events, Metrics: a.routerM, Logger: a.log, Schemas: &a.schemas,
		MaxEventBytes: maxEvent, DeadLettered: a.deliverM.DeadLettered,
	})
	a.routerRun = make(chan struct{})
	routerCtx, stopRouter := context.WithCancel(runCtx)
	go func() {
		defer close(a.routerRun)
		if err := a.router.Run(routerCtx); err != nil {
			a.log.Error("router stopped", "err", err)
		}
	}()
	a.push("router", func(ctx context.Context) error {
		stopRouter()
		select {
		case <-a.routerRun:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("router: %w", ctx.Err())
		}
	})

	// A cluster node records its configuration for the others to compare.
	digests := configDigests(cfg)
	a.digests.Store(&digests)
	if r, ok := a.bus.(nodeRecorder); ok && cfg.Bus.NATS.Cluster.Enabled() {
		watchCtx, stopWatch := context.WithCancel(runCtx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			a.watchClusterConfig(watchCtx, r, a.configEvery)
		}()
		a.push("cluster configuration check", func(ctx context.Context) error {
			stopWatch()
			select {
			case <-watched:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("cluster configuration check: %w", ctx.Err())
			}
		})
	}

	// Sources.
	a.ingester = &sources.Ingester{
		Pub: a.bus, Stamp: stamp, Metrics: a.ingestM, Schemas: &a.schemas,
		KnownBus:      func(name string) bool { return a.router.Routes().HasBus(name) },
		MaxEventBytes: maxEvent,
		Seal:          a.bus.Seal(),
	}
	door := a.frontDoor(cfg)
	a.handler.Store(&door)
	a.push("sources", func(context.Context) error {
		// Stop taking events; the listeners close last. The credentials
		// are those in force, which a reload may have changed.
		a.mu.Lock()
		now := a.cfg
		a.mu.Unlock()
		closed := a.closedDoor(now)
		a.handler.Store(&closed)
		return nil
	})
	a.reloadOK.Set(1)
	a.ready.Store(true)
	a.log.Info("routerd started", "config", cfg.Source(), "http", a.addr, "bus", cfg.Bus.Type, "rules", len(cfg.Rules), "consumers", len(cfg.Consumers))
	return nil
}

// openBus opens the bus the config describes. A node of an embedded
// cluster waits for the others until ctx ends; meanwhile Ready says why.
func (a *App) openBus(ctx context.Context, cfg *config.Config) (bus.Bus, error) {
	jsOpts := bus.JetStreamOptions{Replicas: cfg.Bus.Replicas, DLQMaxAge: cfg.Bus.DLQMaxAge, Logger: a.log, Waiting: func(err error) {
		if err == nil {
			a.waiting.Store(nil)
			return
		}
		a.waiting.Store(&err)
	}}
	switch cfg.Bus.Type {
	case config.BusMemory:
		return bus.NewMemory(), nil
	case config.BusNATS:
		var auth nats.Option
		switch {
		case cfg.Bus.NATS.Token != "":
			auth = nats.Token(cfg.Bus.NATS.Token)
		case cfg.Bus.NATS.User != "":
			auth = nats.UserInfo(cfg.Bus.NATS.User, cfg.Bus.NATS.Password)
		}
		return bus.Connect(ctx, cfg.Bus.NATS.URL, auth, jsOpts)
	default:
		b, _, err := bus.OpenEmbedded(ctx, embeddedOptions(cfg, a.log), jsOpts)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
}

// embeddedOptions are the embedded server's options cfg gives.
func embeddedOptions(cfg *config.Config, log *slog.Logger) bus.EmbeddedOptions {
	n := cfg.Bus.NATS
	return bus.EmbeddedOptions{
		Listen:          n.Listen,
		DataDir:         filepath.Clean(cfg.Bus.DataDir),
		SyncAlways:      cfg.Bus.Sync == config.SyncAlways,
		MaxStore:        int64(n.MaxStore),
		MinFreeDisk:     minFreeDisk(n.MinFreeDisk),
		Token:           n.Token,
		User:            n.User,
		Password:        n.Password,
		ServerName:      n.Cluster.ServerName,
		ClusterName:     n.Cluster.Name,
		ClusterListen:   n.Cluster.Listen,
		Routes:          n.Cluster.Routes,
		ClusterPassword: n.Cluster.Password,
		ClusterCertFile: n.Cluster.TLS.CertFile,
		ClusterKeyFile:  n.Cluster.TLS.KeyFile,
		ClusterCAFile:   n.Cluster.TLS.CAFile,
		Logger:          log,
	}
}

// startHTTP opens the listeners, serving the closed door until Start
// stores the front door.
func (a *App) startHTTP(cfg *config.Config) error {
	a.metricsH = promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})
	door := a.closedDoor(cfg)
	a.handler.Store(&door)
	// The listener serves whatever front door is current, so a reload can
	// change credentials and throttles without closing it.
	current := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*a.handler.Load()).ServeHTTP(w, r)
	})
	addr, err := a.serve(cfg.HTTP.Listen, current, cfg.HTTP.TLS)
	if err != nil {
		return err
	}
	a.addr = addr
	if cfg.HTTP.MetricsListen != "" {
		m := http.NewServeMux()
		m.Handle("GET /metrics", a.metricsH)
		if _, err := a.serve(cfg.HTTP.MetricsListen, m, config.TLS{}); err != nil {
			return err
		}
	}
	return nil
}

// frontDoor builds the HTTP handler for cfg: ingest, probes, metrics and
// the admin API, behind authentication and throttling.
func (a *App) frontDoor(cfg *config.Config) http.Handler {
	admin := http.NewServeMux()
	a.adminRoutes(admin)
	return a.door(cfg, a.ingester, admin)
}

// closedDoor is the HTTP handler while routerd starts or stops: probes and
// metrics, and 503 for events and the admin API.
func (a *App) closedDoor(cfg *config.Config) http.Handler {
	return a.door(cfg, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.Ready(r.Context())
		if err == nil { // started meanwhile: the next request finds the front door
			err = errors.New("starting")
		}
		adminError(w, http.StatusServiceUnavailable, "routerd is not ready: %v", err)
	}))
}

// door builds the HTTP handler for cfg over the ingester in (nil: ingest
// answers 503) and the admin API.
func (a *App) door(cfg *config.Config, in *sources.Ingester, admin http.Handler) http.Handler {
	var inline http.Handler
	if cfg.HTTP.MetricsListen == "" {
		inline = a.metricsH
	}
	var auth httpsrc.Auth
	for _, k := range cfg.HTTP.Auth.APIKeys {
		auth.APIKeys = append(auth.APIKeys, httpsrc.APIKey(k))
	}
	for _, k := range cfg.HTTP.Auth.SigV4 {
		auth.SigV4 = append(auth.SigV4, httpsrc.SigV4Key{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Scopes: k.Scopes})
	}
	return httpsrc.New(httpsrc.Options{
		Ingester:        in,
		Ready:           a.Ready,
		Metrics:         inline,
		MaxBodyBytes:    cfg.HTTP.MaxBodyBytes,
		Logger:          a.log,
		Auth:            auth,
		Throttle:        httpsrc.Throttle(cfg.HTTP.Throttle),
		Admin:           admin,
		SNSConfirmHosts: cfg.HTTP.SNS.ConfirmHosts,
		SNSSkipVerify:   !cfg.HTTP.SNS.VerifySignatures,
		SNSCertHosts:    cfg.HTTP.SNS.CertHosts,
		SNSTopics:       cfg.HTTP.SNS.Topics,
	})
}

// serve listens on addr and serves h until Stop; it returns the bound
// address.
func (a *App) serve(addr string, h http.Handler, tls config.TLS) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("http: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() {
		var err error
		if tls.Enabled() {
			err = srv.ServeTLS(ln, tls.CertFile, tls.KeyFile)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server failed", "addr", addr, "err", err)
		}
	}()
	a.servers = append(a.servers, srv)
	a.push("http "+ln.Addr().String(), srv.Shutdown)
	return ln.Addr().String(), nil
}

// Ready reports whether routerd accepts events: started and bus reachable.
func (a *App) Ready(ctx context.Context) error {
	if !a.ready.Load() {
		if err := a.waiting.Load(); err != nil {
			return fmt.Errorf("starting: waiting for the bus: %w", *err)
		}
		return errors.New("starting or stopping")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return a.bus.Ping(ctx)
}

// Stop takes routerd down in reverse start order: the listeners stop taking
// requests, the router and consumers finish what they hold (or leave it on
// the bus, unacknowledged), then the bus closes.
func (a *App) Stop(ctx context.Context) error {
	a.ready.Store(false)
	var errs []error
	for i := len(a.cleanups) - 1; i >= 0; i-- {
		c := a.cleanups[i]
		if err := c.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", c.name, err))
		}
	}
	a.cleanups = nil
	if a.cancelRun != nil {
		a.cancelRun()
	}
	return errors.Join(errs...)
}

func (a *App) stopConsumers(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, lc := range a.consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := lc.c.Stop(ctx)
			if cerr := lc.sink.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	a.consumers = map[string]*liveConsumer{}
	return errors.Join(errs...)
}

// buildConsumers creates a sink and a consumer for every configured
// consumer, without starting them. On error nothing is left open.
func (a *App) buildConsumers(cfg *config.Config) (map[string]*liveConsumer, error) {
	return buildConsumers(cfg, a.opts.Sinks, a.bus, a.log, a.deliverM)
}

func buildConsumers(cfg *config.Config, reg sinks.Registry, b bus.Bus, log *slog.Logger, m *consumers.Metrics) (map[string]*liveConsumer, error) {
	out := map[string]*liveConsumer{}
	var deps sinks.Deps
	deps.Logger = log
	if b != nil {
		deps.NATS = b.NATS()
	}
	for name, spec := range cfg.Consumers {
		s, err := reg.New(spec.Sink.Type, name, sinks.Spec(spec.Sink.Spec), deps)
		if err != nil {
			closeSinks(out)
			return nil, fmt.Errorf("consumers.%s.sink: %w", name, err)
		}
		c := consumers.New(name, s, policyOf(spec), b, consumers.Options{Metrics: m, Logger: log})
		out[name] = &liveConsumer{spec: spec, sink: s, c: c}
	}
	return out, nil
}

func closeSinks(m map[string]*liveConsumer) {
	for _, lc := range m {
		lc.sink.Close()
	}
}

func policyOf(c config.Consumer) consumers.Policy {
	return consumers.Policy{
		MaxAttempts:    c.Retry.MaxAttempts,
		MaxEventAge:    c.Retry.MaxEventAge,
		InitialBackoff: c.Retry.InitialBackoff,
		MaxBackoff:     c.Retry.MaxBackoff,
		Timeout:        c.Timeout,
		Concurrency:    c.Concurrency,
		DLQ:            c.DLQ,
	}
}

func buildRoutes(cfg *config.Config) (*router.Routes, error) {
	var rs []router.Rule
	for _, r := range cfg.Rules {
		if r.Compiled == nil {
			return nil, fmt.Errorf("rule %s: pattern not compiled (config not validated)", r.Name)
		}
		rs = append(rs, router.Rule{Name: r.Name, Bus: r.Bus, Pattern: r.Compiled, Targets: r.Targets})
	}
	queues := map[string]router.Queue{}
	for name, c := range cfg.Consumers {
		if c.MaxBacklog > 0 {
			queues[name] = router.Queue{MaxBacklog: c.MaxBacklog}
		}
	}
	return router.NewRoutes(rs, queues)
}

// compileSchemas compiles the config's detail schemas; schema files are
// relative to the config file's directory.
func compileSchemas(cfg *config.Config) (*schemas.Set, error) {
	dir := "."
	if cfg.File != "" {
		dir = filepath.Dir(cfg.File)
	}
	return schemas.Compile(cfg.Schemas, dir)
}

// Check is the part of config validation that belongs to the packages app
// wires together: each consumer's sink settings, checked by the sink type
// (reg; nil means DefaultSinks), and each schema, compiled. Load runs it
// with the config's own checks, so that every problem is reported at once,
// with its key path, before anything starts.
func Check(reg sinks.Registry) config.Check {
	if reg == nil {
		reg = DefaultSinks()
	}
	return func(cfg *config.Config) config.Errors {
		var errs config.Errors
		if _, err := compileSchemas(cfg); err != nil {
			if !errors.As(err, &errs) {
				errs = config.Errors{{Path: "schemas", Reason: err.Error(), Err: err}}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(cfg.Consumers)) {
			sk := cfg.Consumers[name].Sink
			if err := reg.Validate(sk.Type, sinks.Spec(sk.Spec)); err != nil {
				errs = append(errs, sinkError("consumers."+name+".sink", err))
			}
		}
		return append(errs, checkTLSFiles(cfg, time.Now())...)
	}
}

// checkTLSFiles checks the certificate files of the HTTP listener and of
// the cluster's routes as routerd would use them, so that a bad one is
// refused by routerctl config validate too, not only at start; each
// problem at the key of its file. Files not set in pairs (or, for the
// cluster, threes) are config's to report.
func checkTLSFiles(cfg *config.Config, now time.Time) config.Errors {
	var errs config.Errors
	add := func(err error) {
		var fe *tlsfiles.Error
		switch {
		case errors.As(err, &fe):
			errs = append(errs, &config.Error{Path: fe.Key, Reason: fe.Reason, Err: err})
		case err != nil:
			errs = append(errs, &config.Error{Reason: err.Error(), Err: err})
		}
	}
	if t := cfg.HTTP.TLS; t.CertFile != "" && t.KeyFile != "" {
		_, err := tlsfiles.CheckPair("http.tls", t.CertFile, t.KeyFile, now)
		add(err)
	}
	if t := cfg.Bus.NATS.Cluster.TLS; t.CertFile != "" && t.KeyFile != "" && t.CAFile != "" {
		add(bus.CheckClusterTLS(t.CertFile, t.KeyFile, t.CAFile, now))
	}
	return errs
}

// sinkError reports a sink's problem at path, or at the key's own path when
// it is about one key: config then names the environment variable that set
// the key, as for any other.
func sinkError(path string, err error) *config.Error {
	var ke *sinks.KeyError
	if errors.As(err, &ke) {
		return &config.Error{Path: path + "." + ke.Key, Reason: ke.Err.Error(), Err: err}
	}
	return &config.Error{Path: path, Reason: err.Error(), Err: err}
}

// Load reads and validates a config file as routerd runs it: config.Load
// with Check (reg; nil means DefaultSinks) among the checks.
func Load(path string, reg sinks.Registry, opts ...config.Option) (*config.Config, error) {
	return config.Load(path, append(opts, config.WithCheck(Check(reg)))...)
}

// Reload swaps in a new configuration: the whole rule table and consumer
// set are built and checked first; on any error the running configuration
// stays and the error is returned. Consumers whose settings did not change
// keep running untouched. The cluster's routes, password and certificates
// (bus.nats.cluster's routes, password and tls files) are given to the
// embedded server; a certificate it refuses fails the reload. Listener,
// log, other bus and identity settings need a restart; a change to them is
// reported, naming the keys, and otherwise ignored.
func (a *App) Reload(ctx context.Context, cfg *config.Config) error {
	if err := cfg.Validate(Check(a.opts.Sinks)); err != nil {
		return a.reloadFailed(err)
	}
	return a.reload(ctx, cfg)
}

// reloadFailed records and says that a reload was refused.
func (a *App) reloadFailed(err error) error {
	a.reloadOK.Set(0)
	a.log.Error("reload failed; keeping the running configuration", "err", err)
	return err
}

// reload is Reload for a configuration that Check has passed (Load, or
// Reload itself): it is not checked again.
func (a *App) reload(ctx context.Context, cfg *config.Config) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() {
		if err != nil {
			a.reloadFailed(err)
		} else {
			a.reloadOK.Set(1)
		}
	}()
	routes, err := buildRoutes(cfg)
	if err != nil {
		return err
	}
	set, err := compileSchemas(cfg)
	if err != nil {
		return err
	}
	old := a.cfg
	changed := map[string]config.Consumer{}
	for name, spec := range cfg.Consumers {
		if lc, ok := a.consumers[name]; !ok || !reflect.DeepEqual(lc.spec, spec) {
			changed[name] = spec
		}
	}
	fresh, err := buildConsumers(&config.Config{Consumers: changed}, a.opts.Sinks, a.bus, a.log, a.deliverM)
	if err != nil {
		return err
	}
	// The cluster's routes, password and certificates, last of what may
	// fail: a certificate refused leaves everything as it was.
	busNow := reloadedBus(old.Bus, cfg.Bus)
	if r, ok := a.bus.(clusterReloader); ok && busNow.NATS.Cluster.Enabled() &&
		(busNow.NATS.Cluster.TLS.Enabled() || !reflect.DeepEqual(busNow.NATS.Cluster, old.Bus.NATS.Cluster)) {
		now := *old
		now.Bus = busNow
		if err := r.ReloadCluster(embeddedOptions(&now, a.log)); err != nil {
			closeSinks(fresh)
			return fmt.Errorf("reload: %w", err)
		}
	}
	runCtx := context.Background()
	// Stop replaced and removed consumers first, then start the new ones,
	// then switch the routes: events routed meanwhile wait in the queues.
	for name, lc := range a.consumers {
		if _, keep := cfg.Consumers[name]; keep && fresh[name] == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := lc.c.Stop(sctx); err != nil {
			a.log.Warn("reload: consumer did not stop in time; its in-flight events will be redelivered", "consumer", name, "err", err)
		}
		cancel()
		lc.sink.Close()
		delete(a.consumers, name)
	}
	for name, lc := range fresh {
		if err := lc.c.Start(runCtx); err != nil {
			// The bus refused: leave what runs, report it.
			lc.sink.Close()
			return fmt.Errorf("reload: start consumer %s: %w", name, err)
		}
		a.consumers[name] = lc
	}
	a.router.Swap(routes)
	a.schemas.Store(set)
	// Credentials, throttles and SNS settings follow the new file; the
	// rate buckets start full again, and the SNS certificate cache empty.
	next := *old
	next.HTTP.Auth, next.HTTP.Throttle, next.HTTP.SNS = cfg.HTTP.Auth, cfg.HTTP.Throttle, cfg.HTTP.SNS
	door := a.frontDoor(&next)
	a.handler.Store(&door)
	next.Bus = busNow
	if keys := restartKeys(&next, cfg); len(keys) > 0 {
		a.log.Warn("reload: " + strings.Join(keys, ", ") + " cannot change on reload; restart routerd (the rest of the file is in force)")
	}
	cfg.Log, cfg.HTTP, cfg.Bus, cfg.Account, cfg.Region = old.Log, next.HTTP, busNow, old.Account, old.Region
	a.cfg = cfg
	digests := configDigests(cfg)
	a.digests.Store(&digests)
	select { // record and compare them now
	case a.checkConfig <- struct{}{}:
	default:
	}
	a.log.Info("configuration reloaded", "rules", len(cfg.Rules), "consumers", len(cfg.Consumers), "restarted_consumers", len(fresh))
	return nil
}

// ReloadFile loads the config file the app started with and reloads it.
func (a *App) ReloadFile(ctx context.Context) error {
	a.mu.Lock()
	file, insecure := a.cfg.File, a.cfg.Insecure
	a.mu.Unlock()
	cfg, err := Load(file, a.opts.Sinks, config.WithInsecure(insecure))
	if err != nil {
		return a.reloadFailed(err)
	}
	return a.reload(ctx, cfg)
}

func (a *App) serveReload(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := a.ReloadFile(r.Context()); err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, "{\"reloaded\":false,\"error\":%q}\n", err.Error())
		return
	}
	fmt.Fprintln(w, `{"reloaded":true}`)
}

// minFreeDisk is bus.nats.min_free_disk as the embedded bus takes it:
// left out, 0 (its default); 0, negative (off).
func minFreeDisk(v config.ByteSize) int64 {
	switch v {
	case config.DefaultMinFreeDisk:
		return 0
	case 0:
		return -1
	}
	return int64(v)
}
