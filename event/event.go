// Package event holds the EventBridge envelope every event travels and is
// delivered in, the normalisation of incoming entries into it, and
// EventBridge's size rule. It is a leaf: it imports only the standard
// library, a UUID generator and internal/jsontext.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/eventrouter/eventrouter/internal/jsontext"
)

// MaxEntrySize is the largest entry accepted, measured by EventBridge's rule
// (see Entry.Size).
const MaxEntrySize = 1 << 20

// DefaultBus is the bus an entry goes to when it names none.
const DefaultBus = "default"

// Envelope is an event in EventBridge's shape, the form patterns match and
// sinks deliver. Field order is EventBridge's.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Entry is an event as a client submits it, before it is given an id and a
// time: a PutEvents entry, a /v1/events body, a CloudEvent or an S3 record
// all become one.
type Entry struct {
	Source     string
	DetailType string
	Detail     json.RawMessage // a JSON object; required, as in PutEvents
	Resources  []string
	Time       time.Time // zero: the time of acceptance
	ID         string    // empty: a new UUID is assigned
	Bus        string    // empty: DefaultBus
}

// EntryError is why one entry was refused, with an EventBridge error code.
type EntryError struct {
	Code    string // e.g. "InvalidArgument", "MalformedDetail"
	Field   string // the offending field, e.g. "Detail"
	Message string
}

func (e *EntryError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Size is EventBridge's entry size: the UTF-8 bytes of Source, DetailType,
// Detail and every Resource, plus 14 when Time is given.
func (e *Entry) Size() int {
	n := len(e.Source) + len(e.DetailType) + len(e.Detail)
	for _, r := range e.Resources {
		n += len(r)
	}
	if !e.Time.IsZero() {
		n += 14
	}
	return n
}

// MaxDetailDepth is the deepest nesting accepted in an event's detail (and
// in the event given to TestEventPattern): EventBridge's own limit. It also
// keeps recursive JSON walkers downstream far from the stack limit.
const MaxDetailDepth = 1000

// MaxTime is the last instant an event's time may be, since RFC 3339, in
// which the envelope writes it, has four-digit years. The first is the
// Unix epoch: EventBridge takes Time as seconds since then.
var MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// TimeRange words the range of TimeInRange for messages.
const TimeRange = "a time must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"

// TimeInRange reports whether t may be an event's time. The zero time is
// not: an Entry without a time gets the time of acceptance, so one that
// says 0001-01-01T00:00:00Z must be refused where it is read, not
// silently replaced.
func TimeInRange(t time.Time) bool {
	return t.Unix() >= 0 && !t.After(MaxTime)
}

// Stamp fills in what the router decides once, when an entry is first
// accepted: its identity and place.
type Stamp struct {
	Account string
	Region  string
	Now     func() time.Time // nil: time.Now
	NewID   func() string    // nil: a random UUID
}

// Complete reports whether the entry has the three members EventBridge
// requires of every entry: Source, DetailType and Detail. A PutEvents
// request in which no entry is complete fails as a whole.
func (e *Entry) Complete() bool {
	return strings.TrimSpace(e.Source) != "" && strings.TrimSpace(e.DetailType) != "" && len(e.Detail) > 0
}

// Validate checks an entry the way PutEvents does.
func (e *Entry) Validate() *EntryError {
	switch {
	case strings.TrimSpace(e.Source) == "":
		return &EntryError{Code: "InvalidArgument", Field: "Source", Message: "is required"}
	case strings.TrimSpace(e.DetailType) == "":
		return &EntryError{Code: "InvalidArgument", Field: "DetailType", Message: "is required"}
	case !utf8.ValidString(e.Source):
		return &EntryError{Code: "InvalidArgument", Field: "Source", Message: "must be valid UTF-8"}
	case !utf8.ValidString(e.DetailType):
		return &EntryError{Code: "InvalidArgument", Field: "DetailType", Message: "must be valid UTF-8"}
	}
	// EventBridge's limits count characters, not bytes.
	if n := utf8.RuneCountInString(e.Source); n > 256 {
		return &EntryError{Code: "InvalidArgument", Field: "Source", Message: fmt.Sprintf("must be at most 256 characters, got %d", n)}
	}
	if n := utf8.RuneCountInString(e.DetailType); n > 128 {
		return &EntryError{Code: "InvalidArgument", Field: "DetailType", Message: fmt.Sprintf("must be at most 128 characters, got %d", n)}
	}
	if len(e.Detail) == 0 {
		// EventBridge fails such an entry rather than deliver "detail":{}.
		return &EntryError{Code: "InvalidArgument", Field: "Detail", Message: "is required"}
	}
	d := bytes.TrimSpace(e.Detail)
	if !json.Valid(d) {
		return &EntryError{Code: "MalformedDetail", Field: "Detail", Message: "is not valid JSON: " + jsonProblem(d)}
	}
	if d[0] != '{' {
		return &EntryError{Code: "MalformedDetail", Field: "Detail", Message: "must be a JSON object"}
	}
	// A repeated name is read two ways: patterns match the first value,
	// JSON Schema and most consumers' parsers see the last. No Field: the
	// message names its path, so that every door words it alike.
	if name, path, dup := jsontext.DuplicateName(d); dup {
		return &EntryError{Code: "MalformedDetail", Message: fmt.Sprintf("detail has a duplicate key %s at detail%s", jsontext.Clip(name), path)}
	}
	if !e.Time.IsZero() && !TimeInRange(e.Time) {
		return &EntryError{Code: "InvalidArgument", Field: "Time", Message: e.Time.UTC().Format(time.RFC3339Nano) + " is out of range: " + TimeRange}
	}
	if e.Bus != "" && !ValidName(e.Bus) {
		return &EntryError{Code: "InvalidArgument", Field: "EventBusName", Message: fmt.Sprintf("%q is not a valid bus name (letters, digits, - and _)", e.Bus)}
	}
	if n := e.Size(); n > MaxEntrySize {
		return &EntryError{Code: "InvalidArgument", Message: fmt.Sprintf("entry size %d bytes exceeds the limit of %d", n, MaxEntrySize)}
	}
	return nil
}

// Normalize validates the entry and turns it into the envelope that goes on
// the bus, assigning the id and time the event keeps from now on.
func Normalize(e Entry, s Stamp) (Envelope, *EntryError) {
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	env := Envelope{
		Version:    "0",
		ID:         e.ID,
		DetailType: e.DetailType,
		Source:     e.Source,
		Account:    s.Account,
		Region:     s.Region,
		Resources:  e.Resources,
		Detail:     json.RawMessage(bytes.TrimSpace(e.Detail)),
	}
	if env.Resources == nil {
		env.Resources = []string{}
	}
	if env.ID == "" {
		if s.NewID != nil {
			env.ID = s.NewID()
		} else {
			env.ID = uuid.NewString()
		}
	}
	t := e.Time
	if t.IsZero() {
		if s.Now != nil {
			t = s.Now()
		} else {
			t = time.Now()
		}
	}
	env.Time = t.UTC().Format(time.RFC3339)
	return env, nil
}

// Marshal encodes the envelope as compact JSON, keeping Detail's bytes and
// leaving <, > and & unescaped.
func (env *Envelope) Marshal() ([]byte, error) {
	b, err := jsontext.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("event: marshal envelope: %w", err)
	}
	return b, nil
}

// MarshalWithin is Marshal for an envelope that must be at most limit bytes
// (0: any size): EventBridge's size rule counts an entry's strings before
// they are escaped, and the bus carrying the envelope has a limit of its
// own. It refuses an envelope too large as the entry's error.
func (env *Envelope) MarshalWithin(limit int) ([]byte, *EntryError) {
	b, err := env.Marshal()
	if err != nil {
		return nil, &EntryError{Code: "MalformedDetail", Field: "Detail", Message: err.Error()}
	}
	if limit > 0 && len(b) > limit {
		return nil, &EntryError{Code: "InvalidArgument", Message: fmt.Sprintf(
			"the event is %d bytes as an envelope, more than the bus can carry (%d; raise the NATS server's max_payload)", len(b), limit)}
	}
	return b, nil
}

// ValidName reports whether s may name a bus or a consumer: it becomes a NATS
// subject token and a JetStream consumer name. A leading underscore is
// reserved for the router's own queues.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '_' || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// jsonProblem describes a JSON syntax error with its offset.
func jsonProblem(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%v at offset %d", se, se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "malformed"
}

// Delivery is one event on its way to one consumer: what a sink sends.
type Delivery struct {
	Event    []byte // the envelope, JSON
	ID       string // the event id, also the idempotency key
	Rule     string // the rule that matched
	Consumer string
	Attempt  int // 1 for the first try
}

// jsonEntry is the plain-JSON shape of an entry (POST /v1/events, NATS).
type jsonEntry struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	ID         string          `json:"id"`
	Time       string          `json:"time"`
	Resources  []string        `json:"resources"`
	Bus        string          `json:"bus"`
}

// DecodeEntry reads one entry in the plain-JSON shape
// {"source","detail-type","detail","id","time","resources","bus"}; unknown
// fields are refused. detail is a JSON object; time is RFC 3339.
func DecodeEntry(b []byte) (Entry, *EntryError) {
	var j jsonEntry
	if bad := decodeStrict(b, &j); bad != nil {
		return Entry{}, bad
	}
	return j.entry()
}

// DecodeEnvelope reads an envelope as an entry to check again: its id,
// time, source, detail-type, resources and detail, as DecodeEntry reads
// them; account and region are the reader's to set. Unknown fields are
// refused, and version must be "0".
func DecodeEnvelope(b []byte) (Entry, *EntryError) {
	var j Envelope
	if bad := decodeStrict(b, &j); bad != nil {
		return Entry{}, bad
	}
	if j.Version != "0" {
		return Entry{}, &EntryError{Code: "InvalidArgument", Field: "version", Message: fmt.Sprintf("%q is not an envelope version (0)", j.Version)}
	}
	if j.ID == "" {
		return Entry{}, &EntryError{Code: "InvalidArgument", Field: "id", Message: "is required in an envelope"}
	}
	return jsonEntry{Source: j.Source, DetailType: j.DetailType, Detail: j.Detail, ID: j.ID, Time: j.Time, Resources: j.Resources}.entry()
}

// decodeStrict decodes one JSON value of b into v, refusing bytes that are
// not UTF-8, unknown fields and anything after the value.
func decodeStrict(b []byte, v any) *EntryError {
	if !utf8.Valid(b) {
		// encoding/json would pass the bad bytes on, and consumers would
		// get lines that strict JSON parsers refuse.
		return &EntryError{Code: "InvalidArgument", Message: fmt.Sprintf("the entry is not valid UTF-8 at offset %d", jsontext.InvalidUTF8At(b))}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return &EntryError{Code: "InvalidArgument", Message: "unknown field " + f}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &EntryError{Code: "InvalidArgument", Field: te.Field, Message: "must be " + jsonTypeName(te.Type.Kind().String())}
		}
		return &EntryError{Code: "InvalidArgument", Message: "invalid JSON: " + jsonProblem(b)}
	}
	if dec.More() {
		return &EntryError{Code: "InvalidArgument", Message: "unexpected data after the entry"}
	}
	return nil
}

// entry checks what the plain-JSON shape leaves to its values: detail an
// object, time RFC 3339 and in range, id short valid UTF-8.
func (j jsonEntry) entry() (Entry, *EntryError) {
	e := Entry{Source: j.Source, DetailType: j.DetailType, Detail: j.Detail, ID: j.ID, Resources: j.Resources, Bus: j.Bus}
	if d := bytes.TrimSpace(j.Detail); len(d) > 0 && d[0] != '{' {
		return Entry{}, &EntryError{Code: "MalformedDetail", Field: "detail", Message: "must be a JSON object"}
	}
	if j.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(j.Time)) // t and z may be lower case
		if err != nil {
			return Entry{}, &EntryError{Code: "InvalidArgument", Field: "time", Message: fmt.Sprintf("%q is not an RFC 3339 time", j.Time)}
		}
		if !TimeInRange(t) {
			return Entry{}, &EntryError{Code: "InvalidArgument", Field: "time", Message: fmt.Sprintf("%q is out of range: %s", j.Time, TimeRange)}
		}
		e.Time = t
	}
	if j.ID != "" && (len(j.ID) > 256 || !utf8.ValidString(j.ID)) {
		return Entry{}, &EntryError{Code: "InvalidArgument", Field: "id", Message: "must be valid UTF-8 of at most 256 bytes"}
	}
	return e, nil
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "a " + kind
}
