package config

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/rules"
)

// Error is one problem with a config, at the key path where it was found.
type Error struct {
	// Path is the key path, e.g. "rules[1].pattern" or
	// "consumers.vip-alerts.retry.max_attempts"; "" for the file as a whole.
	Path string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error when there is one, e.g. a *rules.Error.
	Err error
	// Env is the environment variable that set the value at Path, if one
	// did: the file does not hold the value the reason is about.
	Env string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return keyFrom(e.Path, e.Env) + ": " + e.Reason
}

// keyFrom names the key at path as problems do: with the environment
// variable env that set it, when one did.
func keyFrom(path, env string) string {
	if env != "" {
		return path + " (from " + env + ")"
	}
	return path
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in a config, one per line in Error. Load
// and Validate return one; errors.As gets it back out of Load's error.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.Is and errors.As access to each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// problems collects Errors during validation.
type problems struct{ Errors }

func (p *problems) add(path, format string, args ...any) {
	p.Errors = append(p.Errors, &Error{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func (p *problems) wrap(path string, err error) {
	p.Errors = append(p.Errors, &Error{Path: path, Reason: err.Error(), Err: err})
}

// Check is a part of validation that another package owns: the settings
// of a sink type, the compiling of a schema. It gets the config even when
// the config's own checks found problems, and may return problems at any
// key path.
type Check func(*Config) Errors

// Validate checks the whole config without starting anything and returns
// every problem, each prefixed with its key path, as Errors (nil when there
// is none), in the order of the file's sections and entries. It compiles
// each rule's pattern into Rule.Compiled.
//
// The checks run after the config's own; a problem they find where the
// config's own checks found one already (the same key path, or one inside
// the other: consumers.c.sink and consumers.c.sink.type) is left out, as
// it would only say again that the entry is malformed.
func (c *Config) Validate(checks ...Check) error {
	var p problems
	c.readSecrets(&p)
	c.validateTop(&p)
	c.validateHTTP(&p)
	c.validateBus(&p)
	c.validateSchemas(&p)
	c.validateRules(&p)
	c.validateConsumers(&p)
	own := len(p.Errors)
	for _, check := range checks {
		for _, e := range check(c) {
			if !slices.ContainsFunc(p.Errors[:own], func(o *Error) bool { return overlaps(o.Path, e.Path) }) {
				p.Errors = append(p.Errors, e)
			}
		}
	}
	if len(p.Errors) == 0 {
		return nil
	}
	sortProblems(p.Errors)
	return p.Errors
}

// overlaps reports whether key paths a and b are the same or one lies
// inside the other.
func overlaps(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return strings.HasPrefix(b, a) && (len(a) == len(b) || a == "" || b[len(a)] == '.' || b[len(a)] == '[')
}

// sortProblems orders problems as a config file is laid out: by section in
// Config's field order, then by entry of a list (index) or a map (key).
// Problems of one entry keep the order they were found in.
func sortProblems(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		pa, pb := placeOf(a.Path), placeOf(b.Path)
		return cmp.Or(cmp.Compare(pa.section, pb.section), cmp.Compare(pa.index, pb.index), strings.Compare(pa.key, pb.key))
	})
}

// place is where a key path points in the file: its section, and for a
// list or map section, the entry.
type place struct {
	section int // Config's field index; -1 for the file as a whole
	index   int // a list section's entry
	key     string
}

func placeOf(path string) place {
	if path == "" {
		return place{section: -1}
	}
	top := path[:strings.IndexAny(path+".", ".[")]
	rest := path[len(top):]
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, _ := keyName(t.Field(i)); name != top {
			continue
		}
		p := place{section: i}
		switch t.Field(i).Type.Kind() {
		case reflect.Slice:
			fmt.Sscanf(rest, "[%d]", &p.index)
		case reflect.Map:
			if key, ok := strings.CutPrefix(rest, "."); ok {
				p.key = key[:strings.IndexAny(key+".", ".[")]
			}
		}
		return p
	}
	return place{section: t.NumField()}
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

func (c *Config) validateTop(p *problems) {
	if !accountRE.MatchString(c.Account) {
		p.add("account", "%q is not a 12-digit account id (quote it in YAML, or leading zeros are lost)", c.Account)
	}
	if strings.TrimSpace(c.Region) == "" {
		p.add("region", "must not be empty")
	}
	oneOf(p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(p, "log.format", c.Log.Format, "json", "text")
}

func oneOf(p *problems, path, v string, allowed ...string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	p.add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return false
}

func (c *Config) validateHTTP(p *problems) {
	checkHosts(p, "http.sns.confirm_hosts", c.HTTP.SNS.ConfirmHosts)
	checkHosts(p, "http.sns.cert_hosts", c.HTTP.SNS.CertHosts)
	for i, arn := range c.HTTP.SNS.Topics {
		if !snsTopicARN.MatchString(arn) {
			p.add(fmt.Sprintf("http.sns.topics[%d]", i), "%q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", arn)
		}
	}
	h := &c.HTTP
	host, ok := checkListen(p, "http.listen", h.Listen)
	if ok && !isLoopback(host) && !h.Auth.Enabled() && !c.Insecure {
		p.add("http.listen", "%s is not a loopback address and http.auth is not configured, so anyone who can reach it could send events (configure http.auth, or start routerd with --insecure)", h.Listen)
	}
	if h.MetricsListen != "" {
		checkListen(p, "http.metrics_listen", h.MetricsListen)
		if h.MetricsListen == h.Listen {
			p.add("http.metrics_listen", "is the same as http.listen; leave it empty to serve /metrics there")
		}
	}
	if h.MaxBodyBytes < 1 {
		p.add("http.max_body_bytes", "must be at least 1, got %d", h.MaxBodyBytes)
	}

	names := map[string]bool{}
	hashes := map[string]bool{}
	for i, k := range h.Auth.APIKeys {
		path := fmt.Sprintf("http.auth.api_keys[%d]", i)
		switch {
		case k.Name == "":
			p.add(path+".name", "is required")
		case names[k.Name]:
			p.add(path+".name", "%q is used by another key", k.Name)
		}
		names[k.Name] = true
		sum := strings.ToLower(k.SHA256)
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
			p.add(path+".sha256", "must be 64 hex digits, the SHA-256 of the key (printf %%s KEY | sha256sum)")
		} else if hashes[sum] {
			p.add(path+".sha256", "the same key is configured twice")
		}
		hashes[sum] = true
		checkScopes(p, path+".scopes", k.Scopes)
	}
	ids := map[string]bool{}
	for i, k := range h.Auth.SigV4 {
		path := fmt.Sprintf("http.auth.sigv4[%d]", i)
		switch {
		case k.AccessKeyID == "":
			p.add(path+".access_key_id", "is required")
		case ids[k.AccessKeyID]:
			p.add(path+".access_key_id", "%q is used by another credential", k.AccessKeyID)
		}
		ids[k.AccessKeyID] = true
		if k.SecretAccessKey == "" && k.SecretAccessKeyFile == "" { // a file that gave none is reported as such
			p.add(path+".secret_access_key", "is required")
		}
		checkScopes(p, path+".scopes", k.Scopes)
	}

	if t := h.Throttle; t.Rate < 0 {
		p.add("http.throttle.rate", "must not be negative")
	} else if t.Rate > 0 && t.Burst < 1 {
		p.add("http.throttle.burst", "must be at least 1 when http.throttle.rate is set")
	}
	if t := h.TLS; t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		p.add("http.tls", "cert_file and key_file must be set together")
	}
}

// snsTopicARN is the shape of an SNS topic's ARN in any partition; a topic
// name is 1 to 256 letters, digits, hyphens and underscores (a FIFO topic's
// ends in .fifo).
var snsTopicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

// checkHosts checks a list of host names that routerd matches exactly:
// no scheme, port or path, which would never match.
func checkHosts(p *problems, path string, hosts []string) {
	for i, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/: ") {
			p.add(fmt.Sprintf("%s[%d]", path, i), "%q is not a host name (e.g. sns.us-east-1.amazonaws.com)", h)
		}
	}
}

func checkScopes(p *problems, path string, scopes []string) {
	if len(scopes) == 0 {
		p.add(path, "at least one scope is required (%s, %s)", ScopeIngest, ScopeAdmin)
	}
	for i, s := range scopes {
		oneOf(p, fmt.Sprintf("%s[%d]", path, i), s, ScopeIngest, ScopeAdmin)
	}
}

// checkListen checks a host:port listen address and returns its host.
func checkListen(p *problems, path, addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "%q is not a host:port address (e.g. 127.0.0.1:8080, :8080)", addr)
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(path, "%q: port must be a number from 0 to 65535", addr)
		return "", false
	}
	return host, true
}

// isLoopback reports whether a listen host accepts only local connections.
// An empty host listens on every interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateBus(p *problems) {
	b := &c.Bus
	if !oneOf(p, "bus.type", b.Type, BusNATSEmbedded, BusNATS, BusMemory) {
		return
	}
	oneOf(p, "bus.sync", b.Sync, SyncDefault, SyncAlways)
	if b.Replicas < 1 || b.Replicas > 5 {
		p.add("bus.replicas", "must be from 1 to 5 (JetStream's limit), got %d", b.Replicas)
	}
	if b.DLQMaxAge != 0 && b.DLQMaxAge < time.Minute {
		p.add("bus.dlq_max_age", "must be at least 1m (0: dead letters are kept until replayed or purged), got %v", b.DLQMaxAge)
	}
	n := &b.NATS
	if n.Token != "" && (n.User != "" || n.Password != "") {
		p.add("bus.nats", "set token or user and password, not both")
	}
	// A password_file that gave no password is reported as such.
	if (n.User == "") != (n.Password == "") && (n.Password != "" || n.PasswordFile == "") {
		p.add("bus.nats", "user and password must be set together")
	}
	switch b.Type {
	case BusNATSEmbedded:
		if strings.TrimSpace(b.DataDir) == "" {
			p.add("bus.data_dir", "is required for bus type %s", BusNATSEmbedded)
		}
		if n.MaxStore != 0 && n.MaxStore < MinMaxStore {
			p.add("bus.nats.max_store", "must be at least 1MB, got %d bytes (leave it out for half the free space of data_dir)", n.MaxStore)
		}
		if n.MinFreeDisk < 0 && n.MinFreeDisk != DefaultMinFreeDisk {
			p.add("bus.nats.min_free_disk", "must not be negative, got %d bytes (0 turns the guard off; leave it out for 1GB or 5%% of the disk, whichever is less)", n.MinFreeDisk)
		}
		if n.Listen == "" { // no client port: only routerd itself uses the server
			if n.Cluster.Enabled() {
				// NATS opens the cluster port only once the client port is
				// open: without one the server never starts.
				p.add("bus.nats.listen", "is required in a cluster (bus.nats.cluster): the embedded server opens its cluster port only after its client port; e.g. 127.0.0.1:4222")
			}
			c.validateCluster(p)
			break
		}
		host, ok := checkListen(p, "bus.nats.listen", n.Listen)
		if ok && !isLoopback(host) && n.Token == "" && n.User == "" && !c.Insecure {
			p.add("bus.nats.listen", "%s is not a loopback address and bus.nats has no token or user, so anyone who can reach it could publish events (set a token, or start routerd with --insecure)", n.Listen)
		}
		c.validateCluster(p)
	case BusNATS:
		if n.URL == "" {
			p.add("bus.nats.url", "is required for bus type %s (e.g. nats://127.0.0.1:4222)", BusNATS)
		}
		for u := range strings.SplitSeq(n.URL, ",") {
			if n.URL != "" {
				checkURL(p, "bus.nats.url", strings.TrimSpace(u), "nats", "tls", "ws", "wss")
			}
		}
		if n.Cluster.Enabled() || n.Cluster.Password != "" || n.Cluster.TLS.Enabled() {
			p.add("bus.nats.cluster", "applies to bus type %s only; an external server is clustered in its own config", BusNATSEmbedded)
		}

	case BusMemory:
		if b.Replicas > 1 {
			p.add("bus.replicas", "the memory bus has no replicas")
		}
	}
	if b.Type != BusNATSEmbedded {
		// Why the store's settings do not apply.
		store, disk := "an external NATS server bounds its storage in its own config (jetstream max_file_store)",
			"routerd watches the disk of its own data_dir, not an external server's"
		if b.Type == BusMemory {
			store, disk = "the memory bus keeps no store on disk", "the memory bus keeps no store on disk"
		}
		if n.MaxStore != 0 {
			p.add("bus.nats.max_store", "applies to bus type %s only; %s", BusNATSEmbedded, store)
		}
		if n.MinFreeDisk != DefaultMinFreeDisk {
			p.add("bus.nats.min_free_disk", "applies to bus type %s only; %s", BusNATSEmbedded, disk)
		}
	}
}

func (c *Config) validateCluster(p *problems) {
	cl := &c.Bus.NATS.Cluster
	if !cl.Enabled() {
		if c.Bus.Replicas > 1 {
			p.add("bus.replicas", "%d replicas need a cluster of at least as many nodes (bus.nats.cluster)", c.Bus.Replicas)
		}
		if cl.ServerName != "" {
			p.add("bus.nats.cluster.server_name", "names a node of a cluster: set bus.nats.cluster's name, listen and routes too")
		}
		if cl.Password != "" {
			p.add("bus.nats.cluster.password", "is a cluster's secret: set bus.nats.cluster's name, listen and routes too")
		}
		if cl.TLS.Enabled() {
			p.add("bus.nats.cluster.tls", "secures a cluster's routes: set bus.nats.cluster's name, listen and routes too")
		}
		return
	}
	if !event.ValidName(cl.Name) {
		p.add("bus.nats.cluster.name", "%q is not a valid cluster name (letters, digits, - and _)", cl.Name)
	}
	if cl.ServerName != "" && !bus.ValidServerName(cl.ServerName) {
		p.add("bus.nats.cluster.server_name", "%q is not a valid server name (letters, digits, '.', - and _, at most 64)", cl.ServerName)
	}
	host, ok := checkListen(p, "bus.nats.cluster.listen", cl.Listen)
	if ok && !isLoopback(host) && cl.Password == "" && !cl.TLS.Enabled() && !c.Insecure {
		p.add("bus.nats.cluster.listen", "%s is not a loopback address and neither bus.nats.cluster.password nor tls is set, so anyone who can reach it could join the cluster and read every stream (set the password, or tls, on every node, or start routerd with --insecure)", cl.Listen)
	}
	if t := cl.TLS; t.Enabled() && (t.CertFile == "" || t.KeyFile == "" || t.CAFile == "") {
		p.add("bus.nats.cluster.tls", "cert_file, key_file and ca_file must be set together (without ca_file, any certificate of a public CA would join)")
	}
	if strings.HasPrefix(cl.Password, "$") {
		// NATS would take it for a bcrypt hash and compare the others'
		// password to it as one.
		p.add("bus.nats.cluster.password", "must not start with '$'")
	}
	for i, r := range cl.Routes {
		path := fmt.Sprintf("bus.nats.cluster.routes[%d]", i)
		checkURL(p, path, r, "nats-route", "nats", "tls")
		if u, err := url.Parse(r); err == nil && u.User != nil {
			p.add(path, "must not hold credentials: set bus.nats.cluster.password, which routerd adds to every route")
		}
	}
}

func checkURL(p *problems, path, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		p.add(path, "%q is not a URL like %s://host:port", raw, schemes[0])
		return
	}
	if !slices.Contains(schemes, u.Scheme) {
		p.add(path, "%q: scheme must be one of %s", raw, strings.Join(schemes, ", "))
	}
}

func (c *Config) validateSchemas(p *problems) {
	seen := map[[2]string]int{}
	for i, s := range c.Schemas {
		path := fmt.Sprintf("schemas[%d]", i)
		if s.Source == "" {
			p.add(path+".source", "is required")
		}
		if s.DetailType == "" {
			p.add(path+".detail-type", "is required")
		}
		key := [2]string{s.Source, s.DetailType}
		if j, dup := seen[key]; dup && s.Source != "" && s.DetailType != "" {
			p.add(path, "schemas[%d] already has a schema for source %q and detail-type %q", j, s.Source, s.DetailType)
		} else {
			seen[key] = i
		}
		switch {
		case s.SchemaFile == "" && s.Schema == nil:
			p.add(path, "set schema_file or schema")
		case s.SchemaFile != "" && s.Schema != nil:
			p.add(path, "set schema_file or schema, not both")
		case s.Schema != nil:
			checkObject(p, path+".schema", s.Schema)
		}
	}
}

// checkObject checks that an inline pattern or schema is an object, or a
// string holding a JSON object.
func checkObject(p *problems, path string, v any) {
	switch v := v.(type) {
	case map[string]any:
	case string:
		var doc any
		if err := json.Unmarshal([]byte(v), &doc); err != nil {
			p.add(path, "is not valid JSON: %v", err)
		} else if _, ok := doc.(map[string]any); !ok {
			p.add(path, "must be an object, or a string holding a JSON object, not %s", describeValue(doc))
		}
	default:
		p.add(path, "must be an object, or a string holding a JSON object, not %s", describeValue(v))
	}
}

// ruleNameRE is EventBridge's rule name syntax.
var ruleNameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

func (c *Config) validateRules(p *problems) {
	names := map[string]int{}
	for i := range c.Rules {
		r := &c.Rules[i]
		path := fmt.Sprintf("rules[%d]", i)
		switch j, dup := names[r.Name]; {
		case r.Name == "":
			p.add(path+".name", "is required")
		case !ruleNameRE.MatchString(r.Name):
			p.add(path+".name", "%q is not a valid rule name (up to 64 letters, digits, '.', '-' and '_')", r.Name)
		case dup:
			p.add(path+".name", "%q is already the name of rules[%d]", r.Name, j)
		default:
			names[r.Name] = i
		}
		if !event.ValidName(r.Bus) {
			p.add(path+".bus", "%q is not a valid bus name (letters, digits, - and _)", r.Bus)
		}
		r.Compiled = nil
		switch r.Pattern.(type) {
		case nil:
			p.add(path+".pattern", "is required")
		case map[string]any, string:
			if js, err := r.PatternJSON(); err != nil {
				p.add(path+".pattern", "cannot be written as JSON: %v", err)
			} else if cp, err := rules.Compile(js); err != nil {
				p.wrap(path+".pattern", err)
			} else {
				r.Compiled = cp
			}
		default:
			p.add(path+".pattern", "must be an object, or a string holding a JSON object, not %s", describeValue(r.Pattern))
		}
		if len(r.Targets) == 0 {
			p.add(path+".targets", "at least one consumer is required")
		}
		seen := map[string]bool{}
		for j, t := range r.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", path, j)
			switch _, ok := c.Consumers[t]; {
			case seen[t]:
				p.add(tp, "consumer %q is listed twice", t)
			case !ok:
				p.add(tp, "consumer %q is not defined%s", t, c.consumerHint(t))
			}
			seen[t] = true
		}
	}
}

// consumerHint suggests a defined consumer for a target that names none.
func (c *Config) consumerHint(name string) string {
	names := make([]string, 0, len(c.Consumers))
	for n := range c.Consumers {
		names = append(names, n)
	}
	slices.Sort(names)
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	if len(names) == 0 {
		return " (consumers is empty)"
	}
	return " (defined: " + strings.Join(names, ", ") + ")"
}

func (c *Config) validateConsumers(p *problems) {
	names := make([]string, 0, len(c.Consumers))
	for n := range c.Consumers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		cs := c.Consumers[name]
		path := "consumers." + name
		if !event.ValidName(name) {
			p.add(path, "%q is not a valid consumer name (up to 64 letters, digits, - and _)", name)
		}
		if strings.TrimSpace(cs.Sink.Type) == "" {
			p.add(path+".sink.type", "is required (http, file, nats, log)")
		}
		r := cs.Retry
		if r.MaxAttempts < 1 {
			p.add(path+".retry.max_attempts", "must be at least 1, got %d", r.MaxAttempts)
		}
		if r.MaxEventAge <= 0 {
			p.add(path+".retry.max_event_age", "must be positive, got %s", r.MaxEventAge)
		}
		if r.InitialBackoff <= 0 {
			p.add(path+".retry.initial_backoff", "must be positive, got %s", r.InitialBackoff)
		}
		if r.MaxBackoff < r.InitialBackoff {
			p.add(path+".retry.max_backoff", "%s is less than initial_backoff %s", r.MaxBackoff, r.InitialBackoff)
		}
		if cs.Concurrency < 1 {
			p.add(path+".concurrency", "must be at least 1, got %d", cs.Concurrency)
		}
		if cs.Timeout < 0 {
			p.add(path+".timeout", "must not be negative")
		}
		switch {
		case cs.MaxBacklog < 0:
			p.add(path+".max_backlog", "must not be negative (0: no bound), got %d", cs.MaxBacklog)
		case cs.MaxBacklog > 0 && !cs.DLQ:
			p.add(path+".max_backlog", "needs dlq: true: the events past the bound go to the dead-letter queue")
		}
	}
}
