// Package s3notify turns S3 event notifications into the events Amazon
// EventBridge itself publishes for S3 (source "aws.s3", detail-type "Object
// Created", "Object Deleted", ...), so that rules written for EventBridge's
// S3 events match them unchanged.
//
// It reads three wire formats:
//   - AWS notification JSON, {"Records":[...]} with eventVersion 2.x, as S3
//     sends it to SNS, SQS, Lambda and webhooks, and S3's s3:TestEvent;
//   - MinIO webhook bodies, {"EventName","Key","Records":[...]}, whose
//     records are AWS-shaped but name events with an "s3:" prefix;
//   - SNS HTTP(S) envelopes: a Notification carrying one of the above in
//     Message, SubscriptionConfirmation and UnsubscribeConfirmation.
//
// Object keys arrive form-encoded (S3 writes a space as '+', MinIO also
// writes '/' as %2F) and are decoded, as EventBridge's events carry them.
// Each event's id is derived from the record (see EventID), so a
// notification delivered twice, as S3 and MinIO do on retry, yields the
// same id and downstream idempotency holds.
//
// The package is pure: no I/O, no clock. It rebuilds the text an SNS
// envelope's signature covers (SNSMessage.StringToSign); fetching the
// certificate, checking the signature and confirming a subscription are
// the caller's business (sources/http does them against allow-lists).
package s3notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/eventrouter/eventrouter/internal/jsontext"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/event"
	"github.com/google/uuid"
)

// Source is the source of every event this package makes: EventBridge's
// for S3.
const Source = "aws.s3"

// MaxRecords bounds the records of one notification, so that a hostile
// body cannot make Parse build millions of errors. S3 and MinIO send one
// record per notification; 100 is /v1/events' batch limit too.
const MaxRecords = 100

// Kind says what a body was.
type Kind int

const (
	// KindRecords is a notification: Entries and Errs hold one slot per
	// record.
	KindRecords Kind = iota + 1
	// KindTestEvent is S3's s3:TestEvent, sent when notifications are
	// configured: nothing to ingest.
	KindTestEvent
	// KindSubscriptionConfirmation is SNS asking the endpoint to visit
	// SNS.SubscribeURL.
	KindSubscriptionConfirmation
	// KindUnsubscribeConfirmation is SNS saying the subscription ended.
	KindUnsubscribeConfirmation
)

func (k Kind) String() string {
	switch k {
	case KindRecords:
		return "records"
	case KindTestEvent:
		return "test-event"
	case KindSubscriptionConfirmation:
		return "subscription-confirmation"
	case KindUnsubscribeConfirmation:
		return "unsubscribe-confirmation"
	}
	return "unknown"
}

// Format is the dialect of the S3 payload.
type Format string

const (
	FormatAWS   Format = "aws"
	FormatMinIO Format = "minio"
)

// Parsed is what Parse understood of a body.
type Parsed struct {
	Kind Kind
	// Format is the S3 payload's dialect; empty for SNS handshakes.
	Format Format
	// SNS is the envelope when the body came through SNS, else nil.
	SNS *SNSMessage
	// Entries has one entry per record, in order; Entries[i] is the zero
	// Entry when Errs[i] is not nil. Each entry's ID is set (EventID).
	Entries []event.Entry
	// Errs has one slot per record: why record i was refused, or nil.
	Errs []*RecordError
}

// SNSMessage is the part of an SNS HTTP(S) envelope routerd uses: what it
// acts on, and what it needs to check the signature (StringToSign).
type SNSMessage struct {
	Type         string // Notification, SubscriptionConfirmation, UnsubscribeConfirmation
	MessageID    string
	TopicArn     string
	SubscribeURL string // SubscriptionConfirmation (and UnsubscribeConfirmation)
	Token        string
	Timestamp    string
	// Message is the payload as sent: for a Notification, the S3
	// notification as a JSON string.
	Message string
	// Subject is nil when the envelope has none: SNS signs a Subject only
	// when there is one, so absent and empty differ.
	Subject *string

	SignatureVersion string // "1" (SHA1withRSA) or "2" (SHA256withRSA)
	Signature        string // base64
	SigningCertURL   string
}

// RecordError refuses one record: its index, the offending field as a
// dotted path inside the record ("" for the record as a whole), and why.
type RecordError struct {
	Index   int
	Field   string
	Message string
	in      string // where the records are: "Records" or "Message.Records"
}

// Path is where the problem is in the body, e.g. "Records[2].s3.bucket.name"
// or, through SNS, "Message.Records[0].eventName".
func (e *RecordError) Path() string {
	in := e.in
	if in == "" {
		in = "Records"
	}
	p := fmt.Sprintf("%s[%d]", in, e.Index)
	if e.Field != "" {
		p += "." + e.Field
	}
	return p
}

func (e *RecordError) Error() string { return e.Path() + ": " + e.Message }

// Error refuses a whole body: Path says where ("" for the body itself).
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Parse reads one notification body. A body it cannot read at all is an
// *Error; records it cannot turn into events are refused one by one in
// Parsed.Errs, the others still converted.
func Parse(body []byte) (Parsed, error) {
	if !utf8.Valid(body) {
		return Parsed{}, &Error{Message: "body is not valid UTF-8"}
	}
	top, err := objectOf(body, "")
	if err != nil {
		return Parsed{}, err
	}
	if _, ok := top["Type"]; ok {
		return parseSNS(top)
	}
	return parseS3(top, "")
}

// parseSNS reads an SNS HTTP(S) envelope.
func parseSNS(top obj) (Parsed, error) {
	var m SNSMessage
	fields := []struct {
		name string
		dst  *string
	}{
		{"Type", &m.Type}, {"MessageId", &m.MessageID}, {"TopicArn", &m.TopicArn},
		{"SubscribeURL", &m.SubscribeURL}, {"Token", &m.Token}, {"Timestamp", &m.Timestamp},
		{"Message", &m.Message}, {"SignatureVersion", &m.SignatureVersion},
		{"Signature", &m.Signature}, {"SigningCertURL", &m.SigningCertURL},
	}
	for _, f := range fields {
		s, err := stringAt(top, f.name, f.name)
		if err != nil {
			return Parsed{}, err
		}
		*f.dst = s
	}
	if !isNull(top["Subject"]) {
		subject, err := stringAt(top, "Subject", "Subject")
		if err != nil {
			return Parsed{}, err
		}
		m.Subject = &subject
	}
	p := Parsed{SNS: &m}
	switch m.Type {
	case "SubscriptionConfirmation":
		if m.SubscribeURL == "" {
			return Parsed{}, &Error{Path: "SubscribeURL", Message: "is required in a SubscriptionConfirmation"}
		}
		p.Kind = KindSubscriptionConfirmation
		return p, nil
	case "UnsubscribeConfirmation":
		p.Kind = KindUnsubscribeConfirmation
		return p, nil
	case "Notification":
	default:
		return Parsed{}, &Error{Path: "Type", Message: fmt.Sprintf("SNS message type %s is not one routerd handles (Notification, SubscriptionConfirmation, UnsubscribeConfirmation)", quote(m.Type))}
	}
	if m.Message == "" {
		return Parsed{}, &Error{Path: "Message", Message: "is required in a Notification: it carries the S3 notification"}
	}
	inner, err := objectOf([]byte(m.Message), "Message")
	if err != nil {
		return Parsed{}, err
	}
	if _, ok := inner["Type"]; ok {
		return Parsed{}, &Error{Path: "Message", Message: "holds another SNS envelope; routerd reads one level of SNS"}
	}
	p, err = parseS3(inner, "Message")
	if err != nil {
		return Parsed{}, err
	}
	p.SNS = &m
	return p, nil
}

// parseS3 reads an S3 payload (AWS or MinIO); at is its path in the body.
func parseS3(top obj, at string) (Parsed, error) {
	if ev, ok := top["Event"]; ok && !isNull(ev) {
		name, err := stringAt(top, "Event", join(at, "Event"))
		if err != nil {
			return Parsed{}, err
		}
		if name != "s3:TestEvent" {
			return Parsed{}, &Error{Path: join(at, "Event"), Message: fmt.Sprintf("%s is not an S3 notification (the only one S3 sends with Event is s3:TestEvent)", quote(name))}
		}
		return Parsed{Kind: KindTestEvent, Format: FormatAWS}, nil
	}
	recsAt := join(at, "Records")
	raw, ok := top["Records"]
	if !ok || isNull(raw) {
		where := "body"
		if at != "" {
			where = at
		}
		return Parsed{}, &Error{Path: at, Message: fmt.Sprintf("the %s is not an S3 event notification: it has neither Records (AWS, MinIO), an SNS Type, nor Event s3:TestEvent", where)}
	}
	if raw[0] != '[' {
		return Parsed{}, &Error{Path: recsAt, Message: "must be an array, got " + kind(raw)}
	}
	items, tooMany := firstItems(raw, MaxRecords)
	switch {
	case tooMany:
		return Parsed{}, &Error{Path: recsAt, Message: fmt.Sprintf("holds more than the limit of %d records", MaxRecords)}
	case len(items) == 0:
		return Parsed{}, &Error{Path: recsAt, Message: "holds no records"}
	}
	p := Parsed{Kind: KindRecords, Format: FormatAWS, Entries: make([]event.Entry, len(items)), Errs: make([]*RecordError, len(items))}
	_, hasEventName := top["EventName"]
	_, hasKey := top["Key"]
	if hasEventName || hasKey {
		p.Format = FormatMinIO
	}
	for i, it := range items {
		e, rerr := convert(it)
		if rerr != nil {
			rerr.Index, rerr.in = i, recsAt
			p.Errs[i] = rerr
			continue
		}
		if p.Format == FormatAWS && e.minio {
			p.Format = FormatMinIO
		}
		p.Entries[i] = e.Entry
	}
	return p, nil
}

// converted is an entry plus what convert noticed about its dialect.
type converted struct {
	event.Entry
	minio bool
}

// record is what a notification record says, before mapping.
type record struct {
	name        string // event name without the "s3:" prefix
	time        time.Time
	bucket      string
	key         string
	size        *int64
	etag        string
	versionID   string
	sequencer   string
	requestID   string
	requester   string
	sourceIP    string
	restoreExp  string // glacierEventData.restoreEventData.lifecycleRestorationExpiryTime, normalised
	restoreFrom string // glacierEventData.restoreEventData.lifecycleRestoreStorageClass
	accessTier  string // intelligentTieringEventData.destinationAccessTier
	rawTime     string
}

// convert turns one record into an entry, or says which field is wrong.
func convert(raw json.RawMessage) (converted, *RecordError) {
	m, ok := asObject(raw)
	if !ok {
		return converted{}, &RecordError{Message: "must be an object, got " + kind(raw)}
	}
	rd := reader{}
	var rec record
	if v := rd.str(m, "eventVersion", "eventVersion"); v != "" && !strings.HasPrefix(v, "2.") && v != "2" {
		rd.fail("eventVersion", "%s is not supported: routerd reads S3 notification records of version 2.x", quote(v))
	}
	src := rd.str(m, "eventSource", "eventSource")
	name := rd.str(m, "eventName", "eventName")
	rec.rawTime = rd.str(m, "eventTime", "eventTime")
	ui := rd.obj(m, "userIdentity", "userIdentity")
	rec.requester = rd.str(ui, "principalId", "userIdentity.principalId")
	rp := rd.obj(m, "requestParameters", "requestParameters")
	rec.sourceIP = rd.str(rp, "sourceIPAddress", "requestParameters.sourceIPAddress")
	re := rd.obj(m, "responseElements", "responseElements")
	rec.requestID = rd.str(re, "x-amz-request-id", "responseElements.x-amz-request-id")
	s3 := rd.obj(m, "s3", "s3")
	b := rd.obj(s3, "bucket", "s3.bucket")
	rec.bucket = rd.str(b, "name", "s3.bucket.name")
	o := rd.obj(s3, "object", "s3.object")
	encKey := rd.str(o, "key", "s3.object.key")
	rec.size = rd.size(o, "size", "s3.object.size")
	rec.etag = rd.str(o, "eTag", "s3.object.eTag")
	rec.versionID = rd.str(o, "versionId", "s3.object.versionId")
	rec.sequencer = rd.str(o, "sequencer", "s3.object.sequencer")
	ged := rd.obj(m, "glacierEventData", "glacierEventData")
	red := rd.obj(ged, "restoreEventData", "glacierEventData.restoreEventData")
	exp := rd.str(red, "lifecycleRestorationExpiryTime", "glacierEventData.restoreEventData.lifecycleRestorationExpiryTime")
	rec.restoreFrom = rd.str(red, "lifecycleRestoreStorageClass", "glacierEventData.restoreEventData.lifecycleRestoreStorageClass")
	ited := rd.obj(m, "intelligentTieringEventData", "intelligentTieringEventData")
	rec.accessTier = rd.str(ited, "destinationAccessTier", "intelligentTieringEventData.destinationAccessTier")
	if rd.err != nil {
		return converted{}, rd.err
	}

	// Required fields and values, in the order a reader fixes them.
	rec.name = strings.TrimPrefix(name, "s3:")
	mp, known := eventNames[rec.name]
	switch {
	case name == "":
		return converted{}, &RecordError{Field: "eventName", Message: "is required"}
	case !known:
		return converted{}, &RecordError{Field: "eventName", Message: unsupported(name)}
	case s3 == nil:
		return converted{}, &RecordError{Field: "s3", Message: "is required"}
	case b == nil:
		return converted{}, &RecordError{Field: "s3.bucket", Message: "is required"}
	case rec.bucket == "":
		return converted{}, &RecordError{Field: "s3.bucket.name", Message: "is required"}
	case !validBucket(rec.bucket):
		return converted{}, &RecordError{Field: "s3.bucket.name", Message: quote(rec.bucket) + " is not a bucket name (1 to 255 letters, digits, '.', '-' and '_')"}
	case o == nil:
		return converted{}, &RecordError{Field: "s3.object", Message: "is required"}
	case encKey == "":
		return converted{}, &RecordError{Field: "s3.object.key", Message: "is required"}
	}
	var err error
	if rec.key, err = url.QueryUnescape(encKey); err != nil {
		return converted{}, &RecordError{Field: "s3.object.key", Message: quote(encKey) + " is not URL-encoded as S3 encodes keys: " + strings.TrimPrefix(err.Error(), "invalid URL escape ")}
	}
	if !utf8.ValidString(rec.key) {
		return converted{}, &RecordError{Field: "s3.object.key", Message: quote(encKey) + " decodes to bytes that are not UTF-8; S3 keys are UTF-8"}
	}
	if rec.rawTime != "" {
		if rec.time, err = time.Parse(time.RFC3339Nano, rec.rawTime); err != nil {
			return converted{}, &RecordError{Field: "eventTime", Message: quote(rec.rawTime) + " is not an ISO 8601 time such as 2026-11-28T06:21:54.000Z"}
		}
	}
	if exp != "" {
		t, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			return converted{}, &RecordError{Field: "glacierEventData.restoreEventData.lifecycleRestorationExpiryTime", Message: quote(exp) + " is not an ISO 8601 time"}
		}
		rec.restoreExp = t.UTC().Format(time.RFC3339)
	}

	detail, err := buildDetail(mp, &rec)
	if err != nil {
		return converted{}, &RecordError{Message: err.Error()}
	}
	return converted{
		Entry: event.Entry{
			Source:     Source,
			DetailType: mp.detailType,
			Detail:     detail,
			Resources:  []string{"arn:aws:s3:::" + rec.bucket},
			Time:       rec.time,
			ID:         EventID(rec.name, rec.bucket, rec.key, rec.versionID, rec.sequencer, rec.rawTime, rec.requestID),
		},
		minio: strings.HasPrefix(src, "minio:") || strings.HasPrefix(name, "s3:"),
	}, nil
}

// The EventBridge detail. Field order is EventBridge's; optional members
// are omitted when the record lacks them or EventBridge's event of that
// type has no such field.
type detail struct {
	Version                 string    `json:"version"`
	Bucket                  bucket    `json:"bucket"`
	Object                  objDetail `json:"object"`
	RequestID               string    `json:"request-id,omitempty"`
	Requester               string    `json:"requester,omitempty"`
	SourceIPAddress         string    `json:"source-ip-address,omitempty"`
	Reason                  string    `json:"reason,omitempty"`
	DeletionType            string    `json:"deletion-type,omitempty"`
	RestoreExpiryTime       string    `json:"restore-expiry-time,omitempty"`
	SourceStorageClass      string    `json:"source-storage-class,omitempty"`
	DestinationStorageClass string    `json:"destination-storage-class,omitempty"`
	DestinationAccessTier   string    `json:"destination-access-tier,omitempty"`
}

type bucket struct {
	Name string `json:"name"`
}

type objDetail struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version-id,omitempty"`
	Sequencer string `json:"sequencer,omitempty"`
}

// buildDetail writes the detail EventBridge would, keeping only the fields
// its event of this type has.
func buildDetail(mp mapping, rec *record) (json.RawMessage, error) {
	has := func(f field) bool { return mp.fields&f != 0 }
	pick := func(f field, v string) string {
		if has(f) {
			return v
		}
		return ""
	}
	d := detail{
		Version: "0",
		Bucket:  bucket{Name: rec.bucket},
		Object: objDetail{
			Key:       rec.key,
			ETag:      pick(fETag, rec.etag),
			VersionID: pick(fVersionID, rec.versionID),
			Sequencer: pick(fSequencer, rec.sequencer),
		},
		RequestID:          pick(fRequestID, rec.requestID),
		Requester:          pick(fRequester, rec.requester),
		SourceIPAddress:    pick(fSourceIP, rec.sourceIP),
		Reason:             mp.reason,
		DeletionType:       mp.deletionType,
		RestoreExpiryTime:  pick(fRestoreExpiry, rec.restoreExp),
		SourceStorageClass: pick(fSourceStorageClass, rec.restoreFrom),
		// The notification names no destination class for LifecycleTransition,
		// so destination-storage-class stays out rather than be guessed.
		DestinationAccessTier: pick(fDestinationAccessTier, rec.accessTier),
	}
	if has(fSize) {
		d.Object.Size = rec.size
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("cannot encode the detail: %v", err)
	}
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// idNamespace is the UUIDv5 namespace of S3 event ids. Changing it changes
// every id, and with it downstream deduplication across an upgrade.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/eventrouter/eventrouter/sources/s3notify"))

// EventID is the event id of a record: a UUIDv5 over the event name
// (without "s3:"), bucket, decoded key, version id and sequencer, so that
// the same notification delivered twice (S3 and MinIO retry, or arrive
// both directly and through SNS) gets the same id, while two changes to
// one object (different sequencers) do not. S3 gives a sequencer only for
// created and removed objects; without one, the event time and request id
// stand in, so that two restores of one object stay two events. Each part
// is length-prefixed, so no choice of key can imitate another record.
func EventID(name, bucket, key, versionID, sequencer, eventTime, requestID string) string {
	parts := []string{name, bucket, key, versionID, sequencer}
	if sequencer == "" {
		parts = append(parts, eventTime, requestID)
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return uuid.NewSHA1(idNamespace, []byte(b.String())).String()
}

// validBucket accepts S3's bucket names, legacy ones (capitals,
// underscores, up to 255 bytes) included: enough to keep the ARN and the
// detail clean without second-guessing the store that sent them.
func validBucket(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// obj is a JSON object with its members undecoded.
type obj map[string]json.RawMessage

// objectOf decodes a body (or an SNS Message) that must be a JSON object.
func objectOf(b []byte, at string) (obj, error) {
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, &Error{Path: at, Message: "is not valid JSON: " + jsonProblem(b)}
	}
	m, ok := asObject(b)
	if !ok {
		return nil, &Error{Path: at, Message: "must be a JSON object, got " + kind(b)}
	}
	return m, nil
}

func asObject(raw json.RawMessage) (obj, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var m obj
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

// firstItems splits a JSON array (already known to be valid) into its
// items, stopping as soon as there are more than max: a hostile body of a
// million records costs a scan, not a million allocations.
func firstItems(arr json.RawMessage, max int) (items []json.RawMessage, tooMany bool) {
	dec := json.NewDecoder(bytes.NewReader(arr))
	if _, err := dec.Token(); err != nil { // [
		return nil, false
	}
	for dec.More() {
		if len(items) == max {
			return nil, true
		}
		var it json.RawMessage
		if dec.Decode(&it) != nil {
			return nil, false
		}
		items = append(items, it)
	}
	return items, false
}

// stringAt reads an optional string member of a whole-body object.
func stringAt(m obj, key, path string) (string, error) {
	raw := m[key]
	if isNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", &Error{Path: path, Message: "must be a string, got " + kind(raw)}
	}
	return s, nil
}

// reader reads a record's members, keeping the first type error.
type reader struct{ err *RecordError }

func (rd *reader) fail(field, format string, args ...any) {
	if rd.err == nil {
		rd.err = &RecordError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
}

// str reads an optional string member; absent and null are "". m may be
// nil (its parent was absent).
func (rd *reader) str(m obj, key, path string) string {
	raw := m[key]
	if rd.err != nil || isNull(raw) {
		return ""
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		rd.fail(path, "must be a string, got %s", kind(raw))
	}
	return s
}

// obj reads an optional object member; absent and null are nil.
func (rd *reader) obj(m obj, key, path string) obj {
	raw := m[key]
	if rd.err != nil || isNull(raw) {
		return nil
	}
	o, ok := asObject(raw)
	if !ok {
		rd.fail(path, "must be an object, got %s", kind(raw))
	}
	return o
}

// size reads an optional byte count: a whole number from 0 to 2^63-1.
func (rd *reader) size(m obj, key, path string) *int64 {
	raw := m[key]
	if rd.err != nil || isNull(raw) {
		return nil
	}
	if kind(raw) != "a number" {
		rd.fail(path, "must be a number, got %s", kind(raw))
		return nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		// 1.5, 1e3 or out of range: accept only exact whole numbers.
		f, ferr := strconv.ParseFloat(string(raw), 64)
		if ferr != nil || f != math.Trunc(f) || f < 0 || f >= math.MaxInt64 {
			rd.fail(path, "%s is not a byte count (a whole number from 0)", clipRaw(raw))
			return nil
		}
		n = int64(f)
	}
	if n < 0 {
		rd.fail(path, "%s is not a byte count (a whole number from 0)", clipRaw(raw))
		return nil
	}
	return &n
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// kind names the JSON type of a raw value for messages.
func kind(raw []byte) string { return jsontext.Kind(raw) }

func join(at, field string) string {
	if at == "" {
		return field
	}
	return at + "." + field
}

// quote quotes a sender's value for a message, cut short (jsontext.Clip).
func quote(s string) string { return jsontext.Clip(s) }

func clipRaw(raw json.RawMessage) string {
	if len(raw) <= jsontext.MaxEcho {
		return string(raw)
	}
	return string(raw[:jsontext.MaxEcho]) + "..."
}

// jsonProblem describes a JSON syntax error with its offset.
func jsonProblem(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		off := se.Offset // the bytes read, the offending one included
		if off > 0 && !strings.HasPrefix(se.Error(), "unexpected end") {
			off--
		}
		return fmt.Sprintf("%v at offset %d", se, off)
	}
	if err != nil {
		return err.Error()
	}
	return "malformed"
}
