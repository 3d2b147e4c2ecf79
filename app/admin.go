package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/consumers"
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
// be made into events.
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

// dlqTarget resolves the consumer of a DLQ request and the bus store.
func (a *App) dlqTarget(w http.ResponseWriter, r *http.Request) (string, bus.Store, int, bool) {
	name := r.PathValue("consumer")
	a.mu.Lock()
	_, known := a.cfg.Consumers[name]
	a.mu.Unlock()
	if !known && bus.DLQTopic(name) != router.RejectedTopic {
		adminError(w, http.StatusNotFound, "no consumer %q", name)
		return "", nil, 0, false
	}
	st, ok := a.bus.(bus.Store)
	if !ok {
		adminError(w, http.StatusNotImplemented, "this bus cannot inspect queues")
		return "", nil, 0, false
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			adminError(w, http.StatusBadRequest, "limit: %q is not a number from 1 to 10000", v)
			return "", nil, 0, false
		}
		limit = n
	}
	return name, st, limit, true
}

func (a *App) serveDLQList(w http.ResponseWriter, r *http.Request) {
	name, st, limit, ok := a.dlqTarget(w, r)
	if !ok {
		return
	}
	kept, total, err := st.List(r.Context(), bus.DLQTopic(name), limit)
	if err != nil {
		adminError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out := DLQList{Consumer: name, Total: total, Entries: []DLQEntry{}}
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
	name, st, limit, ok := a.dlqTarget(w, r)
	if !ok {
		return
	}
	if bus.DLQTopic(name) == router.RejectedTopic {
		adminError(w, http.StatusBadRequest, "rejected entries are not events and cannot be replayed; list them, fix the publisher, purge them")
		return
	}
	kept, _, err := st.List(r.Context(), bus.DLQTopic(name), limit)
	if err != nil {
		adminError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	replayed := 0
	for _, k := range kept {
		var dl consumers.DeadLetter
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
		if err := st.Delete(r.Context(), bus.DLQTopic(name), k.Seq); err != nil {
			adminError(w, http.StatusServiceUnavailable, "replayed %d but could not remove it from the DLQ: %v", k.Seq, err)
			return
		}
		replayed++
	}
	a.log.Info("dead letters replayed", "consumer", name, "count", replayed)
	writeJSON(w, http.StatusOK, map[string]any{"consumer": name, "replayed": replayed})
}

func (a *App) serveDLQPurge(w http.ResponseWriter, r *http.Request) {
	name, st, _, ok := a.dlqTarget(w, r)
	if !ok {
		return
	}
	n, err := st.Purge(r.Context(), bus.DLQTopic(name))
	if err != nil {
		adminError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	a.log.Warn("dead letters purged", "consumer", name, "count", n)
	writeJSON(w, http.StatusOK, map[string]any{"consumer": name, "purged": n})
}
