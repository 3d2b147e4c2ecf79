package httpsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/event"
)

// MaxEventsPerRequest bounds the entries in one /v1/events request. Far
// above PutEvents' 10 so that batching pays off, low enough that one request
// answers quickly even when each entry waits for its own durable ack.
const MaxEventsPerRequest = 100

// maxIDLen bounds a client-supplied event id.
const maxIDLen = 128

// events serves "POST /v1/events": one entry object or an array of them,
// answered in PutEvents' shape. Unlike PutEvents the status tells the
// outcome: 200 when every entry was accepted, 400 when any was refused. The
// entries without an ErrorCode in a 400 answer were accepted all the same;
// resend only the refused ones.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	const source = "events"
	defer s.observe(source, s.now())
	resp, aerr := s.accept(r, source, parseEvents, eventsEntryMessage)
	if aerr != nil {
		s.refuse(w, r, source, aerr)
		return
	}
	writeOutcome(w, resp)
}

// parseEvents decodes a /v1/events body. Entries are decoded strictly:
// member names are exact, an unknown member or a wrong type refuses the
// entry, naming the member. bad[i] is non-nil for each entry refused here.
func parseEvents(body []byte) (entries []event.Entry, bad []*event.EntryError, _ *apiError) {
	var items []json.RawMessage
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := decodeBody(body, &items); err != nil {
			return nil, nil, err
		}
		switch {
		case len(items) == 0:
			return nil, nil, validationError("the array holds no entries")
		case len(items) > MaxEventsPerRequest:
			return nil, nil, validationError("%d entries in one request, more than the limit of %d", len(items), MaxEventsPerRequest)
		}
	} else {
		var one json.RawMessage
		if err := decodeBody(body, &one); err != nil {
			return nil, nil, err
		}
		if one[0] != '{' {
			return nil, nil, validationError("the body must be an entry object or an array of them, got %s", kind(one))
		}
		items = []json.RawMessage{one}
	}
	entries = make([]event.Entry, len(items))
	bad = make([]*event.EntryError, len(items))
	for i, it := range items {
		entries[i], bad[i] = parseEventsEntry(it)
	}
	return entries, bad, nil
}

// eventsFields are the members of a /v1/events entry, for messages.
var eventsFields = []string{"source", "detail-type", "detail", "id", "time", "resources", "bus"}

// parseEventsEntry decodes one /v1/events entry. Errors name fields by
// their PutEvents names (as event.Validate's do); eventsEntryMessage
// renames them.
func parseEventsEntry(raw json.RawMessage) (e event.Entry, bad *event.EntryError) {
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return e, invalid("", "must be a JSON object, got "+kind(raw))
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(eventsFields, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return e, invalid("", fmt.Sprintf("unknown field %s (an entry has %s)", clip(unknown[0]), strings.Join(eventsFields, ", ")))
	}
	var err error
	if e.Source, err = str("Source", m["source"]); err != nil {
		return e, typeInvalid(err)
	}
	if e.DetailType, err = str("DetailType", m["detail-type"]); err != nil {
		return e, typeInvalid(err)
	}
	if d := m["detail"]; !isNull(d) {
		if d[0] != '{' {
			return e, &event.EntryError{Code: "MalformedDetail", Field: "Detail", Message: "must be a JSON object, got " + kind(d)}
		}
		e.Detail = d
	}
	if e.ID, err = str("Id", m["id"]); err != nil {
		return e, typeInvalid(err)
	}
	if e.Resources, err = strs("Resources", m["resources"]); err != nil {
		return e, typeInvalid(err)
	}
	if t := m["time"]; !isNull(t) {
		s, err := str("Time", t)
		if err != nil {
			return e, typeInvalid(err)
		}
		if e.Time, err = rfc3339(s); err != nil {
			return e, invalid("Time", err.Error())
		}
	}
	bus, err := str("EventBusName", m["bus"])
	if err != nil {
		return e, typeInvalid(err)
	}
	if bus != "" {
		if e.Bus, err = busName(bus); err != nil {
			return e, invalid("EventBusName", err.Error())
		}
	}
	if m["id"] != nil && !validID(e.ID) {
		return e, invalid("Id", fmt.Sprintf("must be 1 to %d printable ASCII characters without spaces", maxIDLen))
	}
	return e, checkDetailDepth(e)
}

// validID keeps client ids safe wherever the id travels: NATS message ids,
// the Idempotency-Key header of HTTP sinks, log lines.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// typeInvalid refuses an entry whose member has the wrong JSON type.
func typeInvalid(err error) *event.EntryError {
	var te *typeError
	if !errors.As(err, &te) {
		return invalid("", err.Error())
	}
	return invalid(te.field, fmt.Sprintf("must be %s, got %s", te.want, te.got))
}

// eventsNames maps the PutEvents field names errors use to /v1/events'.
var eventsNames = map[string]string{
	"Source": "source", "DetailType": "detail-type", "Detail": "detail", "Id": "id",
	"Time": "time", "Resources": "resources", "EventBusName": "bus",
}

// eventsEntryMessage words a refusal with the entry's index in the request
// and the field's /v1/events name, e.g. "entry 2: detail: must be a JSON
// object".
func eventsEntryMessage(i int, e *event.EntryError) string {
	field := e.Field
	if n, ok := eventsNames[field]; ok {
		field = n
	} else if base, idx, ok := strings.Cut(field, "["); ok {
		if n, ok := eventsNames[base]; ok {
			field = n + "[" + idx
		}
	}
	if field == "" {
		return fmt.Sprintf("entry %d: %s", i, e.Message)
	}
	return fmt.Sprintf("entry %d: %s: %s", i, field, e.Message)
}
