package httpsrc

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/event"
	"github.com/google/uuid"
)

// ceNamespace is the UUIDv5 namespace of envelope ids derived from
// CloudEvents, itself a name-based UUID so that anyone can recompute it
// (CLOUDEVENTS.md gives its value).
var ceNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/eventrouter/eventrouter/cloudevents"))

// ceDetailKey is the detail member that holds an event's attributes.
const ceDetailKey = "cloudevents"

// Media types of the JSON event format.
const (
	ceStructuredType = "application/cloudevents+json"
	ceBatchType      = "application/cloudevents-batch+json"
)

// maxAttrNameLen is the spec's limit on attribute names (a SHOULD there,
// enforced here so that names stay usable as headers and pattern keys).
const maxAttrNameLen = 20

// ceCore are the context attributes the spec defines, in the order
// detail.cloudevents lists them; extensions follow, sorted by name.
var ceCore = []string{"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}

// ceMode is the HTTP binding's content mode.
type ceMode int

const (
	ceBinary ceMode = iota
	ceStructured
	ceBatch
)

// cloudEvents serves "POST /v1/cloudevents": CloudEvents 1.0 over HTTP, in
// the three modes of the HTTP protocol binding, told apart by Content-Type
// as the binding says:
//
//   - structured: application/cloudevents+json, one event in the JSON format;
//   - batch: application/cloudevents-batch+json, a JSON array of them (up to
//     MaxEventsPerRequest; an empty batch is valid and accepts nothing);
//   - binary: any other Content-Type (or none). The attributes are ce-*
//     headers (percent-decoded), the body is the data and Content-Type is its
//     datacontenttype.
//
// Other CloudEvents formats (application/cloudevents+avro, ...) get 415.
// The optional query parameter ?bus=NAME (a name or an event bus ARN)
// sends every event of the request to that bus, since CloudEvents has no
// such attribute and senders are configured with a URL.
//
// Each event becomes one EventBridge envelope:
//
//	CloudEvents          envelope
//	-------------------  ------------------------------------------------------
//	type                 detail-type
//	source               source
//	source + id          id: UUIDv5(ceNamespace, source + "\x00" + id)
//	time                 time (UTC, to the second; acceptance time if absent)
//	data, data_base64    detail (below)
//	every attribute      detail.cloudevents: {"specversion":"1.0","id":...,
//	                     "source":...,"type":...,"subject":...,"<ext>":...},
//	                     verbatim, as strings
//	-                    resources: [] (subject stays an attribute)
//
// detail is decided by the data and its datacontenttype, the same whatever
// the mode, mirroring the JSON format's own data/data_base64 rule:
//
//	data                                 detail
//	-----------------------------------  -------------------------------------
//	none                                 {"cloudevents":{...}}
//	JSON object (datacontenttype absent  {...data's members...,
//	  in structured mode, */json or        "cloudevents":{...}}
//	  */*+json)
//	other JSON value (array, string,     {"data":<value>,"cloudevents":{...}}
//	  number, boolean, null)
//	text (a JSON string with a non-JSON  {"data":"<text>","cloudevents":{...}}
//	  type; or bytes of a text/*, */xml
//	  or */*+xml type in valid UTF-8)
//	other bytes                          {"data_base64":"...","cloudevents":{...}}
//
// Why so: patterns match detail.<field> for JSON object data, as they
// would for an EventBridge event; the attributes stay matchable under
// detail.cloudevents and none is dropped, so the original event can be
// rebuilt; and bytes (binary mode's body, data_base64) that the
// datacontenttype says are JSON are parsed, so the same event sent in any
// mode, by any SDK, yields the same envelope, byte for byte. A JSON object
// data with its own top-level "cloudevents" member is refused rather than
// overwritten.
//
// Why the id is derived: the bus deduplicates on the envelope id (JetStream's
// duplicate window) and sinks get it as the Idempotency-Key, but CloudEvents
// ids are unique only within a source: two sources each sending id "1"
// would lose an event. A name-based UUID of source and id keeps a sender's
// retries idempotent, keeps different sources apart, and is a safe token
// for NATS headers and HTTP whatever the id holds. The id as sent stays in
// detail.cloudevents.id.
//
// Binary mode takes any Content-Type, text/plain included, without
// reopening the cross-site hole jsonMediaType closes: ce-specversion is
// required, and a browser sends such a header cross-site only after a
// preflight routerd does not answer.
//
// The answer has PutEvents' shape with /v1/events' statuses: 200 when every
// event was accepted, 400 when any was refused (the others were accepted
// all the same). CLOUDEVENTS.md has examples.
func (s *server) cloudEvents(w http.ResponseWriter, r *http.Request) {
	const source = "cloudevents"
	defer s.observe(source, s.now())
	resp, aerr := s.acceptCloudEvents(r, source)
	if aerr != nil {
		s.refuse(w, r, source, aerr)
		return
	}
	writeOutcome(w, resp)
}

// acceptCloudEvents is s.accept for CloudEvents: the mode, hence the
// parser, depends on the headers, and binary mode takes any body.
func (s *server) acceptCloudEvents(r *http.Request, source string) (putEventsResponse, *apiError) {
	mode, aerr := cloudEventsMode(r.Header.Get("Content-Type"))
	if aerr != nil {
		return putEventsResponse{}, aerr
	}
	var bus string
	if b := r.URL.Query().Get("bus"); b != "" {
		var err error
		if bus, err = busName(b); err != nil {
			return putEventsResponse{}, validationError("query parameter bus: %v", err)
		}
	}
	body, aerr := readAll(r)
	if aerr != nil {
		return putEventsResponse{}, aerr
	}
	var entries []event.Entry
	var bad []*event.EntryError
	switch mode {
	case ceStructured:
		entries, bad, aerr = parseStructuredCloudEvent(body)
	case ceBatch:
		entries, bad, aerr = parseCloudEventsBatch(body)
	default:
		e, b := parseBinaryCloudEvent(r.Header, body)
		entries, bad = []event.Entry{e}, []*event.EntryError{b}
	}
	if aerr != nil {
		return putEventsResponse{}, aerr
	}
	for i := range entries {
		entries[i].Bus = bus
	}
	resp, err := s.ingest(r, source, entries, bad, cloudEventsMessage(mode))
	if err != nil {
		return putEventsResponse{}, errUnavailable(err)
	}
	return resp, nil
}

// cloudEventsMode reads the content mode from Content-Type, as the HTTP
// binding does: the CloudEvents media types mean structured or batch mode,
// anything else binary mode.
func cloudEventsMode(ct string) (ceMode, *apiError) {
	if ct == "" {
		return ceBinary, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, unsupportedMedia("Content-Type %s is not a media type", clip(ct))
	}
	mode := ceBinary
	switch {
	case mt == ceStructuredType:
		mode = ceStructured
	case mt == ceBatchType:
		mode = ceBatch
	case strings.HasPrefix(mt, "application/cloudevents"):
		return 0, unsupportedMedia("Content-Type %s: routerd reads CloudEvents in the JSON format only: %s (structured mode), %s (batch mode), or any other type with ce-* headers (binary mode)",
			clip(mt), ceStructuredType, ceBatchType)
	}
	if cs, ok := params["charset"]; ok && mode != ceBinary && !strings.EqualFold(cs, "utf-8") {
		return 0, unsupportedMedia("Content-Type %s: charset must be utf-8", clip(ct))
	}
	return mode, nil
}

func unsupportedMedia(format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnsupportedMediaType, typ: "UnsupportedMediaTypeException", msg: fmt.Sprintf(format, args...)}
}

// parseStructuredCloudEvent decodes a structured-mode body: one event in
// the JSON format.
func parseStructuredCloudEvent(body []byte) ([]event.Entry, []*event.EntryError, *apiError) {
	var one json.RawMessage
	if err := decodeBody(body, &one); err != nil {
		return nil, nil, err
	}
	if one[0] != '{' {
		hint := ""
		if one[0] == '[' {
			hint = "; send a batch as " + ceBatchType
		}
		return nil, nil, serializationError("a structured CloudEvent must be a JSON object, got %s%s", kind(one), hint)
	}
	e, bad := parseJSONCloudEvent(one)
	return []event.Entry{e}, []*event.EntryError{bad}, nil
}

// parseCloudEventsBatch decodes a batch-mode body: a JSON array of events
// in the JSON format, each accepted or refused on its own.
func parseCloudEventsBatch(body []byte) ([]event.Entry, []*event.EntryError, *apiError) {
	var arr json.RawMessage
	if err := decodeBody(body, &arr); err != nil {
		return nil, nil, err
	}
	var items []json.RawMessage
	if arr[0] != '[' || json.Unmarshal(arr, &items) != nil {
		return nil, nil, serializationError("a CloudEvents batch must be a JSON array of events, got %s", kind(arr))
	}
	if len(items) > MaxEventsPerRequest {
		return nil, nil, validationError("%d events in one batch, more than the limit of %d", len(items), MaxEventsPerRequest)
	}
	entries := make([]event.Entry, len(items))
	bad := make([]*event.EntryError, len(items))
	for i, it := range items {
		if it[0] != '{' {
			bad[i] = invalid("", "must be a JSON object, got "+kind(it))
			continue
		}
		entries[i], bad[i] = parseJSONCloudEvent(it)
	}
	return entries, bad, nil
}

// cloudEvent is one event as received, before it becomes an entry.
type cloudEvent struct {
	// attrs are the context attributes in their canonical string form
	// (the form binary mode's headers carry), so that every mode maps alike.
	attrs  map[string]string
	binary bool // attributes came from headers: errors name the headers
	data   []byte
	dataAs dataKind
}

// dataKind says what cloudEvent.data holds.
type dataKind int

const (
	noData   dataKind = iota
	jsonData          // a JSON value
	textData          // text, UTF-8
	binData           // bytes
)

// parseJSONCloudEvent decodes one event in the JSON format (a JSON object).
// null members are absent, as the format says.
func parseJSONCloudEvent(raw json.RawMessage) (event.Entry, *event.EntryError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return event.Entry{}, invalid("", "must be a JSON object, got "+kind(raw))
	}
	ce := cloudEvent{attrs: map[string]string{}}
	// specversion first: for an event of another version, that is the news.
	if v := m["specversion"]; !isNull(v) {
		sv, err := str("specversion", v)
		if err != nil {
			return event.Entry{}, invalid("specversion", `must be "1.0", got `+kind(v))
		}
		ce.attrs["specversion"] = sv
	}
	if bad := ce.checkSpecVersion(); bad != nil {
		return event.Entry{}, bad
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := m[name]
		if name == "specversion" || name == "data" || name == "data_base64" || isNull(v) {
			continue
		}
		if bad := checkAttrName(name); bad != nil {
			return event.Entry{}, bad
		}
		var s string
		var err error
		if slices.Contains(ceCore, name) {
			s, err = str(name, v)
		} else {
			s, err = extensionValue(name, v)
		}
		if err != nil {
			return event.Entry{}, typeInvalid(err)
		}
		ce.attrs[name] = s
	}
	if bad := ce.check(); bad != nil {
		return event.Entry{}, bad
	}
	if bad := ce.jsonData(m["data"], m["data_base64"]); bad != nil {
		return event.Entry{}, bad
	}
	return ce.entry()
}

// extensionValue is an extension attribute's canonical string: the JSON
// format carries them as strings, integers or booleans.
func extensionValue(name string, v json.RawMessage) (string, error) {
	switch c := v[0]; {
	case c == '"':
		return str(name, v)
	case string(v) == "true" || string(v) == "false":
		return string(v), nil
	case c == '-' || c >= '0' && c <= '9':
		n, err := strconv.ParseInt(string(v), 10, 32)
		if err != nil {
			return "", &typeError{name, "a string, a boolean or an integer from -2147483648 to 2147483647", "the number " + clip(string(v))}
		}
		return strconv.FormatInt(n, 10), nil
	}
	return "", &typeError{name, "a string, a boolean or an integer", kind(v)}
}

// jsonData takes the JSON format's data or data_base64 member.
func (ce *cloudEvent) jsonData(data, b64 json.RawMessage) *event.EntryError {
	ct, hasCT := ce.attrs["datacontenttype"]
	switch {
	case !isNull(b64) && data != nil:
		return &event.EntryError{Code: "MalformedDetail", Field: "data_base64", Message: "must not be given together with data"}
	case !isNull(b64):
		s, err := str("data_base64", b64)
		if err != nil {
			return &event.EntryError{Code: "MalformedDetail", Field: "data_base64", Message: "must be a base64 string, got " + kind(b64)}
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
				return &event.EntryError{Code: "MalformedDetail", Field: "data_base64", Message: "is not base64 (RFC 4648): " + err.Error()}
			}
		}
		return ce.bytesData("data_base64", b)
	case data == nil:
		return nil
	case !hasCT || isJSONType(ct):
		ce.data, ce.dataAs = data, jsonData // null too: an explicit null payload
		return nil
	}
	s, err := str("data", data)
	if err != nil || isNull(data) {
		return &event.EntryError{Code: "MalformedDetail", Field: "data",
			Message: fmt.Sprintf("must be a string when datacontenttype (%s) is not JSON, got %s", clip(ct), kind(data))}
	}
	ce.data, ce.dataAs = []byte(s), textData
	return nil
}

// bytesData takes data given as bytes (binary mode's body, a decoded
// data_base64) and reads it as its datacontenttype says.
func (ce *cloudEvent) bytesData(field string, b []byte) *event.EntryError {
	ct, hasCT := ce.attrs["datacontenttype"]
	switch {
	case hasCT && isJSONType(ct):
		if !utf8.Valid(b) {
			return &event.EntryError{Code: "MalformedDetail", Field: field,
				Message: fmt.Sprintf("is not valid UTF-8 at offset %d, but %s %s says JSON", invalidUTF8At(b), ce.field("datacontenttype"), clip(ct))}
		}
		if !json.Valid(b) {
			return &event.EntryError{Code: "MalformedDetail", Field: field,
				Message: fmt.Sprintf("is not valid JSON, but %s %s says it is: %s", ce.field("datacontenttype"), clip(ct), jsonSyntax(b))}
		}
		ce.data, ce.dataAs = b, jsonData
	case hasCT && isTextType(ct) && utf8.Valid(b):
		ce.data, ce.dataAs = b, textData
	default:
		ce.data, ce.dataAs = b, binData
	}
	return nil
}

// jsonSyntax describes why b is not JSON, with the offset.
func jsonSyntax(b []byte) string {
	var v json.RawMessage
	if aerr := decodeBody(b, &v); aerr != nil {
		return strings.TrimPrefix(aerr.msg, "invalid JSON: ")
	}
	return "malformed"
}

// isJSONType reports a media type the JSON format treats as JSON: subtype
// json or a +json suffix.
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	_, sub, _ := strings.Cut(mt, "/")
	return sub == "json" || strings.HasSuffix(sub, "+json")
}

// isTextType reports a media type whose bytes are text: such data stays
// readable (and matchable) in detail.data instead of becoming base64.
func isTextType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	typ, sub, _ := strings.Cut(mt, "/")
	return typ == "text" || sub == "xml" || strings.HasSuffix(sub, "+xml")
}

// parseBinaryCloudEvent decodes a binary-mode request: ce-* headers are the
// attributes, Content-Type the datacontenttype, the body the data.
func parseBinaryCloudEvent(h http.Header, body []byte) (event.Entry, *event.EntryError) {
	ce := cloudEvent{attrs: map[string]string{}, binary: true}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var headerErr *event.EntryError
	for _, k := range keys {
		name, ok := strings.CutPrefix(strings.ToLower(k), "ce-")
		if !ok {
			continue
		}
		field := ce.field(name)
		switch v, err := headerValue(h[k]); {
		case name == "datacontenttype":
			headerErr = cmp.Or(headerErr, invalid("ce-datacontenttype", "must not be sent in binary mode: Content-Type is the datacontenttype"))
		case err != nil:
			headerErr = cmp.Or(headerErr, invalid(field, err.Error()))
		default:
			ce.attrs[name] = v
		}
	}
	if bad := ce.checkSpecVersion(); bad != nil {
		return event.Entry{}, bad
	}
	if headerErr != nil {
		return event.Entry{}, headerErr
	}
	if ct := h.Get("Content-Type"); ct != "" {
		ce.attrs["datacontenttype"] = ct
	}
	if bad := ce.check(); bad != nil {
		return event.Entry{}, bad
	}
	if len(body) > 0 {
		if bad := ce.bytesData("data", body); bad != nil {
			return event.Entry{}, bad
		}
	}
	return ce.entry()
}

// headerValue decodes a ce-* header as the HTTP binding says: a
// double-quoted string is unquoted, then %XX sequences are decoded, and the
// result must be UTF-8. A % not followed by two hex digits is kept as is:
// some SDKs (the Go SDK among them) do not percent-encode.
func headerValue(vs []string) (string, error) {
	if len(vs) != 1 {
		return "", fmt.Errorf("given %d times; send it once", len(vs))
	}
	v := vs[0]
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			if v[i] == '\\' && i+1 < len(v)-1 {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	if strings.IndexByte(v, '%') >= 0 {
		b := make([]byte, 0, len(v))
		for i := 0; i < len(v); i++ {
			if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
				n, _ := strconv.ParseUint(v[i+1:i+3], 16, 8)
				b = append(b, byte(n))
				i += 2
				continue
			}
			b = append(b, v[i])
		}
		v = string(b)
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("is not valid UTF-8 once percent-decoded (offset %d)", invalidUTF8At([]byte(v)))
	}
	return v, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// field names an attribute as the client sent it; an overlong (invalid)
// name is quoted and clipped rather than echoed whole.
func (ce *cloudEvent) field(name string) string {
	f := name
	switch {
	case ce.binary && name == "datacontenttype":
		return "Content-Type"
	case ce.binary:
		f = "ce-" + name
	}
	if len(name) > maxAttrNameLen {
		return clip(f)
	}
	return f
}

// checkSpecVersion refuses what is not a CloudEvents 1.0 event, first,
// since nothing else about such a request is worth saying.
func (ce *cloudEvent) checkSpecVersion() *event.EntryError {
	sv, ok := ce.attrs["specversion"]
	switch {
	case !ok && ce.binary:
		return invalid("ce-specversion", "is required (binary mode: the attributes go in ce-* headers; for an event as a JSON object use Content-Type "+ceStructuredType+")")
	case !ok:
		return invalid("specversion", "is required")
	case sv != "1.0":
		return invalid(ce.field("specversion"), `must be "1.0", got `+clip(sv))
	}
	return nil
}

// checkAttrName enforces the spec's attribute names: lower-case ASCII
// letters and digits, here at most 20 of them.
func checkAttrName(name string) *event.EntryError {
	ok := name != "" && len(name) <= maxAttrNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	if ok && name != "data" {
		return nil
	}
	return invalid("", fmt.Sprintf("attribute name %s is not valid: names are 1 to %d lower-case letters (a-z) and digits, and not \"data\"", clip(name), maxAttrNameLen))
}

// check validates the attributes, in a fixed order so that an event's
// first problem is always the one reported.
func (ce *cloudEvent) check() *event.EntryError {
	exts := make([]string, 0, len(ce.attrs))
	for name := range ce.attrs {
		if !slices.Contains(ceCore, name) {
			exts = append(exts, name)
		}
	}
	slices.Sort(exts)
	for _, name := range append(slices.Clone(ceCore), exts...) {
		v, ok := ce.attrs[name]
		if !ok {
			if name == "id" || name == "source" || name == "type" {
				return invalid(ce.field(name), "is required")
			}
			continue
		}
		if bad := checkAttrName(name); bad != nil && ce.binary {
			return invalid(ce.field(name), bad.Message)
		}
		if v == "" {
			return invalid(ce.field(name), "must not be empty")
		}
		if i := strings.IndexFunc(v, isControl); i >= 0 {
			return invalid(ce.field(name), fmt.Sprintf("must not contain control characters (U+0000-U+001F, U+007F-U+009F); found %U at offset %d", firstRune(v[i:]), i))
		}
		var problem string
		switch name {
		case "source":
			problem = uriRefProblem(v)
		case "dataschema":
			if problem = uriRefProblem(v); problem == "" {
				if u, _ := url.Parse(v); u.Scheme == "" {
					problem = "is not an absolute URI (RFC 3986): it has no scheme"
				}
			}
		case "time":
			if _, err := rfc3339(v); err != nil {
				problem = err.Error()
			}
		case "datacontenttype":
			if !isMediaType(v) {
				problem = clip(v) + " is not a media type (RFC 2046)"
			}
		}
		if problem != "" {
			return invalid(ce.field(name), problem)
		}
	}
	return nil
}

// isMediaType reports an RFC 2046 type/subtype with optional parameters.
func isMediaType(v string) bool {
	mt, _, err := mime.ParseMediaType(v)
	typ, sub, ok := strings.Cut(mt, "/")
	return err == nil && ok && typ != "" && sub != ""
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// isControl reports the characters CloudEvents strings must not hold.
func isControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f
}

// uriRefProblem says why s is not an RFC 3986 URI-reference, or "".
// Characters outside the RFC's set must be percent-encoded.
func uriRefProblem(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return fmt.Sprintf("%s is not a URI-reference (RFC 3986): %% at offset %d is not followed by two hex digits", clip(s), i)
			}
			i += 2
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0:
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Sprintf("%s is not a URI-reference (RFC 3986): %q at offset %d must be percent-encoded", clip(s), r, i)
		}
	}
	if _, err := url.Parse(s); err != nil {
		return fmt.Sprintf("%s is not a URI-reference (RFC 3986)", clip(s))
	}
	return ""
}

// entry maps a checked event to an entry, as the table at the top says.
func (ce *cloudEvent) entry() (event.Entry, *event.EntryError) {
	e := event.Entry{
		Source:     ce.attrs["source"],
		DetailType: ce.attrs["type"],
		ID:         uuid.NewSHA1(ceNamespace, []byte(ce.attrs["source"]+"\x00"+ce.attrs["id"])).String(),
	}
	if t, ok := ce.attrs["time"]; ok {
		e.Time, _ = rfc3339(t) // checked
	}
	var d bytes.Buffer
	d.WriteByte('{')
	switch ce.dataAs {
	case jsonData:
		var c bytes.Buffer
		if err := json.Compact(&c, ce.data); err != nil {
			return e, &event.EntryError{Code: "MalformedDetail", Field: "data", Message: "is not valid JSON: " + jsonSyntax(ce.data)}
		}
		if c.Bytes()[0] == '{' {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(c.Bytes(), &members); err != nil {
				return e, &event.EntryError{Code: "MalformedDetail", Field: "data", Message: err.Error()}
			}
			if _, ok := members[ceDetailKey]; ok {
				return e, &event.EntryError{Code: "MalformedDetail", Field: "data",
					Message: fmt.Sprintf("has a top-level member %q, the detail member routerd keeps the event's attributes in", ceDetailKey)}
			}
			if inner := c.Bytes()[1 : c.Len()-1]; len(inner) > 0 {
				d.Write(inner)
				d.WriteByte(',')
			}
		} else {
			d.WriteString(`"data":`)
			d.Write(c.Bytes())
			d.WriteByte(',')
		}
	case textData:
		d.WriteString(`"data":`)
		writeJSONString(&d, string(ce.data))
		d.WriteByte(',')
	case binData:
		d.WriteString(`"data_base64":"`)
		d.WriteString(base64.StdEncoding.EncodeToString(ce.data))
		d.WriteString(`",`)
	}
	d.WriteString(`"` + ceDetailKey + `":{`)
	exts := make([]string, 0, len(ce.attrs))
	for name := range ce.attrs {
		if !slices.Contains(ceCore, name) {
			exts = append(exts, name)
		}
	}
	slices.Sort(exts)
	first := true
	for _, name := range append(slices.Clone(ceCore), exts...) {
		v, ok := ce.attrs[name]
		if !ok {
			continue
		}
		if !first {
			d.WriteByte(',')
		}
		first = false
		writeJSONString(&d, name)
		d.WriteByte(':')
		writeJSONString(&d, v)
	}
	d.WriteString("}}")
	e.Detail = d.Bytes()
	return e, checkDetailDepth(e)
}

// writeJSONString writes s as a JSON string, leaving <, > and & as they
// are, as Envelope.Marshal does.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

// ceNames maps the PutEvents field names of errors from elsewhere
// (event.Validate, the Ingester and its schemas) to CloudEvents attribute
// names. Detail stays "detail": those errors are about the detail built
// from the event (schemas are written for it), JSON paths included.
var ceNames = map[string]string{"Source": "source", "DetailType": "type", "Detail": "detail", "EventBusName": "bus"}

// cloudEventsMessage words a refusal: the attribute as the client sent it
// (ce-source in binary mode), and in batch mode the event's index, e.g.
// "event 2: source: is required".
func cloudEventsMessage(mode ceMode) func(int, *event.EntryError) string {
	return func(i int, e *event.EntryError) string {
		field := e.Field
		if n, ok := ceNames[field]; ok {
			field = n
			if mode == ceBinary && (n == "source" || n == "type") {
				field = "ce-" + n
			}
		}
		msg := e.Message
		if field != "" {
			msg = field + ": " + msg
		}
		if mode == ceBatch {
			msg = fmt.Sprintf("event %d: %s", i, msg)
		}
		return msg
	}
}
