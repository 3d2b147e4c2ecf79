package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// DefaultFile is the config file Load reads when given no path, if it
// exists in the working directory.
const DefaultFile = "config.yaml"

// EnvPrefix starts the environment variables that override config keys:
// http.listen is EVENTROUTER_HTTP_LISTEN, consumers.vip-alerts.concurrency
// is EVENTROUTER_CONSUMERS_VIP_ALERTS_CONCURRENCY ('.' and '-' become '_').
const EnvPrefix = "EVENTROUTER"

// keyDelim separates key levels inside viper. Not '.', so that keys which
// contain dots (header names, say) are not split into levels.
const keyDelim = "::"

// Option is a setting of Load that comes from its caller rather than the
// file: a command-line flag, a check owned by another package.
type Option func(*loadOptions)

type loadOptions struct {
	insecure bool
	checks   []Check
}

// WithInsecure sets Config.Insecure (routerd's --insecure flag).
func WithInsecure(insecure bool) Option {
	return func(o *loadOptions) { o.insecure = insecure }
}

// WithCheck adds a check to the validation, as Validate takes it.
func WithCheck(check Check) Option {
	return func(o *loadOptions) { o.checks = append(o.checks, check) }
}

// Load reads the config file at path, applies the environment overrides and
// defaults, then the options, and validates the result. With path "" it
// reads DefaultFile if that exists and otherwise uses the built-in
// defaults. Unknown keys are errors. A config that fails has every problem
// reported at once, as an Errors inside the returned error, after the
// file's name.
func Load(path string, opts ...Option) (*Config, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	name, data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := parse(data, name != "")
	if err != nil {
		return nil, fileError(name, noteEnv(err))
	}
	c.File, c.Insecure = name, o.insecure
	if err := c.Validate(o.checks...); err != nil {
		return nil, fileError(name, noteEnv(err))
	}
	return c, nil
}

// noteEnv sets Error.Env on each problem at a key that an environment
// variable set, and returns err.
func noteEnv(err error) error {
	var es Errors
	if !errors.As(err, &es) {
		return err
	}
	for _, e := range es {
		if name := envSetting(e.Path); name != "" {
			e.Env = name
		}
	}
	return err
}

// envSetting is the environment variable that set the key at path, or ""
// when none did (viper ignores empty ones).
func envSetting(path string) string {
	if name := envVar(path); name != "" && os.Getenv(name) != "" {
		return name
	}
	return ""
}

// envVar is the environment variable that overrides the key at path, or
// "" for a key inside a list, which none can. An item of a string list
// (routes[1]) belongs to the list's variable.
func envVar(path string) string {
	if i := strings.LastIndexByte(path, '['); i >= 0 && strings.HasSuffix(path, "]") {
		path = path[:i]
	}
	if path == "" || strings.Contains(path, "[") {
		return ""
	}
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(path))
}

// unknownEnv refuses EVENTROUTER_* variables that override no key: a typo
// in one would otherwise go unnoticed, as one in the file cannot. keys are
// viper's, every key the config has (with the defaults, each consumer's).
func unknownEnv(keys, environ []string) Errors {
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[envVar(strings.ReplaceAll(k, keyDelim, "."))] = true
	}
	var errs Errors
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") && !known[name] {
			errs = append(errs, &Error{Path: name, Reason: "overrides no key of this config: " + EnvPrefix +
				"_<KEY> overrides a key with a default, or one the file sets (a consumer's, a sink's, a header), dots and dashes written as _; list items cannot be set"})
		}
	}
	slices.SortFunc(errs, func(a, b *Error) int { return strings.Compare(a.Path, b.Path) })
	return errs
}

// readFile returns the file to load and its name; no name and no data
// means the built-in defaults.
func readFile(path string) (string, []byte, error) {
	if path == "" {
		data, err := os.ReadFile(DefaultFile)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("config: %w", err)
		}
		return DefaultFile, data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("config: %w", err)
	}
	return path, data, nil
}

// fileError puts the file name in front of a config's problems; a list of
// several starts on a line of its own.
func fileError(name string, err error) error {
	name = sourceName(name)
	var es Errors
	if errors.As(err, &es) && len(es) > 1 {
		return fmt.Errorf("config: %s: %d problems:\n%w", name, len(es), err)
	}
	return fmt.Errorf("config: %s: %w", name, err)
}

// holdsSettings reports whether a parsed file sets anything: a key, at
// any depth, with a value that is not empty. "rules:" alone, or "log:" with
// a "level:" under it, a half-saved edit, sets nothing.
func holdsSettings(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case map[string]any:
		for _, e := range v {
			if holdsSettings(e) {
				return true
			}
		}
		return false
	case []any:
		for _, e := range v {
			if holdsSettings(e) {
				return true
			}
		}
		return false
	}
	return true
}

// parse turns YAML into a Config, unvalidated. Viper supplies defaults and
// environment overrides but lower-cases every key, so the file is also
// parsed as written and the keys' case restored from it (consumer names,
// header names, patterns and schemas are case-sensitive). A file must hold
// at least one setting: an empty one is a mistake (a truncated file, the
// wrong path), and taken as the defaults it would start routerd with no
// rules, or drop every rule on reload.
func parse(data []byte, file bool) (*Config, error) {
	root, raw, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	if file && !holdsSettings(raw) {
		return nil, errors.New("the file holds no settings (it is empty, only comments, or keys without values); to use the built-in defaults, run without a config file")
	}
	problems := caseClashes(raw, "")
	problems = append(problems, jsonFields(reflect.TypeFor[Config](), root, raw, "")...)

	v := viper.NewWithOptions(
		viper.KeyDelimiter(keyDelim),
		viper.EnvKeyReplacer(strings.NewReplacer(keyDelim, "_", "-", "_")),
	)
	v.SetEnvPrefix(EnvPrefix)
	v.AutomaticEnv()
	// Viper consults the environment only for keys it knows of, so every
	// scalar key gets a default, even those absent from the file.
	setDefaults(v, "", reflect.ValueOf(*Defaults()))
	if cs, ok := raw["consumers"].(map[string]any); ok {
		for name := range cs {
			setDefaults(v, "consumers"+keyDelim+name, reflect.ValueOf(DefaultConsumer()))
		}
	}
	if err := v.MergeConfigMap(dropNulls(clone(raw).(map[string]any))); err != nil {
		return nil, fmt.Errorf("viper: %w", err)
	}

	tree, _ := restoreCase(v.AllSettings(), raw).(map[string]any)
	problems = append(problems, unknownKeys(reflect.TypeFor[Config](), tree, "")...)
	problems = append(problems, unknownEnv(v.AllKeys(), os.Environ())...)
	if len(problems) > 0 {
		return nil, problems
	}

	c := &Config{}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:      c,
		ErrorUnused: true,
		DecodeHook:  decodeHook,
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(tree); err != nil {
		return nil, decodeProblems(err)
	}
	for i := range c.Rules {
		if c.Rules[i].Bus == "" {
			c.Rules[i].Bus = event.DefaultBus
		}
	}
	return c, nil
}

// parseYAML parses the file as written: its top node, and that node
// decoded. An empty file gives an empty mapping.
func parseYAML(data []byte) (*yaml.Node, map[string]any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, err
	}
	if len(root.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode}, map[string]any{}, nil
	}
	top := root.Content[0]
	var doc any
	if err := top.Decode(&doc); err != nil {
		return nil, nil, err
	}
	if doc == nil {
		return &yaml.Node{Kind: yaml.MappingNode}, map[string]any{}, nil
	}
	m, ok := clone(doc).(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("the file must be a YAML mapping of keys (account, http, bus, rules, consumers, ...), not %s", describeValue(doc))
	}
	return top, m, nil
}

// clone deep-copies a YAML tree, turning map[any]any into map[string]any.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = clone(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// dropNulls removes keys written with no value (`key:`), so that viper
// treats them as unset: their defaults and environment overrides apply. A
// null section would otherwise hide the defaults of every key inside it.
func dropNulls(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		}
	}
	return m
}

// setDefaults registers every scalar field of the struct val (and of the
// structs inside it) as a viper default under prefix.
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := range t.NumField() {
		name, ok := keyName(t.Field(i))
		if !ok {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + keyDelim + name
		}
		f := val.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			setDefaults(v, key, f)
		case isScalar(f.Type()):
			v.SetDefault(key, f.Interface())
		}
	}
}

// isScalar reports whether an environment variable can set a value of type
// t: a string, number, bool, duration, or a comma-separated string list.
func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// keyName is a struct field's config key; false for fields not read from
// the file (tag "-") and for the ",remain" catch-all.
func keyName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("mapstructure")
	name, _, _ := strings.Cut(tag, ",")
	if tag == "-" || name == "" {
		return "", false
	}
	return name, true
}

// hasRemain reports whether struct type t collects unknown keys.
func hasRemain(t reflect.Type) bool {
	for i := range t.NumField() {
		if _, opt, _ := strings.Cut(t.Field(i).Tag.Get("mapstructure"), ","); opt == "remain" {
			return true
		}
	}
	return false
}

// restoreCase returns viper's settings v (defaults and environment applied,
// keys lower-cased) with every map key spelled as in raw, the file as
// written. Lists cannot be overridden from the environment, so they are
// taken from raw whole; keys viper dropped (empty maps) are put back.
func restoreCase(v, raw any) any {
	switch vv := v.(type) {
	case map[string]any:
		rm, ok := raw.(map[string]any)
		if !ok {
			return vv
		}
		orig := make(map[string]string, len(rm))
		for k := range rm {
			orig[strings.ToLower(k)] = k
		}
		out := make(map[string]any, len(vv))
		for k, e := range vv {
			if o, ok := orig[k]; ok {
				out[o] = restoreCase(e, rm[o])
				delete(orig, k)
			} else {
				out[k] = e
			}
		}
		for _, o := range orig {
			out[o] = rm[o]
		}
		return out
	case []any:
		if r, ok := raw.([]any); ok {
			return r
		}
	}
	return v
}

// caseClashes reports keys of one map that differ only in case: viper
// would silently keep one of them. Lists are not searched; viper does not
// touch them.
func caseClashes(raw map[string]any, path string) Errors {
	var errs Errors
	seen := make(map[string]string, len(raw))
	for _, k := range sortedKeys(raw) {
		if prev, ok := seen[strings.ToLower(k)]; ok {
			errs = append(errs, &Error{Path: joinPath(path, k), Reason: fmt.Sprintf(
				"%q and %q differ only in case; keys are case-insensitive here, as environment variables are", prev, k)})
			continue
		}
		seen[strings.ToLower(k)] = k
		if m, ok := raw[k].(map[string]any); ok {
			errs = append(errs, caseClashes(m, joinPath(path, k))...)
		}
	}
	return errs
}

// unknownKeys reports the keys of tree that no field of type t takes, with
// a suggestion where one is close.
func unknownKeys(t reflect.Type, tree any, path string) Errors {
	var errs Errors
	switch t.Kind() {
	case reflect.Struct:
		m, ok := tree.(map[string]any)
		if !ok {
			return nil // a type error, which decoding reports
		}
		fields, known := fieldTypes(t)
		remain := hasRemain(t)
		for _, k := range sortedKeys(m) {
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				if !remain {
					errs = append(errs, &Error{Path: joinPath(path, k), Reason: unknownKeyReason(k, known)})
				}
				continue
			}
			errs = append(errs, unknownKeys(ft, m[k], joinPath(path, k))...)
		}
	case reflect.Map:
		if m, ok := tree.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				errs = append(errs, unknownKeys(t.Elem(), m[k], joinPath(path, k))...)
			}
		}
	case reflect.Slice:
		if s, ok := tree.([]any); ok {
			for i, e := range s {
				errs = append(errs, unknownKeys(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

// fieldTypes returns the types of struct type t's fields by lower-cased
// config key, and the keys as written.
func fieldTypes(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var known []string
	for i := range t.NumField() {
		if name, ok := keyName(t.Field(i)); ok {
			fields[strings.ToLower(name)] = t.Field(i).Type
			known = append(known, name)
		}
	}
	return fields, known
}

func unknownKeyReason(k string, known []string) string {
	if strings.EqualFold(k, "insecure") {
		return "unknown key: insecure is routerd's --insecure flag, on purpose never read from a file"
	}
	if s := suggest(k, known); s != "" {
		return fmt.Sprintf("unknown key (did you mean %s?)", s)
	}
	return "unknown key; known keys: " + strings.Join(known, ", ")
}

// suggest returns the known key closest to k, if it is close: the same
// with '-' for '_' or a different case, or a typo or two away.
func suggest(k string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", math.MaxInt
	for _, c := range known {
		if norm(c) == norm(k) {
			return c
		}
		if d := levenshtein(norm(k), norm(c)); d < bestDist && d <= 2 && d < len(c)/2 {
			best, bestDist = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// decodeHook converts what YAML and the environment give into the field
// types: durations from "24h" or a number of seconds, numbers and bools
// from strings (environment variables are strings), strings from numbers,
// string lists from comma-separated strings.
func decodeHook(_, to reflect.Type, data any) (any, error) {
	if to == durationType {
		return toDuration(data)
	}
	if to == byteSizeType {
		return toByteSize(data)
	}
	if to.Kind() == reflect.String {
		// YAML reads 8080 or 000000000000 as numbers; take them as written
		// as far as a number allows, and let validation judge the string.
		switch n := data.(type) {
		case int:
			return strconv.Itoa(n), nil
		case int64:
			return strconv.FormatInt(n, 10), nil
		case uint64:
			return strconv.FormatUint(n, 10), nil
		case float64:
			return strconv.FormatFloat(n, 'f', -1, 64), nil
		}
	}
	if to.Kind() == reflect.Int || to.Kind() == reflect.Int64 {
		// mapstructure would truncate 2.5 to 2 and wrap numbers too large.
		switch n := data.(type) {
		case float64:
			if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
				return nil, fmt.Errorf("expected an integer, got %s", strconv.FormatFloat(n, 'g', -1, 64))
			}
			return int64(n), nil
		case uint64:
			if n > math.MaxInt64 {
				return nil, fmt.Errorf("%d is too large", n)
			}
		}
	}
	s, ok := data.(string)
	if !ok {
		return data, nil
	}
	t := strings.TrimSpace(s)
	switch to.Kind() {
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected an integer, got %q", s)
		}
		return n, nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a number, got %q", s)
		}
		return f, nil
	case reflect.Bool:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return nil, fmt.Errorf("expected true or false, got %q", s)
		}
		return b, nil
	case reflect.Slice:
		if to.Elem().Kind() != reflect.String {
			return data, nil
		}
		var list []string
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		return list, nil
	}
	return data, nil
}

// toDuration accepts a Go duration ("24h", "500ms") or a number of seconds,
// as the sinks do.
func toDuration(data any) (any, error) {
	switch d := data.(type) {
	case time.Duration:
		return d, nil
	case string:
		s := strings.TrimSpace(d)
		if v, err := time.ParseDuration(s); err == nil {
			return v, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return secondsToDuration(f), nil
		}
		return nil, fmt.Errorf("invalid duration %q (use e.g. 24h, 5m, 500ms)", d)
	case int:
		return secondsToDuration(float64(d)), nil
	case int64:
		return secondsToDuration(float64(d)), nil
	case uint64:
		return secondsToDuration(float64(d)), nil
	case float64:
		return secondsToDuration(d), nil
	case nil:
		return time.Duration(0), nil
	}
	return nil, fmt.Errorf("invalid duration: expected a string like 24h or 500ms, got %s", describeValue(data))
}

// byteUnits are the units of a ByteSize, powers of 1024 as NATS reads
// them, by the first letter of the unit (b for none).
var byteUnits = map[byte]int64{'b': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}

// toByteSize accepts a number of bytes or a number with a unit: 10GB,
// 512MB, 1.5G, 64KiB.
func toByteSize(data any) (any, error) {
	const hint = "use e.g. 10GB, 512MB or a number of bytes"
	var f float64
	switch d := data.(type) {
	case ByteSize:
		return d, nil
	case int:
		f = float64(d)
	case int64:
		f = float64(d)
	case uint64:
		f = float64(d)
	case float64:
		f = d
	case nil:
		return ByteSize(0), nil
	case string:
		s := strings.ToLower(strings.TrimSpace(d))
		num := strings.TrimRight(s, "kmgtibB ")
		unit := strings.TrimSpace(s[len(num):])
		scale, ok := int64(1), true
		if unit != "" {
			scale, ok = byteUnits[unit[0]]
			rest := unit[1:]
			if unit[0] != 'b' {
				rest = strings.TrimPrefix(strings.TrimPrefix(rest, "i"), "b")
			}
			ok = ok && rest == ""
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil || num == "" {
			return nil, fmt.Errorf("invalid size %q (%s)", d, hint)
		}
		f = v * float64(scale)
	default:
		return nil, fmt.Errorf("invalid size: expected a string like 10GB or a number of bytes, got %s", describeValue(data))
	}
	switch {
	case f >= 1<<62 || f <= -(1<<62):
		return nil, fmt.Errorf("invalid size %s: too large (%s)", describeValue(data), hint)
	case f != math.Trunc(f):
		return nil, fmt.Errorf("invalid size %s: not a whole number of bytes (%s)", describeValue(data), hint)
	}
	return ByteSize(f), nil
}

func secondsToDuration(f float64) time.Duration {
	return time.Duration(f * float64(time.Second))
}

// decodeProblems turns mapstructure's errors into Errors with key paths in
// the form the rest of this package uses.
func decodeProblems(err error) Errors {
	var errs Errors
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range e.Unwrap() {
				walk(e)
			}
		case *mapstructure.DecodeError:
			inner := e.Unwrap()
			if _, ok := inner.(interface{ Unwrap() []error }); ok {
				walk(inner)
				return
			}
			if _, ok := inner.(*mapstructure.DecodeError); ok {
				walk(inner)
				return
			}
			errs = append(errs, &Error{Path: decodePath(e.Name()), Reason: decodeReason(inner), Err: inner})
		default:
			if inner := errors.Unwrap(err); inner != nil {
				walk(inner)
				return
			}
			errs = append(errs, &Error{Reason: err.Error(), Err: err})
		}
	}
	walk(err)
	slices.SortStableFunc(errs, func(a, b *Error) int { return strings.Compare(a.Path, b.Path) })
	return errs
}

// decodePath turns mapstructure's "consumers[vip-alerts].retry" into
// "consumers.vip-alerts.retry"; list indexes stay as they are.
func decodePath(name string) string {
	if rest, ok := strings.CutPrefix(name, "consumers["); ok {
		if key, after, ok := strings.Cut(rest, "]"); ok {
			return "consumers." + key + after
		}
	}
	return name
}

func decodeReason(err error) string {
	var ute *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("expected %s, got %s", describeType(ute.Expected.Type()), describeValue(ute.Value))
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("expected %s, got %s", describeType(pe.Expected.Type()), describeValue(pe.Value))
	}
	// mapstructure's plain errors for a list or mapping of the wrong kind.
	msg := err.Error()
	if got, ok := strings.CutPrefix(msg, "source data must be an array or slice, got "); ok {
		return "expected a list, got " + describeKind(got)
	}
	if got, ok := strings.CutPrefix(msg, "expected a map or struct, got "); ok {
		return "expected a mapping of keys, got " + describeKind(strings.Trim(got, `"`))
	}
	return msg
}

// describeKind names a reflect.Kind as a YAML user knows it.
func describeKind(kind string) string {
	switch kind {
	case "map", "struct":
		return "a mapping"
	case "slice", "array":
		return "a list"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "uint64", "float64":
		return "a number"
	}
	return kind
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		if t == durationType {
			return "a duration"
		}
		if t == byteSizeType {
			return "a size"
		}
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping of keys"
	}
	return t.String()
}

func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(v)
}

// toJSON encodes a pattern or schema written in YAML as JSON.
func toJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(clone(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
