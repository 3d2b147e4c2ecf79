package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamOptions shape the streams a JetStream bus provisions.
type JetStreamOptions struct {
	// Replicas of each stream: 1 on a single node, 3 on a cluster.
	Replicas int
	// DLQMaxAge, when set, is how long the DLQ stream keeps a dead letter.
	DLQMaxAge time.Duration
	// Memory keeps the streams in memory instead of files (tests).
	Memory bool
	// PublishTimeout bounds the wait for a publish acknowledgement.
	PublishTimeout time.Duration
	Logger         *slog.Logger
	// SealKeyFile keeps the Seal's key in a file (the embedded server of a
	// single node); "" keeps it in a key-value bucket, shared by every
	// routerd on the NATS system.
	SealKeyFile string
	// Wait makes NewJetStream try again, until its context ends, when
	// JetStream does not answer or refuses the streams, instead of failing:
	// the nodes of a cluster start in any order, and JetStream answers
	// only once a majority of them is up and has elected a leader.
	Wait bool
	// Waiting, when set, is told why each try failed while NewJetStream
	// waits, and nil once the bus is ready.
	Waiting func(error)
	// Explain, when set, says what may keep JetStream from answering (an
	// embedded cluster's state); waiting and Ping add it to their errors.
	Explain func() string
	// Health, when set, reports whether this node reaches enough of its
	// cluster for JetStream to store anything (an embedded cluster node
	// that sees no majority of the nodes). Once the bus is up, Ping and
	// every publish fail at once while it does not: a node cut off from
	// the others takes seconds to learn it from JetStream, and its
	// publishes meanwhile each waited PublishTimeout.
	Health func() error

	serverStore   func() (Storage, error)     // the embedded server's own use and bound (OpenEmbedded)
	reloadCluster func(EmbeddedOptions) error // an embedded cluster node's (OpenEmbedded)
	node          clusterNode                 // an embedded cluster node's (OpenEmbedded)
	markName      string                      // this node's name in EVENTS' refusal marks (capEvents); default the host's
	diskFree      func() (int64, bool)        // free space of the store's file system (OpenEmbedded; tests)
	minFreeDisk   int64                       // below it, new events are refused; 0: no guard
	diskDir       string                      // the store's directory, for the log
	liftOnClose   bool                        // lift EVENTS' bound as the bus closes (the embedded server of a single node)
	storageEvery  time.Duration               // how often to measure the store; default storageEvery (tests)
}

// JetStream is a Bus on NATS JetStream. watermill-nats' own JetStream
// subscriber is not used: it handles one message at a time per
// subscription and its redelivery delay only sees the attempt number, where
// delivery needs bounded parallelism and per-message delays (Retry-After).
type JetStream struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	opts    JetStreamOptions
	log     *slog.Logger
	onClose []func()

	mu     sync.Mutex
	subs   map[*jsSub]struct{}
	closed bool
	acks   sync.WaitGroup // answers to the broker still to be sent

	pubMu   sync.Mutex
	waiting map[*nats.Msg]pubPlace // published, acknowledgement awaited

	seal *Seal

	room    storeUse      // for IngestShare
	refuse  atomic.Bool   // JetStream is to refuse new events from NATS publishers (capEvents)
	wake    chan struct{} // tells capEvents that refuse changed
	capDone chan struct{} // closed when capEvents returns
	stop    chan struct{} // closed by Close
	health  health

	handBackMu sync.Mutex
	handedBack map[storedAt]uint64 // see jsSub.handBack
	anyBack    atomic.Bool         // handedBack is not empty: most deliveries skip the lock
}

// pubWait is one PublishAll call waiting for its acknowledgements. They
// come through the JetStream context's ack and error handlers, not
// through each publish's PubAckFuture, whose Ok and Err channels cost four
// allocations per message.
type pubWait struct {
	n    int           // messages in the call
	left int           // answers still to come; JetStream.pubMu
	errs []error       // per message, once one has failed; JetStream.pubMu
	done chan struct{} // closed when left reaches 0
}

// pubPlace is a published message's call and its place in the call.
type pubPlace struct {
	w *pubWait
	i int
}

// fail records why message i of the call was not stored; the caller holds
// JetStream.pubMu.
func (w *pubWait) fail(i int, err error) {
	if w.errs == nil {
		w.errs = make([]error, w.n)
	}
	if w.errs[i] == nil {
		w.errs[i] = err
	}
}

var _ Bus = (*JetStream)(nil)

// ErrNotCluster is ReloadCluster's error on a bus that is not an embedded
// cluster node's.
var ErrNotCluster = errors.New("bus: not the embedded server of a cluster node")

// ReloadCluster gives the embedded server of a cluster node new routes, a
// new password and new certificates: o's Routes, ClusterPassword and
// ClusterCertFile, ClusterKeyFile and ClusterCAFile (o's other fields are
// ignored; they cannot change while the server runs). The certificate
// files are read again even where their names are the same, as rotated
// certificates keep theirs. Routes made already stay up, except that a
// new password drops those accepted with the old one, and a route taken
// out is closed; the routes made from then on use the new settings. On
// error (a certificate file unreadable, expired or not matching its key;
// TLS turned on or off, which needs a restart) the settings in force stay.
func (b *JetStream) ReloadCluster(o EmbeddedOptions) error {
	if b.opts.reloadCluster == nil {
		return ErrNotCluster
	}
	return b.opts.reloadCluster(o)
}

// NewJetStream provisions the EVENTS, DELIVER and DLQ streams on the
// connection's JetStream and returns a bus over them. onClose functions run
// after the bus closes the connection (stopping an embedded server, say).
func NewJetStream(ctx context.Context, nc *nats.Conn, opts JetStreamOptions, onClose ...func()) (*JetStream, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &JetStream{nc: nc, opts: opts, log: opts.Logger, subs: map[*jsSub]struct{}{}, onClose: onClose,
		waiting: map[*nats.Msg]pubPlace{}, stop: make(chan struct{}), wake: make(chan struct{}, 1), capDone: make(chan struct{})}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { b.answered(m, nil) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) { b.answered(m, err) }))
	if err != nil {
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	b.js = js
	started := time.Now()
	var reported time.Time
	for {
		err = b.provision(ctx)
		if err == nil || !opts.Wait {
			break
		}
		err = b.explain(err)
		if opts.Waiting != nil {
			opts.Waiting(err)
		}
		if time.Since(reported) >= waitReportEvery {
			// A cluster starting takes a few seconds: a warning once it
			// takes longer.
			level := slog.LevelWarn
			if reported.IsZero() {
				level = slog.LevelInfo
			}
			reported = time.Now()
			b.log.Log(ctx, level, "bus: waiting for JetStream (the NATS cluster)", "waited", time.Since(started).Round(time.Second), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bus: gave up waiting for JetStream: %w", err)
		case <-time.After(waitRetryEvery):
		}
	}
	if err != nil {
		return nil, err
	}
	if !reported.IsZero() {
		b.log.Info("bus: JetStream answers; streams ready", "waited", time.Since(started).Round(time.Second))
	}
	if opts.Waiting != nil {
		opts.Waiting(nil)
	}
	if opts.storageEvery <= 0 {
		opts.storageEvery = storageEvery
	}
	go b.watchStorage(opts.storageEvery)
	go b.capEvents()
	return b, nil
}

// How often NewJetStream tries again while it waits for JetStream, and how
// often it says so in the log.
const (
	waitRetryEvery  = 500 * time.Millisecond
	waitReportEvery = 15 * time.Second
)

// Timeouts of the JetStream API calls that provision the bus. A call that
// times out is tried again, and finds what it created meanwhile: creating
// a stream replicated in a cluster is answered only once its replicas have
// elected a leader, which can take NATS longer, and of several nodes
// creating one stream at once some never get an answer. JetStream answers
// the first call, the gate, at once, also when it knows it has no leader;
// one sent before the cluster formed gets no answer.
const (
	callTimeout = 5 * time.Second
	gateTimeout = 2 * time.Second
)

// provision creates the streams, or updates those that differ from what
// this version wants, and loads the seal.
func (b *JetStream) provision(ctx context.Context) error {
	storage := jetstream.FileStorage
	if b.opts.Memory {
		storage = jetstream.MemoryStorage
	}
	actx, cancel := context.WithTimeout(ctx, gateTimeout)
	_, err := b.js.AccountInfo(actx)
	cancel()
	if err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	streams := []jetstream.StreamConfig{
		// Discard new: capEvents bounds EVENTS' bytes to refuse new events
		// while the store is full, and with discard old a bound removes
		// events already accepted instead.
		{Name: "EVENTS", Subjects: []string{EventsPrefix + ">"}, Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew,
			Description: "accepted events, one subject per event bus; removed once routed"},
		{Name: "DELIVER", Subjects: []string{DeliverPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
			Description: "one queue per consumer; removed once delivered or dead-lettered"},
		{Name: "DLQ", Subjects: []string{DLQPrefix + ">"}, Retention: jetstream.LimitsPolicy, MaxAge: b.opts.DLQMaxAge,
			Description: "dead letters per consumer, kept until replayed or purged"},
	}
	// All at once: in a cluster each new stream waits for its replicas to
	// elect a leader, which can take NATS seconds.
	errs := make([]error, len(streams)+1)
	var wg sync.WaitGroup
	for i, sc := range streams {
		sc.Duplicates = dedupWindows[sc.Name]
		if sc.MaxAge > 0 {
			sc.Duplicates = min(sc.Duplicates, sc.MaxAge) // JetStream's rule
		}
		sc.Storage = storage
		sc.Replicas = b.opts.Replicas
		sc.AllowDirect = true
		wg.Go(func() { errs[i] = b.ensureStream(ctx, sc) })
	}
	if b.seal == nil {
		wg.Go(func() { errs[len(streams)] = b.loadSeal(ctx, storage) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadSeal loads the seal's key, from the file or the bucket.
func (b *JetStream) loadSeal(ctx context.Context, storage jetstream.StorageType) (err error) {
	if b.opts.SealKeyFile != "" {
		b.seal, err = loadSealFile(b.opts.SealKeyFile)
		return err
	}
	b.seal, err = loadSeal(ctx, b.js, storage, b.opts.Replicas)
	if err == nil {
		b.log.Info("bus: the seal of checked envelopes is kept in the key-value bucket " + sealBucket +
			"; keep NATS clients that publish events to events.> with the server's permissions, or they can read it")
	}
	return err
}

// ensureStream creates the stream sc, or updates it if it differs. A
// stream that is as wanted is left alone: in a cluster an update waits for
// every replica, so a restart while a node is down would wait for nothing.
func (b *JetStream) ensureStream(ctx context.Context, sc jetstream.StreamConfig) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s, err := b.js.Stream(cctx, sc.Name)
	switch {
	case err == nil && sameStream(s.CachedInfo().Config, sc):
		return nil
	case err != nil && !errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("bus: stream %s: %w", sc.Name, err)
	}
	if _, err := b.js.CreateOrUpdateStream(cctx, sc); err != nil {
		return fmt.Errorf("bus: provision stream %s: %w", sc.Name, err)
	}
	return nil
}

// sameStream reports whether a stream's config has every setting want sets.
func sameStream(have, want jetstream.StreamConfig) bool {
	return slices.Equal(have.Subjects, want.Subjects) && have.Retention == want.Retention &&
		have.Description == want.Description && have.Duplicates == want.Duplicates &&
		have.Storage == want.Storage && have.Replicas == want.Replicas && have.AllowDirect == want.AllowDirect &&
		have.MaxAge == want.MaxAge && have.Discard == want.Discard
}

// explain adds what Options.Explain says to err.
func (b *JetStream) explain(err error) error {
	if b.opts.Explain == nil {
		return err
	}
	if why := b.opts.Explain(); why != "" {
		return fmt.Errorf("%w (%s)", err, why)
	}
	return err
}

// Seal is the mark of checked envelopes, shared through JetStream.
func (b *JetStream) Seal() *Seal { return b.seal }

// NATS returns the client connection.
func (b *JetStream) NATS() *nats.Conn { return b.nc }

// JetStreamContext exposes the JetStream API (for DLQ inspection).
func (b *JetStream) JetStreamContext() jetstream.JetStream { return b.js }

// health caches what JetStreamOptions.Health says, for healthEvery: it is
// asked before every publish.
type health struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

const healthEvery = 250 * time.Millisecond

// healthy returns what JetStreamOptions.Health says, at most healthEvery
// old unless fresh; nil without one.
func (b *JetStream) healthy(fresh bool) error {
	if b.opts.Health == nil {
		return nil
	}
	h := &b.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); fresh || now.Sub(h.at) >= healthEvery {
		h.at, h.err = now, b.opts.Health()
	}
	return h.err
}

// Ping checks the connection, that JetStream answers, and that the EVENTS
// stream has a leader: in a cluster that lost the majority of its nodes,
// or of the stream's replicas, nothing can be published.
func (b *JetStream) Ping(ctx context.Context) error {
	if b.isClosed() {
		return ErrClosed
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("bus: not connected to NATS (%s)", b.nc.Status())
	}
	if err := b.healthy(false); err != nil {
		return err
	}
	var err error
	if _, err = b.js.AccountInfo(ctx); err != nil {
		err = fmt.Errorf("bus: jetstream: %w", err)
	} else if s, serr := b.js.Stream(ctx, "EVENTS"); serr != nil {
		err = fmt.Errorf("bus: stream EVENTS: %w", serr)
	} else if c := s.CachedInfo().Cluster; c != nil && c.Leader == "" {
		err = errors.New("bus: stream EVENTS has no leader: it needs a majority of its replicas up")
	}
	if err == nil {
		return nil
	}
	// The node may have lost the others while JetStream answered.
	if herr := b.healthy(true); herr != nil {
		return herr
	}
	return b.explain(err)
}

// Publish stores the messages on topic and returns once JetStream has
// acknowledged every one. A message's UUID is its JetStream message id, so
// publishing the same UUID twice within the stream's window (dedupWindows)
// stores it once; a fresh UUID (FreshIDKey) travels in IDHeader instead,
// which JetStream does not remember.
func (b *JetStream) Publish(topic string, msgs ...*message.Message) error {
	var buf [16]Outgoing // a PutEvents batch: no allocation
	return b.PublishAll(appendOutgoing(buf[:0], topic, msgs))
}

// PublishAll is Publish for messages bound to several topics: all are sent
// before any acknowledgement is awaited, so the wait is one round trip.
func (b *JetStream) PublishAll(out []Outgoing) error {
	if b.isClosed() {
		return ErrClosed
	}
	for _, o := range out {
		if _, err := streamFor(o.Topic); err != nil {
			return err
		}
	}
	if err := b.healthy(false); err != nil {
		return err
	}
	if len(out) == 0 {
		return nil // nothing would close w.done
	}
	var buf [16]*nats.Msg // most calls: no allocation
	msgs := buf[:0]
	// Every message counts from the start: the first acknowledgement may
	// come before the last message is sent.
	w := &pubWait{n: len(out), left: len(out), done: make(chan struct{})}
	full := b.room.full()
	for i, o := range out {
		if full && strings.HasPrefix(o.Topic, EventsPrefix) {
			b.pubMu.Lock()
			w.settle(i, i+1, fmt.Errorf("bus: publish to %s: %w: %s", o.Topic, ErrStorageFull, b.room.refusal()))
			b.pubMu.Unlock()
			continue
		}
		// De-duplication is per stream in JetStream; scope the id to the
		// topic so that one id on two topics is two messages, as in memory.
		idHeader := nats.MsgIdHdr
		if o.FreshID {
			idHeader = IDHeader
		}
		om := newOutMsg(o.Topic, o.Payload, len(o.Metadata)/2+1)
		for i := 0; i+1 < len(o.Metadata); i += 2 {
			om.setHeader(o.Metadata[i], o.Metadata[i+1])
		}
		om.setHeader(idHeader, o.Topic+" "+o.UUID)
		nm := &om.Msg
		b.room.add(storedSize(o.Topic, o.Payload, len(om.Header)))
		// Waited for before it is sent: its acknowledgement may come first.
		b.pubMu.Lock()
		b.waiting[nm] = pubPlace{w, i}
		b.pubMu.Unlock()
		msgs = append(msgs, nm)
		if _, err := b.js.PublishMsgAsync(nm); err != nil {
			// This one and the rest are not sent; those before may be
			// stored, and are waited for as usual.
			err = fmt.Errorf("bus: publish to %s: %w", o.Topic, err)
			b.pubMu.Lock()
			delete(b.waiting, nm)
			msgs = msgs[:len(msgs)-1]
			w.settle(i, len(out), err)
			b.pubMu.Unlock()
			break
		}
	}
	timeout := getTimer(b.opts.PublishTimeout)
	defer putTimer(timeout)
	select {
	case <-w.done:
	case <-timeout.C:
	}
	return b.forget(w, msgs)
}

// settle counts messages from to to (not included) as answered, failed
// with err when it is not nil; the caller holds JetStream.pubMu.
func (w *pubWait) settle(from, to int, err error) {
	if err != nil {
		for i := from; i < to; i++ {
			w.fail(i, err)
		}
	}
	if w.left -= to - from; w.left == 0 {
		close(w.done)
	}
}

// answered records the broker's answer to a published message: nil for
// stored, else why not. A message no longer waited for is ignored.
func (b *JetStream) answered(m *nats.Msg, err error) {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	p, ok := b.waiting[m]
	if !ok {
		return
	}
	delete(b.waiting, m)
	if err != nil {
		err = publishError(m.Subject, err)
	}
	p.w.settle(p.i, p.i+1, err)
}

// forget stops waiting for msgs, the messages the PublishAll call w that is
// returning has sent, and says how its publishing went: nil when every
// message is stored, else a *PublishError.
func (b *JetStream) forget(w *pubWait, msgs []*nats.Msg) error {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	for _, nm := range msgs {
		if p, ok := b.waiting[nm]; ok {
			w.fail(p.i, fmt.Errorf("bus: publish to %s: no acknowledgement within %s", nm.Subject, b.opts.PublishTimeout))
			delete(b.waiting, nm)
		}
	}
	if w.errs == nil {
		return nil
	}
	return &PublishError{Errs: w.errs}
}

// outMsg is a message as PublishAll sends it: the NATS message and the
// backing array its header values share, one allocation for both where
// there was one per header and one for the message. Messages of the
// router, ingest and DLQ have at most four headers.
type outMsg struct {
	nats.Msg
	room [4]string
	vals []string
}

func newOutMsg(topic string, payload []byte, headers int) *outMsg {
	om := &outMsg{Msg: nats.Msg{Subject: topic, Data: payload, Header: make(nats.Header, headers)}}
	om.vals = om.room[:0]
	if headers > len(om.room) {
		om.vals = make([]string, 0, headers)
	}
	return om
}

// setHeader is nats.Header.Set. Each value's capacity is its length, so
// that an Add to one header copies instead of overwriting the next one's
// value.
func (om *outMsg) setHeader(k, v string) {
	om.vals = append(om.vals, v)
	n := len(om.vals)
	om.Header[k] = om.vals[n-1 : n : n]
}

// timers holds stopped acknowledgement timers: PublishAll runs on many
// goroutines (HTTP handlers, router workers), and each call needs one
// timer for as long as it waits.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// putTimer stops t and keeps it. Since Go 1.23 a stopped timer's channel
// holds no stale tick, so the next Reset starts clean.
func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}

// IDHeader carries the UUID of a message published with FreshIDKey, in
// the form of its Nats-Msg-Id otherwise ("<topic> <uuid>").
const IDHeader = "Eventrouter-Id"

// fromHeaders copies a stored message's headers into md, except the one
// holding its id, and returns its UUID.
func fromHeaders(h nats.Header, md map[string]string) string {
	id := h.Get(nats.MsgIdHdr)
	if id == "" {
		id = h.Get(IDHeader)
	}
	for k, v := range h {
		if len(v) > 0 && k != nats.MsgIdHdr && k != IDHeader {
			md[k] = v[0]
		}
	}
	_, uuid, _ := strings.Cut(id, " ")
	return uuid
}

// Subscribe is watermill's subscription: durable, named after the topic.
func (b *JetStream) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return b.Consume(ctx, topic, ConsumeOptions{Durable: durableName(topic)})
}

// consumerWait bounds how long createConsumer keeps asking.
const consumerWait = 2 * time.Minute

// createConsumer creates or updates a durable consumer. With Wait (the
// nodes of a cluster), it asks again, for up to consumerWait, while
// JetStream does not answer: when nodes start or reconnect, the streams
// elect their leaders, and until they have, a request about one of their
// consumers times out. A node that found the cluster's JetStream up
// (NewJetStream) must not then exit because one election took longer
// than one request.
func (b *JetStream) createConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	until := time.Now().Add(consumerWait)
	for said := false; ; {
		cons, err := b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
		if err == nil || !b.opts.Wait || !unanswered(err) || ctx.Err() != nil || time.Now().After(until) {
			return cons, err
		}
		if !said {
			b.log.Info("bus: JetStream did not answer for a consumer; asking again while the cluster elects its stream leaders",
				"consumer", cfg.Durable, "stream", stream, "err", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.stop:
			return nil, ErrClosed
		case <-time.After(waitRetryEvery):
		}
	}
}

// unanswered reports whether err is JetStream not answering a request in
// time, or saying it is not available for now.
func unanswered(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == jsClusterNotAvailable
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

// jsClusterNotAvailable is JetStream's "JetStream system temporarily
// unavailable".
const jsClusterNotAvailable = 10008

// Consume delivers the topic's messages through a durable JetStream consumer.
// The channel closes when ctx ends or the bus closes; messages not yet taken
// from it go back to the broker.
func (b *JetStream) Consume(ctx context.Context, topic string, opts ConsumeOptions) (<-chan *message.Message, error) {
	if b.isClosed() {
		return nil, ErrClosed
	}
	stream, err := streamFor(topic)
	if err != nil {
		return nil, err
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.Durable == "" {
		opts.Durable = durableName(topic)
	}
	cons, err := b.createConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       opts.Durable,
		FilterSubject: topic,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       opts.AckWait,
		// JetStream counts a message nacked with a delay as pending until
		// it is delivered again: without room for those, a few failing
		// messages would stop the consumer (ConsumeOptions.MaxInFlight).
		// jsSub.places bounds the messages handed out instead.
		MaxAckPending: opts.MaxInFlight + MaxWaiting,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on %s: %w", opts.Durable, topic, err)
	}
	s := &jsSub{bus: b, out: make(chan *message.Message), done: make(chan struct{}), ctx: ctx, direct: opts.DirectAnswers,
		places: make(chan struct{}, opts.MaxInFlight)}
	cc, err := cons.Consume(s.handle,
		// The client asks for half as many as may be at hand, so that with
		// those handed out, what it holds waits about one attempt, as when
		// the broker bounded them (see MaxAckPending above).
		jetstream.PullMaxMessages(max(1, min(opts.MaxInFlight/2, 512))),
		// A pull that the server lost track of costs its expiry before the
		// client asks again: keep it short (nats.go's default is 30 s).
		jetstream.PullExpiry(5*time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				b.log.Debug("bus: consume", "topic", topic, "err", err)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("bus: consume %s: %w", topic, err)
	}
	s.cc = cc
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cc.Stop()
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		s.stop()
	}()
	return s.out, nil
}

// Close stops every subscription, waits briefly for outstanding answers to
// reach the broker, then closes the connection.
func (b *JetStream) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	subs := make([]*jsSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	waitTimeout(&b.acks, 5*time.Second)
	if b.opts.liftOnClose { // capEvents may be lifting EVENTS' bound
		select {
		case <-b.capDone:
		case <-time.After(callTimeout):
		}
	}
	err := b.nc.FlushTimeout(2 * time.Second)
	b.nc.Close()
	for _, f := range b.onClose {
		f()
	}
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("bus: flush on close: %w", err)
	}
	return nil
}

func (b *JetStream) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// jsSub is one Consume call.
type jsSub struct {
	bus    *JetStream
	cc     jetstream.ConsumeContext
	out    chan *message.Message
	ctx    context.Context
	direct bool // ConsumeOptions.DirectAnswers
	done   chan struct{}
	once   sync.Once
	// places holds a token per message handed out and not yet answered
	// (ConsumeOptions.MaxInFlight).
	places chan struct{}

	mu      sync.RWMutex // handle holds it shared; stop exclusively
	stopped bool
}

// handle hands one JetStream message to the subscriber and answers the
// broker when the handler acks or nacks it.
func (s *jsSub) handle(jm jetstream.Msg) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	md, mdErr := jm.Metadata()
	at := storedAt{}
	if mdErr == nil {
		at = storedAt{md.Stream, md.Sequence.Stream}
	}
	if s.stopped {
		s.handBack(jm, at)
		return
	}
	select {
	case s.places <- struct{}{}:
	case <-s.done:
		s.handBack(jm, at)
		return
	}
	m := message.NewMessage("", jm.Data())
	m.UUID = fromHeaders(jm.Headers(), m.Metadata)
	m.Metadata.Set(TopicKey, jm.Subject())
	var stored time.Time
	if mdErr == nil {
		n := md.NumDelivered
		if hb := s.bus.handBacks(at); hb < n {
			n -= hb
		}
		m.Metadata.Set(DeliveredKey, strconv.FormatUint(n, 10))
		stored = md.Timestamp
		if m.UUID == "" {
			m.UUID = md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
		}
	}
	d := &jsDelivery{s: s, jm: jm, m: m, at: at}
	release := d.bind(m, s.ctx, d, s.direct, stored)
	select {
	case s.out <- m:
	case <-s.done:
		release()
		s.handBack(jm, at)
		<-s.places
		return
	}
	if s.direct {
		return // the subscriber's bus.Ack or bus.Nack answers
	}
	s.bus.acks.Add(1)
	go func() {
		defer s.bus.acks.Done()
		awaitAnswer(m, d, release)
	}()
}

// jsDelivery is one delivered JetStream message and how to answer it; with
// DirectAnswers, also the message's context.
type jsDelivery struct {
	answerCtx
	s  *jsSub
	jm jetstream.Msg
	m  *message.Message
	at storedAt
}

func (d *jsDelivery) answer(ok bool, delay time.Duration) {
	if ok {
		d.s.bus.forgetHandBacks(d.at)
		if d.at.stream == "EVENTS" || d.at.stream == "DELIVER" { // work queues: an ack removes the message
			d.s.bus.room.add(-storedSize(d.jm.Subject(), d.jm.Data(), len(d.jm.Headers())))
		}
	}
	d.s.answer(d.jm, d.m, ok, delay)
}

// storedSize is about what the store counts for a message, for storeUse.
func storedSize(subject string, data []byte, headers int) int {
	return len(subject) + len(data) + 64*headers
}

// storedAt is where a message is stored: its stream and sequence there.
type storedAt struct {
	stream string
	seq    uint64
}

// handBack returns a message the subscriber never saw to the broker,
// which will count its next delivery as one more: the bus keeps the count
// of these (handBacks) so that DeliveredKey counts only the deliveries the
// subscriber got. A consumer restarted by a reload hands back the events
// it held, and would otherwise spend their retries on nothing.
func (s *jsSub) handBack(jm jetstream.Msg, at storedAt) {
	if at.stream != "" {
		s.bus.handBackMu.Lock()
		if s.bus.handedBack == nil {
			s.bus.handedBack = map[storedAt]uint64{}
		}
		s.bus.handedBack[at]++
		s.bus.anyBack.Store(true)
		s.bus.handBackMu.Unlock()
	}
	_ = jm.Nak()
}

// handBacks is how many times the message at at was handed back unseen.
func (b *JetStream) handBacks(at storedAt) uint64 {
	if !b.anyBack.Load() {
		return 0
	}
	b.handBackMu.Lock()
	defer b.handBackMu.Unlock()
	return b.handedBack[at]
}

// forgetHandBacks drops the count of a message once it is acked.
func (b *JetStream) forgetHandBacks(at storedAt) {
	if !b.anyBack.Load() {
		return
	}
	b.handBackMu.Lock()
	defer b.handBackMu.Unlock()
	delete(b.handedBack, at)
	b.anyBack.Store(len(b.handedBack) > 0)
}

// answer tells the broker the outcome of one message and frees its place.
func (s *jsSub) answer(jm jetstream.Msg, m *message.Message, ok bool, delay time.Duration) {
	defer func() { <-s.places }()
	switch {
	case ok:
		if err := jm.Ack(); err != nil {
			s.bus.log.Warn("bus: ack failed; the message will be redelivered", "id", m.UUID, "err", err)
		}
	case delay > 0:
		_ = jm.NakWithDelay(delay)
	default:
		_ = jm.Nak()
	}
}

// stop ends the subscription: no more deliveries, the channel closes.
// Messages already handed out keep their ack channels working.
func (s *jsSub) stop() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.stopped = true
		close(s.out)
		s.mu.Unlock()
		if s.cc != nil {
			// Drain rather than Stop: messages already pulled into the
			// client reach handle, which gives them back at once instead
			// of leaving them to the ack timeout.
			s.cc.Drain()
		}
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
	})
}

// waitTimeout waits for wg, at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
