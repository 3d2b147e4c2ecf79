package httpsrc

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/internal/every"
	"github.com/eventrouter/eventrouter/sources"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0:
// room for several entries of EventBridge's 1 MiB maximum (JSON escaping
// inflates them), small enough that a client cannot make routerd buffer
// much.
const DefaultMaxBodyBytes = 10 << 20

// Options configures the handler New returns.
type Options struct {
	// Ingester validates and publishes entries. Nil answers every ingest
	// request with 503, as when the bus is down.
	Ingester *sources.Ingester
	// Ready reports whether routerd can accept events (bus connected, rules
	// loaded); GET /readyz answers 503 with its error. Nil: always ready.
	Ready func(context.Context) error
	// Metrics, when non-nil, is served on GET /metrics.
	Metrics http.Handler
	// MaxBodyBytes bounds a request body; larger ones get 413. 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one debug line per request, warnings for bus
	// failures and errors for panics. Nil discards.
	Logger *slog.Logger
	// Now is the clock for request durations (logs and the duration
	// histogram), SigV4's date check, the throttle, and the validity and
	// cache age of SNS signing certificates. Nil: time.Now.
	Now func() time.Time

	// Auth lists the credentials clients may present (auth.go): API keys
	// and SigV4 access keys, each with scopes. With none, requests are not
	// authenticated; routerd then listens on loopback only (config enforces
	// it). /healthz, /readyz and /metrics are always open.
	Auth Auth
	// Throttle limits each client's request rate on the ingest routes
	// (throttle.go); off when Rate is 0.
	Throttle Throttle
	// Admin, when non-nil, serves every path under /admin/ (routerd's admin
	// API) behind the admin scope and the body limit. It sees the full
	// path, /admin/ included. It is not throttled: it is for operators,
	// and its requests are few.
	Admin http.Handler

	// SNSConfirmHosts are the hosts (config http.sns.confirm_hosts) whose
	// SubscribeURL POST /v1/s3 visits to confirm an SNS subscription: an
	// exact host match, https only, so that a forged confirmation cannot
	// make routerd request other URLs. Empty: no subscription is confirmed.
	SNSConfirmHosts []string
	// SNSSkipVerify turns off the check of SNS message signatures (config
	// http.sns.verify_signatures: false), for deployments where something
	// else proves who sent a message. By default an SNS message that SNS
	// did not sign is refused.
	SNSSkipVerify bool
	// SNSCertHosts (config http.sns.cert_hosts) are hosts, besides SNS's
	// own, from which POST /v1/s3 fetches the certificate an SNS message
	// names in SigningCertURL: an exact host match, https only.
	SNSCertHosts []string
	// SNSTopics (config http.sns.topics), when set, are the only topic
	// ARNs whose messages POST /v1/s3 takes, subscription confirmations
	// included.
	SNSTopics []string
	// HTTPClient makes routerd's own outgoing requests (the SNS
	// SubscribeURL and signing certificates); redirects are never
	// followed. Nil: a client with a DefaultSNSConfirmTimeout timeout.
	HTTPClient *http.Client
}

// server holds the resolved options the handlers share.
type server struct {
	in      *sources.Ingester
	ready   func(context.Context) error
	metrics http.Handler
	maxBody int64
	log     *slog.Logger
	now     func() time.Time
	keys    *keyring
	sns     *snsConfirmer // POST /v1/s3's SNS subscription handshake
	// snsSignatures checks SNS messages on POST /v1/s3; nil when
	// Options.SNSSkipVerify.
	snsSignatures *snsVerifier
	snsTopics     []string // Options.SNSTopics
	// fullLog thins out the warning of requests refused while the bus's
	// storage is full, which every client retry would repeat.
	fullLog every.Limiter
}

// route is one line of the route table. Ingest routes take client events
// and get the ingest middleware chain; the others are for operators.
type route struct {
	method string
	path   string
	h      http.HandlerFunc
	ingest bool
}

// New returns routerd's HTTP handler. It never answers 500 for bad input.
func New(opts Options) http.Handler {
	s := &server{
		in:      opts.Ingester,
		ready:   opts.Ready,
		metrics: opts.Metrics,
		maxBody: opts.MaxBodyBytes,
		log:     opts.Logger,
		now:     opts.Now,

		snsTopics: slices.Clone(opts.SNSTopics),
		fullLog:   every.Limiter{Period: 10 * time.Second},
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.keys = newKeyring(opts.Auth, opts.Throttle.newBucket, s.log)
	client := snsClient(opts.HTTPClient)
	s.sns = &snsConfirmer{hosts: slices.Clone(opts.SNSConfirmHosts), client: client}
	if !opts.SNSSkipVerify {
		s.snsSignatures = newSNSVerifier(slices.Clone(opts.SNSCertHosts), client, s.now)
	}
	m := mux{}
	for _, rt := range s.routes() {
		var h http.Handler = rt.h
		if rt.ingest {
			h = s.ingestChain(ingestSource(rt.path), h)
		}
		if m[rt.path] == nil {
			m[rt.path] = map[string]http.Handler{}
		}
		m[rt.path][rt.method] = h
	}
	var h http.Handler = m
	if opts.Admin != nil {
		h = withAdmin(s.authenticate(ScopeAdmin, limitBody(s.maxBody, opts.Admin)), h)
	}
	h = recoverPanics(s.log, h)
	h = logRequests(s.log, s.now, h)
	h = withRequestID(h)
	return h
}

// routes is the route table: every path routerd serves.
func (s *server) routes() []route {
	rs := []route{
		{method: http.MethodPost, path: "/", h: s.awsJSON, ingest: true},
		{method: http.MethodPost, path: "/v1/events", h: s.events, ingest: true},
		{method: http.MethodPost, path: "/v1/cloudevents", h: s.cloudEvents, ingest: true},
		{method: http.MethodPost, path: "/v1/s3", h: s.s3, ingest: true},
		{method: http.MethodGet, path: "/healthz", h: s.healthz},
		{method: http.MethodGet, path: "/readyz", h: s.readyz},
	}
	if s.metrics != nil {
		rs = append(rs, route{method: http.MethodGet, path: "/metrics", h: s.metrics.ServeHTTP})
	}
	return rs
}

// ingestChain wraps an ingest route in its middlewares: authentication
// (ingest scope), then the client's throttle, then the body limit, so that
// a refused client costs no body read (but SigV4's, see throttle). source
// labels the route in the throttle metric.
func (s *server) ingestChain(source string, h http.Handler) http.Handler {
	return s.authenticate(ScopeIngest, s.throttle(source, limitBody(s.maxBody, h)))
}

// withAdmin sends /admin and everything under /admin/ to admin, the rest to
// next. Authorisation is decided on the same path that picks the handler,
// so no spelling of a path reaches the admin API without the admin scope.
func withAdmin(admin, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
			admin.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// mux maps an exact path, then a method, to a handler. Unlike
// http.ServeMux it answers unknown paths and methods with JSON errors in
// the same shape as every other error, and never redirects a POST.
type mux map[string]map[string]http.Handler

func (m mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	byMethod, ok := m[r.URL.Path]
	if !ok {
		writeError(w, r, errNotFound(r))
		return
	}
	h, ok := byMethod[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = byMethod[http.MethodGet]
	}
	if !ok {
		allow := make([]string, 0, len(byMethod)+1)
		for meth := range byMethod {
			allow = append(allow, meth)
			if meth == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, errMethod(r))
		return
	}
	h.ServeHTTP(w, r)
}
