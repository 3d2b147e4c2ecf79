package httpsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/jsontext"
	"github.com/eventrouter/eventrouter/rules"
)

// The operations of EventBridge's AWS JSON 1.1 API that routerd speaks.
const (
	targetPutEvents        = "AWSEvents.PutEvents"
	targetTestEventPattern = "AWSEvents.TestEventPattern"
)

// maxPutEventsEntries is EventBridge's PutEvents batch limit.
const maxPutEventsEntries = 10

// awsJSON serves "POST /": the AWS JSON 1.1 protocol names the operation in
// X-Amz-Target. SigV4 signatures were checked in the ingest chain
// (sigv4.go), when credentials are configured.
func (s *server) awsJSON(w http.ResponseWriter, r *http.Request) {
	switch target := r.Header.Get("X-Amz-Target"); target {
	case targetPutEvents:
		s.putEvents(w, r)
	case targetTestEventPattern:
		s.testEventPattern(w, r)
	default:
		if target == "" {
			target = "none"
		}
		// Answer in AWS JSON even without the header: this is the AWS door.
		r.Header.Set("X-Amz-Target", target)
		writeError(w, r, &apiError{status: http.StatusBadRequest, typ: "UnknownOperationException",
			msg: fmt.Sprintf("unknown operation %s in X-Amz-Target; routerd serves %s and %s", clip(target), targetPutEvents, targetTestEventPattern)})
	}
}

// putEvents is EventBridge's PutEvents: 1 to 10 entries, each accepted or
// refused on its own, answered in request order with HTTP 200 either way.
func (s *server) putEvents(w http.ResponseWriter, r *http.Request) {
	const source = "putevents"
	defer s.observe(source, s.now())
	resp, aerr := s.accept(r, source, parsePutEvents, awsEntryMessage)
	if aerr != nil {
		s.refuse(w, r, source, aerr)
		return
	}
	writeJSON(w, contentTypeAmzJSON, http.StatusOK, resp)
}

// parsePutEvents decodes a PutEvents request as AWS does: member names are
// case-sensitive, unknown members are ignored, a member of the wrong JSON
// type fails the whole request (SerializationException), and a value that
// decodes but is not acceptable fails only its entry. bad[i] is non-nil for
// each entry refused here.
func parsePutEvents(body []byte) (entries []event.Entry, bad []*event.EntryError, _ *apiError) {
	// The body is valid JSON once decoded: its parts are read in place.
	var req [2]json.RawMessage // EndpointId, Entries
	if err := decodeMembers(body, []string{"EndpointId", "Entries"}, req[:]); err != nil {
		return nil, nil, err
	}
	// EndpointId names an EventBridge global endpoint; routerd is one
	// endpoint, so it is checked for type and otherwise ignored.
	if _, err := str("EndpointId", req[0]); err != nil {
		return nil, nil, serializationError("%v", err)
	}
	raw := req[1]
	if isNull(raw) {
		return nil, nil, validationError("1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null")
	}
	if raw[0] != '[' {
		return nil, nil, serializationError("Entries: must be an array, got %s", kind(raw))
	}
	items := make([]json.RawMessage, 0, maxPutEventsEntries)
	jsontext.Elements(raw, func(item []byte) { items = append(items, item) })
	if n := len(items); n < 1 || n > maxPutEventsEntries {
		return nil, nil, validationError("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d, got %d", maxPutEventsEntries, n)
	}
	entries = make([]event.Entry, len(items))
	bad = make([]*event.EntryError, len(items))
	complete := false
	for i, item := range items {
		var err error
		entries[i], bad[i], err = parsePutEventsEntry(item)
		if err != nil {
			return nil, nil, serializationError("%s", under(fmt.Sprintf("Entries[%d]", i), err))
		}
		complete = complete || entries[i].Complete()
	}
	// EventBridge fails each entry that lacks one of the three, and the
	// whole request when every entry does.
	if !complete {
		return nil, nil, validationError("no entry has all of Source, DetailType and Detail; EventBridge requires the three in every entry")
	}
	return entries, bad, nil
}

// putEventsMembers are the members of a PutEventsRequestEntry that routerd
// reads, in the order parsePutEventsEntry finds them.
var putEventsMembers = [...]string{"Source", "DetailType", "Detail", "Resources", "EventBusName", "TraceHeader", "Time"}

// parsePutEventsEntry decodes one PutEventsRequestEntry. err is a type
// error (the request fails); bad refuses just this entry.
func parsePutEventsEntry(raw json.RawMessage) (e event.Entry, bad *event.EntryError, err error) {
	if isNull(raw) {
		return e, nil, nil // every required member missing: Validate says which
	}
	if raw[0] != '{' {
		return e, nil, &typeError{"", "an object", kind(raw)}
	}
	var m [len(putEventsMembers)]json.RawMessage
	members(raw, putEventsMembers[:], m[:])
	if e.Source, err = str("Source", m[0]); err != nil {
		return e, nil, err
	}
	if e.DetailType, err = str("DetailType", m[1]); err != nil {
		return e, nil, err
	}
	if e.Detail, err = strBytes("Detail", m[2]); err != nil {
		return e, nil, err
	}
	if e.Resources, err = strs("Resources", m[3]); err != nil {
		return e, nil, err
	}
	bus, err := str("EventBusName", m[4])
	if err != nil {
		return e, nil, err
	}
	// TraceHeader is X-Ray's; routerd does not trace, so it is dropped.
	if _, err = str("TraceHeader", m[5]); err != nil {
		return e, nil, err
	}
	if t := m[6]; !isNull(t) {
		switch {
		case t[0] == '"':
			// Not what AWS sends, but what people write by hand.
			s, _ := str("Time", t)
			if e.Time, err = rfc3339(s); err != nil {
				return e, invalid("Time", err.Error()), nil
			}
		case t[0] == '-' || t[0] >= '0' && t[0] <= '9':
			if e.Time, err = epochTime(string(t)); err != nil {
				return e, invalid("Time", err.Error()), nil
			}
		default:
			return e, nil, &typeError{"Time", "a number of seconds since the epoch or an RFC 3339 string", kind(t)}
		}
	}
	if bus != "" {
		if e.Bus, err = busName(bus); err != nil {
			return e, invalid("EventBusName", err.Error()), nil
		}
	}
	return e, checkDetailDepth(e), nil
}

// invalid is an InvalidArgument refusal of one entry.
func invalid(field, msg string) *event.EntryError {
	return &event.EntryError{Code: "InvalidArgument", Field: field, Message: msg}
}

// checkDetailDepth refuses a detail nested deeper than EventBridge allows;
// event.Validate does the rest.
func checkDetailDepth(e event.Entry) *event.EntryError {
	if tooDeep(e.Detail, MaxDetailDepth) {
		return &event.EntryError{Code: "MalformedDetail", Field: "Detail",
			Message: fmt.Sprintf("nests deeper than %d levels", MaxDetailDepth)}
	}
	return nil
}

// awsEntryMessage words a refusal the way EventBridge does, e.g.
// "Parameter DetailType is not valid. Reason: DetailType is required", for
// a value that is not valid; other refusals, such as a bus that does not
// exist, read "EventBusName: event bus "orders" does not exist".
func awsEntryMessage(_ int, e *event.EntryError) string {
	if e.Field == "" || e.Code != "InvalidArgument" && e.Code != "MalformedDetail" {
		return e.Error()
	}
	return fmt.Sprintf("Parameter %s is not valid. Reason: %s %s", e.Field, e.Field, e.Message)
}

// testEventPattern is EventBridge's TestEventPattern. AWS also requires the
// event to carry id, account, source, time, region and detail-type; routerd
// matches any JSON object, so events written by hand for a quick test work
// too. Patterns are matched against the event exactly as given.
func (s *server) testEventPattern(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(r)
	if aerr == nil {
		var ok bool
		ok, aerr = testPattern(body)
		if aerr == nil {
			writeJSON(w, contentTypeAmzJSON, http.StatusOK, struct{ Result bool }{ok})
			return
		}
	}
	writeError(w, r, aerr)
}

func testPattern(body []byte) (bool, *apiError) {
	var req map[string]json.RawMessage
	if err := decodeBody(body, &req); err != nil {
		return false, err
	}
	pattern, err := str("EventPattern", req["EventPattern"])
	if err != nil {
		return false, serializationError("%v", err)
	}
	ev, err := str("Event", req["Event"])
	if err != nil {
		return false, serializationError("%v", err)
	}
	switch {
	case isNull(req["EventPattern"]):
		return false, validationError("1 validation error detected: Value null at 'eventPattern' failed to satisfy constraint: Member must not be null")
	case isNull(req["Event"]):
		return false, validationError("1 validation error detected: Value null at 'event' failed to satisfy constraint: Member must not be null")
	}
	p, err := rules.Compile([]byte(pattern))
	if err != nil {
		msg := err.Error()
		var re *rules.Error
		if errors.As(err, &re) {
			msg = re.Error()
		}
		return false, &apiError{status: http.StatusBadRequest, typ: "InvalidEventPatternException", msg: msg}
	}
	if tooDeep([]byte(ev), MaxDetailDepth) {
		return false, validationError("Event: nests deeper than %d levels", MaxDetailDepth)
	}
	if err := rules.ValidateEvent([]byte(ev)); err != nil {
		return false, validationError("Event: %v", err)
	}
	return p.Match([]byte(ev)), nil
}
