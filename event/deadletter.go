package event

import (
	"encoding/json"
	"time"

	"github.com/eventrouter/eventrouter/internal/jsontext"
)

// DeadLetter is an event that did not reach a consumer, as its
// dead-letter queue keeps it: the event with EventBridge's DLQ
// attributes.
type DeadLetter struct {
	Event        json.RawMessage `json:"event"`
	Rule         string          `json:"rule"`
	Consumer     string          `json:"consumer"`
	ErrorCode    string          `json:"error_code"`
	ErrorMessage string          `json:"error_message"`
	Reason       string          `json:"reason"` // permanent_error, max_attempts, max_event_age, max_backlog
	Attempts     int             `json:"attempts"`
	// FirstAttempt and LastAttempt are left out of an event that was never
	// tried (max_backlog).
	FirstAttempt time.Time `json:"first_attempt,omitzero"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	Ingested     time.Time `json:"ingested"`
}

// Marshal encodes the record as the DLQ keeps it. Not json.Marshal, which
// would escape <, > and & in the event; an event that is not JSON (they
// come off the bus as JSON) is kept as a string.
func (d DeadLetter) Marshal() []byte {
	b, err := jsontext.Marshal(d)
	if err != nil {
		d.Event, _ = json.Marshal(string(d.Event))
		b, _ = jsontext.Marshal(d)
	}
	return b
}
