package httpsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	ready := errors.New("bus not connected")
	h := newHarness(t, func(o *Options) {
		o.Ready = func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("Ready called without a deadline")
			}
			return ready
		}
	})
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"HEAD", "/healthz", 200, "ok"}, // net/http drops the body; the recorder keeps it
		{"GET", "/readyz", 503, "not ready: bus not connected"},
	} {
		rec := h.do(c.method, c.path, "")
		if rec.Code != c.status || rec.Body.String() != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, rec.Code, rec.Body, c.status, c.body)
		}
	}
	ready = nil
	if rec := h.do("GET", "/readyz", ""); rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("ready: %d %q", rec.Code, rec.Body)
	}
	if rec := newHarness(t).do("GET", "/readyz", ""); rec.Code != 200 {
		t.Errorf("nil Ready: %d", rec.Code)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) { o.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) })
	h.in.Metrics = nil // metrics optional on the Ingester
	cases := []struct {
		method, path string
		status       int
		typ, allow   string
	}{
		{"GET", "/nope", 404, "NotFoundException", ""},
		{"POST", "/v1/events/", 404, "NotFoundException", ""},
		{"POST", "//", 404, "NotFoundException", ""},
		{"GET", "/", 405, "MethodNotAllowedException", "POST"},
		{"PUT", "/v1/events", 405, "MethodNotAllowedException", "POST"},
		{"POST", "/healthz", 405, "MethodNotAllowedException", "GET, HEAD"},
		{"DELETE", "/metrics", 405, "MethodNotAllowedException", "GET, HEAD"},
	}
	for _, c := range cases {
		rec := h.do(c.method, c.path, "")
		if rec.Header().Get("Content-Type") != contentTypeJSON {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, rec.Header().Get("Content-Type"))
		}
		wantError(t, rec, c.status, c.typ)
		if got := rec.Header().Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
	if rec := h.do("GET", "/metrics", ""); rec.Code != 200 {
		t.Errorf("GET /metrics: %d", rec.Code)
	}
	if rec := newHarness(t).do("GET", "/metrics", ""); rec.Code != 404 {
		t.Errorf("GET /metrics without Options.Metrics: %d, want 404", rec.Code)
	}
	// Without Ingester metrics, ingest still works.
	wantEntries(t, h.events(`{"source":"a","detail-type":"b","detail":{}}`), http.StatusOK)
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.MaxBodyBytes = 1000 })
	big := `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{\"p\":\"` + strings.Repeat("x", 1000) + `\"}"}]}`
	// Known length: refused before reading.
	wantError(t, h.putEvents(big), http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")
	// Chunked, length unknown: refused while reading.
	for _, path := range []string{"/", "/v1/events"} {
		req := httptest.NewRequest("POST", path, io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		req.Header.Set("X-Amz-Target", targetPutEvents)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		wantError(t, rec, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")
	}
	if n := len(h.pub.envelopes(t)); n != 0 {
		t.Errorf("%d published", n)
	}
	// The default limit refuses by Content-Length alone.
	h = newHarness(t)
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = DefaultMaxBodyBytes + 1
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	wantError(t, rec, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")
}

func TestPanicIsA500AndLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := newHarness(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h.pub.panic = true
	rec := h.putEvents(`{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}`)
	wantError(t, rec, http.StatusInternalServerError, "InternalFailure")
	out := logs.String()
	if !strings.Contains(out, `"msg":"http: panic serving request"`) || !strings.Contains(out, "fakePub: boom") ||
		!strings.Contains(out, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"http request"`) || !strings.Contains(out, `"status":500`) ||
		!strings.Contains(out, rec.Header().Get("X-Amzn-RequestId")) {
		t.Errorf("request not logged at debug with status and request id:\n%s", out)
	}
	// The abort sentinel is passed on, not turned into a 500.
	abort := New(Options{Metrics: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })})
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
	t.Error("ErrAbortHandler swallowed")
}

func TestRequestLogQuietAboveDebug(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := newHarness(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	h.do("GET", "/healthz", "")
	h.pub.setFail(errBusDown)
	h.events(`{"source":"a","detail-type":"b","detail":{}}`)
	out := logs.String()
	if strings.Contains(out, "http request") {
		t.Errorf("request logged above debug:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "no responders") {
		t.Errorf("bus failure not logged as a warning with its cause:\n%s", out)
	}
}

// Answers leave <, > and & as they are: messages quote patterns such as
// ">=", and \u003e= only obscures them.
func TestAnswersNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, rec := range []*httptest.ResponseRecorder{
		h.testPattern(`{"EventPattern":"{\"n\":[{\"numeric\":[\">=\",\"x\"]}]}","Event":"{}"}`),
		h.events(`{"source":"s","detail-type":"d","detail":{},"<b>&":1}`),
	} {
		body := rec.Body.String()
		if strings.Contains(body, `\u00`) || !strings.ContainsAny(body, "<>&") {
			t.Errorf("answer %s", body)
		}
	}
}
