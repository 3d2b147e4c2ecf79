package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/router"
)

// The admin API, under /admin/, is what routerctl's online commands call:
//
//	POST   /admin/reload                     reload the configuration file
//	GET    /admin/dlq/{consumer}?limit=N     list dead letters (oldest first)
//	POST   /admin/dlq/{consumer}/replay?limit=N  queue them for delivery again
//	DELETE /admin/dlq/{consumer}             drop them all
//
// {consumer} "_rejected" names the entries published to NATS that could not
// be made into events. A consumer removed by a reload keeps its dead
// letters: they can be listed and purged while there are any, but not
// replayed, having no consumer to go to.
func (a *App) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/reload", a.serveReload)
	mux.HandleFunc("GET /admin/dlq/{consumer}", a.serveDLQList)
	mux.HandleFunc("POST /admin/dlq/{consumer}/replay", a.serveDLQReplay)
	mux.HandleFunc("DELETE /admin/dlq/{consumer}", a.serveDLQPurge)
}

// DLQEntry is one dead letter as the admin API lists it.
type DLQEntry struct {
	Seq    uint64          `json:"seq"`
	Record json.RawMessage `json:"record"`
}

// DLQList is the answer of GET /admin/dlq/{consumer}.
type DLQList struct {
	Consumer string     `json:"consumer"`
	Total    int        `json:"total"`
	Entries  []DLQEntry `json:"entries"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// dlqRequest is a DLQ request's consumer, with the bus's store and the
// limit asked for.
type dlqRequest struct {
	name  string
	topic string
	st    bus.Store
	limit int
	// configured is false for a consumer a reload removed whose dead
	// letters are still kept, and for _rejected.
	configured bool
}

// dlqTarget resolves the consumer of a DLQ request. A consumer that is no
// longer configured still has its dead letters listed and purged, until
// none are left; then it is 404 as any unknown name.
func (a *App) dlqTarget(w http.ResponseWriter, r *http.Request) (dlqRequest, bool) {
	d := dlqRequest{name: r.PathValue("consumer"), limit: 100}
	d.topic = bus.DLQTopic(d.name)
	a.mu.Lock()
	_, d.configured = a.cfg.Consumers[d.name]
	a.mu.Unlock()
	st, ok := a.bus.(bus.Store)
	if !ok {
		adminError(w, http.StatusNotImplemented, "this bus cannot inspect queues")
		return d, false
	}
	d.st = st
	if !d.configured && d.topic != router.RejectedTopic {
		total := 0
		if event.ValidName(d.name) { // else not a consumer, nor a subject to ask about
			var err error
			if _, total, err = st.List(r.Context(), d.topic, 0); err != nil {
				adminError(w, http.StatusServiceUnavailable, "%v", err)
				return d, false
			}
		}
		if total == 0 {
			adminError(w, http.StatusNotFound, "no consumer %q", d.name)
			return d, false
		}
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			adminError(w, http.StatusBadRequest, "limit: %q is not a number from 1 to 10000", v)
			return d, false
		}
		d.limit = n
	}
	return d, true
}

func (a *App) serveDLQList(w http.ResponseWriter, r *http.Request) {
	d, ok := a.dlqTarget(w, r)
	if !ok {
		return
	}
	kept, total, err := d.st.List(r.Context(), d.topic, d.limit)
	if err != nil {
		adminError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out := DLQList{Consumer: d.name, Total: total, Entries: []DLQEntry{}}
	for _, k := range kept {
		rec := json.RawMessage(k.Payload)
		if !json.Valid(rec) {
			rec, _ = json.Marshal(string(k.Payload))
		}
		out.Entries = append(out.Entries, DLQEntry{Seq: k.Seq, Record: rec})
	}
	writeJSON(w, http.StatusOK, out)
}

// serveDLQReplay queues dead letters for delivery again, oldest first: each
// event goes back on its consumer's queue as new, with a fresh age and
// attempt count, and leaves the DLQ once it is there.
func (a *App) serveDLQReplay(w http.ResponseWriter, r *http.Request) {
	d, ok := a.dlqTarget(w, r)
	if !ok {
		return
	}
	name, st := d.name, d.st
	switch {
	case d.topic == router.RejectedTopic:
		adminError(w, http.StatusBadRequest, "rejected entries are not events and cannot be replayed; list them, fix the publisher, purge them")
		return
	case !d.configured:
		adminError(w, http.StatusConflict, "consumer %q is no longer configured, so its dead letters have nowhere to go; list or purge them, or configure the consumer again and replay", name)
		return
	}
	kept, _, err := st.List(r.Context(), d.topic, d.limit)
	if err != nil {
		adminError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	replayed := 0
	for _, k := range kept {
		var dl event.DeadLetter
		if err := json.Unmarshal(k.Payload, &dl); err != nil || len(dl.Event) == 0 {
			adminError(w, http.StatusConflict, "dead letter %d is not a record this routerd wrote; %d replayed before it", k.Seq, replayed)
			return
		}
		id := k.Metadata[bus.EventIDKey]
		m := k.Message(fmt.Sprintf("%s:%s:replay-%d", id, name, k.Seq))
		m.Payload = []byte(dl.Event)
		m.Metadata.Set(bus.IngestedKey, time.Now().UTC().Format(time.RFC3339Nano))
		if err := a.bus.Publish(bus.DeliverTopic(name), m); err != nil {
			adminError(w, http.StatusServiceUnavailable, "replay: %v; %d replayed before", err, replayed)
			return
		}
		if err := st.Delete(r.Context(), d.topic, k.Seq); err != nil {
			adminError(w, http.StatusServiceUnavailable, "replayed %d but could not remove it from the DLQ: %v", k.Seq, err)
			return
		}
		replayed++
	}
	a.log.Info("dead letters replayed", "consumer", name, "count", replayed)
	writeJSON(w, http.StatusOK, map[string]any{"consumer": name, "replayed": replayed})
}

func (a *App) serveDLQPurge(w http.ResponseWriter, r *http.Request) {
	d, ok := a.dlqTarget(w, r)
	if !ok {
		return
	}
	n, err := d.st.Purge(r.Context(), d.topic)
	if err != nil {
		adminError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	a.log.Warn("dead letters purged", "consumer", d.name, "count", n)
	writeJSON(w, http.StatusOK, map[string]any{"consumer": d.name, "purged": n})
}
