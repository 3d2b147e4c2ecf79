// Package config reads routerd's configuration: typed structs for every key,
// Load (YAML file, environment overrides, defaults, strict decoding) and
// Validate (every problem at once, each with its key path). It is the only
// package that touches viper, so the rest of the code sees plain structs.
//
// The field comments below are the reference for the config file; the key
// in a field's mapstructure tag is the YAML key. config.example.yaml at the
// repository root is the annotated example, loaded by a test.
//
// Environment: every scalar key can be overridden by EVENTROUTER_ and the
// key path in capitals, '.' and '-' becoming '_' (EVENTROUTER_HTTP_LISTEN,
// EVENTROUTER_CONSUMERS_VIP_ALERTS_CONCURRENCY). A consumer's keys can be
// overridden only for consumers the file defines; lists (rules, schemas,
// credentials) cannot be, except string lists given comma-separated. Empty
// variables are ignored. A problem with a value that a variable set names
// the variable: "http.listen (from EVENTROUTER_HTTP_LISTEN): ...".
//
// Case: keys of the file's own structure are case-insensitive, as viper
// makes them. What users name keeps its case as written: consumer names,
// sink keys and header names, patterns and inline schemas. Two keys of one
// mapping that differ only in case are refused.
//
// Patterns and inline schemas are JSON documents written in YAML, and keep
// every value as written: 2026-01-01 stays the string "2026-01-01" (plain
// YAML would make it a timestamp), 1.50 stays 1.50. A number must be
// spelt as JSON spells it: 01234 (octal 668 to YAML, invalid in JSON),
// 0x1F, 1_000, +5, .5 and .inf are refused with their key path; quote them
// to mean strings.
package config

import (
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// Bus types (bus.type).
const (
	BusNATSEmbedded = "nats-embedded" // a NATS server with JetStream inside routerd
	BusNATS         = "nats"          // an external NATS server or cluster
	BusMemory       = "memory"        // in process, lost on exit: tests and demos only
)

// JetStream sync policies (bus.sync).
const (
	SyncDefault = "default" // fsync every 2 minutes: an ack survives a process crash, not a power cut
	SyncAlways  = "always"  // fsync before every ack: survives a power cut, slower
)

// API scopes (http.auth.*.scopes).
const (
	ScopeIngest = "ingest" // may send events
	ScopeAdmin  = "admin"  // may use the admin endpoints (reload, DLQ)
)

// DefaultAccount is the account stamped on events when none is configured,
// the one EventBridge's local tools use.
const DefaultAccount = "000000000000"

// Config is the whole configuration of routerd.
type Config struct {
	// Account is the 12-digit account id stamped on every event's envelope.
	Account string `mapstructure:"account"`
	// Region is stamped on every event's envelope.
	Region string `mapstructure:"region"`
	// Log is the daemon's own logging.
	Log Log `mapstructure:"log"`
	// HTTP is the ingest, health and metrics listener.
	HTTP HTTP `mapstructure:"http"`
	// Bus is the durable message bus every event travels on.
	Bus Bus `mapstructure:"bus"`
	// Schemas are optional JSON Schemas that an event's detail must satisfy,
	// per source and detail-type.
	Schemas []Schema `mapstructure:"schemas"`
	// Rules route events: each event matching a rule's pattern is delivered
	// to every consumer the rule targets.
	Rules []Rule `mapstructure:"rules"`
	// Consumers are the destinations, by name. Names are case-sensitive and
	// must be valid bus names (letters, digits, - and _): each becomes a
	// durable queue on the bus.
	Consumers map[string]Consumer `mapstructure:"consumers"`

	// Insecure allows an HTTP listener on a non-loopback address without
	// authentication. It comes from routerd's --insecure flag, never from
	// the file, so a copied config cannot silently open the router up.
	Insecure bool `mapstructure:"-"`
	// File is the config file that was read; "" when the built-in defaults
	// were used.
	File string `mapstructure:"-"`
}

// Source names where the config came from, for messages and logs: its
// file, or "built-in defaults".
func (c *Config) Source() string { return sourceName(c.File) }

func sourceName(file string) string {
	if file == "" {
		return "built-in defaults"
	}
	return file
}

// Log configures the daemon's log (log/slog).
type Log struct {
	// Level is the lowest level logged: debug, info (default), warn or error.
	Level string `mapstructure:"level"`
	// Format is text (default, for people) or json (for log shippers).
	Format string `mapstructure:"format"`
}

// HTTP configures the HTTP listener: ingest endpoints, /healthz, /readyz and
// /metrics.
type HTTP struct {
	// Listen is the host:port to serve on (default 127.0.0.1:8080). A
	// non-loopback address needs auth, or routerd's --insecure flag.
	Listen string `mapstructure:"listen"`
	// MetricsListen serves /metrics on a listener of its own (host:port), so
	// Prometheus can reach it without reaching ingest; "" serves it on Listen.
	MetricsListen string `mapstructure:"metrics_listen"`
	// MaxBodyBytes is the largest request body accepted; larger ones get 413
	// (default 10 MiB: ten entries of EventBridge's 1 MiB maximum).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// Auth lists the credentials clients may use; with none, requests are not
	// authenticated and Listen must be a loopback address.
	Auth Auth `mapstructure:"auth"`
	// Throttle limits the request rate; off when rate is 0.
	Throttle Throttle `mapstructure:"throttle"`
	// TLS serves HTTPS when both files are set.
	TLS TLS `mapstructure:"tls"`
	// SNS governs S3 notifications delivered through Amazon SNS HTTP(S)
	// subscriptions to POST /v1/s3.
	SNS SNS `mapstructure:"sns"`
}

// SNS configures how POST /v1/s3 trusts SNS: message signatures and the
// subscription handshake.
type SNS struct {
	// ConfirmHosts lists the hosts whose SubscribeURL routerd visits to
	// confirm a subscription (e.g. sns.us-east-1.amazonaws.com); a
	// SubscriptionConfirmation from any other host is refused. Empty: no
	// subscription is ever confirmed.
	ConfirmHosts []string `mapstructure:"confirm_hosts"`
	// VerifySignatures checks every SNS message's signature against SNS's
	// signing certificate before anything in it is used (default true).
	// Turn it off only when something else proves who sent the message,
	// such as http.auth or a proxy in front: without it, anyone who can
	// reach /v1/s3 can forge notifications.
	VerifySignatures bool `mapstructure:"verify_signatures"`
	// CertHosts are hosts, besides SNS's own (sns.REGION.amazonaws.com,
	// .amazonaws.com.cn, .amazonaws.eu), from which routerd fetches a
	// SigningCertURL (https only): for isolated partitions and private
	// SNS-compatible services. An exact host match, as in confirm_hosts.
	CertHosts []string `mapstructure:"cert_hosts"`
	// Topics, when set, are the topic ARNs whose messages POST /v1/s3
	// takes; a message from any other topic, a subscription confirmation
	// included, is refused. A valid signature proves only that SNS sent a
	// message: anyone can subscribe routerd to a topic of their own.
	Topics []string `mapstructure:"topics"`
}

// Auth lists accepted credentials. Authentication is off when both lists
// are empty.
type Auth struct {
	// APIKeys are bearer tokens (Authorization: Bearer <key>), stored only as
	// their SHA-256 so the config file holds no secret.
	APIKeys []APIKey `mapstructure:"api_keys"`
	// SigV4 are AWS credentials for unmodified AWS SDKs and the AWS CLI,
	// which sign requests with Signature Version 4.
	SigV4 []SigV4Key `mapstructure:"sigv4"`
}

// Enabled reports whether any credential is configured.
func (a Auth) Enabled() bool { return len(a.APIKeys)+len(a.SigV4) > 0 }

// APIKey is one bearer token.
type APIKey struct {
	// Name identifies the client in logs and throttling; unique.
	Name string `mapstructure:"name"`
	// SHA256 is the hex SHA-256 of the key (e.g. `printf %s KEY | sha256sum`).
	SHA256 string `mapstructure:"sha256"`
	// Scopes are what the key may do: ingest, admin.
	Scopes []string `mapstructure:"scopes"`
}

// SigV4Key is one AWS-style credential pair.
type SigV4Key struct {
	// AccessKeyID is what clients send (AWS_ACCESS_KEY_ID); unique.
	AccessKeyID string `mapstructure:"access_key_id"`
	// SecretAccessKey verifies signatures (AWS_SECRET_ACCESS_KEY). SigV4
	// needs the secret itself, so keep this file private, or give it in
	// SecretAccessKeyFile.
	SecretAccessKey string `mapstructure:"secret_access_key"`
	// SecretAccessKeyFile is a file holding SecretAccessKey (a Kubernetes
	// secret, a systemd credential), read at start and on reload, trailing
	// newlines trimmed. Set this or SecretAccessKey, not both.
	SecretAccessKeyFile string `mapstructure:"secret_access_key_file"`
	// Scopes are what the credential may do: ingest, admin.
	Scopes []string `mapstructure:"scopes"`

	secretFrom string // the file SecretAccessKey was read from
}

// Throttle is a token bucket per client (per credential; one global bucket
// when auth is off). Throttled requests get 429 with Retry-After.
type Throttle struct {
	// Rate is the sustained requests per second; 0 turns throttling off.
	Rate float64 `mapstructure:"rate"`
	// Burst is how many requests may arrive at once; at least 1 when Rate
	// is set.
	Burst int `mapstructure:"burst"`
}

// Enabled reports whether throttling is on.
func (t Throttle) Enabled() bool { return t.Rate > 0 }

// TLS holds the certificate for HTTPS.
type TLS struct {
	// CertFile is a PEM certificate (chain).
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `mapstructure:"key_file"`
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Bus configures the message bus under everything.
type Bus struct {
	// Type is nats-embedded (default: a NATS JetStream server inside
	// routerd), nats (an external server or cluster at nats.url) or memory
	// (not durable: tests and demos only).
	Type string `mapstructure:"type"`
	// DataDir is where the embedded server keeps JetStream's files
	// (default ./data).
	DataDir string `mapstructure:"data_dir"`
	// Sync is JetStream's fsync policy. "default" fsyncs every two minutes:
	// an acknowledged event survives a crash of routerd (kill -9) but not a
	// power cut or kernel crash. "always" fsyncs before every ack, so an
	// ack survives those too, at a cost in throughput. Applies to
	// nats-embedded; an external server has its own setting.
	Sync string `mapstructure:"sync"`
	// Replicas is the JetStream replication factor of the streams routerd
	// creates (default 1; 3 in a cluster of three or more nodes).
	Replicas int `mapstructure:"replicas"`
	// DLQMaxAge removes dead letters older than this from every consumer's
	// DLQ (default 0: kept until replayed or purged), as an SQS
	// dead-letter queue's retention period does. Applies to the NATS
	// types; the memory bus keeps nothing across restarts anyway.
	DLQMaxAge time.Duration `mapstructure:"dlq_max_age"`
	// NATS holds the connection or server settings for the NATS types.
	NATS NATS `mapstructure:"nats"`
}

// NATS configures the embedded server (nats-embedded) or the connection to
// an external one (nats).
type NATS struct {
	// Listen is where the embedded server accepts clients, host:port
	// (default 127.0.0.1:4222); "" opens no client port, leaving the server
	// to routerd alone. Clients may publish events to events.<bus> there,
	// so a non-loopback address needs Token or User, or routerd's
	// --insecure flag.
	Listen string `mapstructure:"listen"`
	// URL is the external server for type nats, e.g. nats://host:4222;
	// several may be given separated by commas.
	URL string `mapstructure:"url"`
	// Token is a shared secret: clients of the embedded server must present
	// it, and routerd presents it to an external server.
	Token string `mapstructure:"token"`
	// TokenFile is a file holding Token (a Kubernetes secret, a systemd
	// credential), trailing newlines trimmed. Set this or Token, not both.
	TokenFile string `mapstructure:"token_file"`
	// User is a user name, with Password; an alternative to Token.
	User string `mapstructure:"user"`
	// Password is User's password.
	Password string `mapstructure:"password"`
	// PasswordFile is a file holding Password, as TokenFile holds Token.
	PasswordFile string `mapstructure:"password_file"`
	// Cluster joins embedded servers of several routerd nodes into one NATS
	// cluster, so they share durable consumers.
	Cluster Cluster `mapstructure:"cluster"`
	// MaxStore bounds what the embedded server's JetStream stores under
	// data_dir: a size such as 10GB or 512MB (units of 1024, as NATS reads
	// them) or a number of bytes, at least 1MB. Past it, ingest answers 503
	// and the router waits for room; consumers keep delivering, which makes
	// room. 0 (default): half the space free for data_dir at start,
	// counting what the store holds already (bus.DefaultMaxStore says why
	// half). For nats-embedded only: an external server has its own
	// max_file_store.
	MaxStore ByteSize `mapstructure:"max_store"`
	// MinFreeDisk is the free space the disk of data_dir keeps: below it,
	// ingest answers 503 as when the store holds 90% of max_store, since
	// other programs may fill the disk after max_store was set, and a full
	// disk makes JetStream lose acknowledgements and then refuse to start.
	// A size as for MaxStore; 0 turns the guard off. Left out
	// (DefaultMinFreeDisk): 1GB, or 5% of the disk when that is less
	// (bus.DefaultMinFreeDisk says why). For nats-embedded only.
	MinFreeDisk ByteSize `mapstructure:"min_free_disk"`

	tokenFrom, passwordFrom string // the files Token and Password were read from
}

// DefaultMinFreeDisk stands for bus.nats.min_free_disk left out: the
// default depends on the disk, known only at start.
const DefaultMinFreeDisk ByteSize = -1

// ByteSize is a size in bytes, written as a number of bytes or with a unit
// of 1024: 512KB, 10GB (also 10G, 10GiB).
type ByteSize int64

// MinMaxStore is the smallest bus.nats.max_store: one event of the
// largest size, with its deliveries, must fit.
const MinMaxStore = 1 << 20

// Cluster configures clustering of the embedded NATS server.
type Cluster struct {
	// Name is the cluster's name, the same on every node.
	Name string `mapstructure:"name"`
	// Listen is where this node accepts routes from the others, host:port
	// (6222 by convention).
	Listen string `mapstructure:"listen"`
	// Routes are the other nodes' cluster addresses,
	// e.g. nats-route://node2:6222, without credentials: routerd adds
	// Password to each.
	Routes []string `mapstructure:"routes"`
	// Password is the secret the nodes prove to each other, the same on
	// every node: a node accepts a route only from one that presents it.
	// Without it, whoever reaches Listen joins the cluster and reads every
	// stream, so a Listen that is not a loopback address needs it, or
	// routerd's --insecure flag. Set it from the environment
	// (EVENTROUTER_BUS_NATS_CLUSTER_PASSWORD), or give it in PasswordFile,
	// to keep it out of the file.
	Password string `mapstructure:"password"`
	// PasswordFile is a file holding Password (a Kubernetes secret, a
	// systemd credential), read at start and on reload, trailing newlines
	// trimmed. Set this or Password, not both.
	PasswordFile string `mapstructure:"password_file"`
	// TLS makes every route mutual TLS when set: each node proves itself
	// with its certificate, so the others know it is one of theirs whichever
	// end dials (a password is checked only by the end that accepts). A
	// reload reads its files again, for the routes made from then on;
	// turning it on or off needs a restart. Routes and Password change on
	// reload too; Name, Listen and ServerName need a restart.
	TLS ClusterTLS `mapstructure:"tls"`
	// ServerName is this node's name in the cluster, its own and the same
	// at every start (JetStream knows its peers by name). Default: the one
	// kept in data_dir/server_name, made at the first start from the host
	// name and the cluster port.
	ServerName string `mapstructure:"server_name"`

	passwordFrom string // the file Password was read from
}

// ClusterTLS holds a node's certificate and the CA of the cluster's.
type ClusterTLS struct {
	// CertFile is this node's PEM certificate (chain), for a server and a
	// client both (routes go either way): its names must include the host
	// the other nodes' routes give for it.
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `mapstructure:"key_file"`
	// CAFile holds the PEM CA certificates that sign the nodes'
	// certificates; a node whose certificate none of them signed is
	// refused.
	CAFile string `mapstructure:"ca_file"`
}

// Enabled reports whether cluster TLS is configured.
func (t ClusterTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// Enabled reports whether clustering is configured.
func (c Cluster) Enabled() bool { return c.Name != "" || c.Listen != "" || len(c.Routes) > 0 }

// Schema attaches a JSON Schema to events of one source and detail-type;
// events whose detail does not satisfy it are refused at ingest.
type Schema struct {
	// Source is the events' source, e.g. orders.service.
	Source string `mapstructure:"source"`
	// DetailType is the events' detail-type, e.g. OrderCreated.
	DetailType string `mapstructure:"detail-type"`
	// SchemaFile is a JSON Schema file; a relative path is relative to the
	// config file's directory, so a config and its schemas move together.
	// It may $ref other local files. Set this or Schema, not both.
	SchemaFile string `mapstructure:"schema_file"`
	// Schema is the JSON Schema inline: a YAML/JSON object, or a string
	// holding JSON, read as Pattern is. Set this or SchemaFile, not both.
	Schema any `mapstructure:"schema"`
}

// InlineJSON returns the inline schema as JSON, or nil when the schema is in
// SchemaFile. A string is the JSON itself, as for Rule.PatternJSON.
func (s *Schema) InlineJSON() ([]byte, error) {
	switch v := s.Schema.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	}
	return toJSON(s.Schema)
}

// Rule routes the events that match its pattern to its targets.
type Rule struct {
	// Name identifies the rule in metrics, logs and the X-Eventrouter-Rule
	// header: letters, digits, '.', '-' and '_', unique.
	Name string `mapstructure:"name"`
	// Bus is the event bus the rule listens on (default "default").
	Bus string `mapstructure:"bus"`
	// Pattern is an EventBridge event pattern: a YAML/JSON object, or a
	// string holding JSON. See rules/PATTERNS.md. Read as JSON reads what
	// is written (see the package doc): a date stays a string, 01234 is
	// refused.
	Pattern any `mapstructure:"pattern"`
	// Targets are the consumers a matching event is delivered to. Like
	// every list of names, it may also be written as one comma-separated
	// string (targets: inventory), the form environment variables use.
	Targets []string `mapstructure:"targets"`

	// Compiled is Pattern compiled, set by Validate, so the router does not
	// compile it again.
	Compiled *rules.Pattern `mapstructure:"-"`
}

// PatternJSON returns the pattern as JSON, as rules.Compile takes it.
func (r *Rule) PatternJSON() ([]byte, error) {
	if s, ok := r.Pattern.(string); ok {
		return []byte(s), nil
	}
	return toJSON(r.Pattern)
}

// Consumer is one destination: a durable queue on the bus, workers, retries
// and a dead-letter queue around a sink.
type Consumer struct {
	// Sink is where events are delivered.
	Sink Sink `mapstructure:"sink"`
	// Retry is the retry policy for failed deliveries.
	Retry Retry `mapstructure:"retry"`
	// Concurrency is how many deliveries may be in flight at once
	// (default 16).
	Concurrency int `mapstructure:"concurrency"`
	// Timeout bounds one delivery attempt; 0 (default) is 1s beyond the sink's
	// timeout key when it has one, else 5s (consumers.Policy.Timeout).
	Timeout time.Duration `mapstructure:"timeout"`
	// DLQ keeps events whose retries are exhausted on the consumer's
	// dead-letter queue (default true); false drops them, with a log line
	// and a metric.
	DLQ bool `mapstructure:"dlq"`
	// MaxBacklog bounds the events waiting in the consumer's queue (new,
	// in flight, or waiting for a retry). Past it, the router puts the
	// consumer's new events in its dead-letter queue at once (reason
	// max_backlog), so that a consumer down for long keeps a bounded
	// queue of its oldest events and its overflow waits, untried, to be
	// replayed or purged. The bound is checked against a count taken every
	// second: the queue may pass it by what is routed meanwhile. 0
	// (default): no bound but the bus's storage (bus.nats.max_store).
	// Needs dlq: true.
	MaxBacklog int `mapstructure:"max_backlog"`
}

// Sink is a consumer's transport: its type and the type's own keys.
type Sink struct {
	// Type is the sink type: http, file, nats or log.
	Type string `mapstructure:"type"`
	// Spec holds the other keys (url, path, headers, ...) as written, for
	// the sink package to decode strictly. Key case is preserved.
	Spec map[string]any `mapstructure:",remain"`
}

// Retry is a consumer's retry policy: exponential backoff with jitter,
// until MaxAttempts or MaxEventAge, whichever comes first.
type Retry struct {
	// MaxAttempts counts every try, the first included (default 185, as
	// EventBridge).
	MaxAttempts int `mapstructure:"max_attempts"`
	// MaxEventAge is how long after ingest an event may still be tried
	// (default 24h, as EventBridge).
	MaxEventAge time.Duration `mapstructure:"max_event_age"`
	// InitialBackoff is the wait before the first retry (default 1s); it
	// doubles with each retry.
	InitialBackoff time.Duration `mapstructure:"initial_backoff"`
	// MaxBackoff caps the wait between retries (default 5m).
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
}

// Defaults returns the configuration used when there is no config file:
// embedded NATS, HTTP on loopback, no rules.
func Defaults() *Config {
	return &Config{
		Account: DefaultAccount,
		Region:  "local",
		Log:     Log{Level: "info", Format: "text"},
		HTTP: HTTP{
			Listen:       "127.0.0.1:8080",
			MaxBodyBytes: 10 << 20,
			SNS:          SNS{VerifySignatures: true},
		},
		Bus: Bus{
			Type:     BusNATSEmbedded,
			DataDir:  "./data",
			Sync:     SyncDefault,
			Replicas: 1,
			NATS:     NATS{Listen: "127.0.0.1:4222", MinFreeDisk: DefaultMinFreeDisk},
		},
	}
}

// DefaultConsumer returns the settings a consumer gets for the keys it
// leaves out (its sink has no default).
func DefaultConsumer() Consumer {
	return Consumer{
		Retry: Retry{
			MaxAttempts:    185,
			MaxEventAge:    24 * time.Hour,
			InitialBackoff: time.Second,
			MaxBackoff:     5 * time.Minute,
		},
		Concurrency: 16,
		DLQ:         true,
	}
}
