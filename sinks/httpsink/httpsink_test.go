package httpsink

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/sinktest"
)

// recorder is a destination that keeps every request it answered 2xx.
type recorder struct {
	mu  sync.Mutex
	got []event.Delivery
	hdr []http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	attempt, _ := strconv.Atoi(req.Header.Get("X-Eventrouter-Attempt"))
	r.mu.Lock()
	r.got = append(r.got, event.Delivery{
		Event:    body,
		ID:       req.Header.Get("Idempotency-Key"),
		Rule:     req.Header.Get("X-Eventrouter-Rule"),
		Consumer: req.Header.Get("X-Eventrouter-Consumer"),
		Attempt:  attempt,
	})
	r.hdr = append(r.hdr, req.Header.Clone())
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *recorder) received() []event.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Delivery(nil), r.got...)
}

func newSink(t *testing.T, spec sinks.Spec) sinks.Sink {
	t.Helper()
	s, err := New("inventory", spec, sinks.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sinks.Sink, sinktest.Received) {
		rec := &recorder{}
		srv := httptest.NewServer(rec)
		t.Cleanup(srv.Close)
		return newSink(t, sinks.Spec{"url": srv.URL + "/inventory"}), rec.received
	})
}

func TestHeadersAndMethod(t *testing.T) {
	rec := &recorder{}
	var method, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.Path
		rec.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := newSink(t, sinks.Spec{
		"url":     srv.URL + "/hook",
		"method":  "put",
		"headers": map[string]any{"authorization": "Bearer s3cret", "X-Team": "shop"},
	})
	d := sinktest.Delivery(7)
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPut || path != "/hook" {
		t.Errorf("request = %s %s, want PUT /hook", method, path)
	}
	h := rec.hdr[0]
	for k, want := range map[string]string{
		"Content-Type":           "application/json",
		"Idempotency-Key":        d.ID,
		"X-Eventrouter-Rule":     "order-created",
		"X-Eventrouter-Consumer": "inventory",
		"X-Eventrouter-Attempt":  strconv.Itoa(d.Attempt),
		"User-Agent":             UserAgent,
		"Authorization":          "Bearer s3cret",
		"X-Team":                 "shop",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestStatusClasses(t *testing.T) {
	for _, tc := range []struct {
		status    int
		ok        bool
		permanent bool
	}{
		{200, true, false}, {201, true, false}, {202, true, false}, {204, true, false},
		{301, false, true}, {302, false, true}, {307, false, true},
		{400, false, true}, {401, false, true}, {403, false, true}, {404, false, true},
		{409, false, true}, {410, false, true}, {413, false, true}, {422, false, true},
		{408, false, false}, {429, false, false},
		{500, false, false}, {502, false, false}, {503, false, false}, {504, false, false},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status >= 300 && tc.status < 400 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, `{"message":"because `+strconv.Itoa(tc.status)+`"}`)
			}))
			defer srv.Close()
			err := newSink(t, sinks.Spec{"url": srv.URL}).Send(context.Background(), sinktest.Delivery(1))
			if tc.ok {
				if err != nil {
					t.Fatalf("Send = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			if got := sinks.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			if code, want := sinks.CodeOf(err), "HTTP_"+strconv.Itoa(tc.status); code != want {
				t.Errorf("code = %q, want %q", code, want)
			}
			if !strings.Contains(err.Error(), "because "+strconv.Itoa(tc.status)) {
				t.Errorf("message %q lacks the response body", err)
			}
			if _, ok := sinks.RetryDelay(err); ok {
				t.Errorf("RetryDelay set without a Retry-After header")
			}
		})
	}
}

func TestBodySnippetIsShort(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	err := newSink(t, sinks.Spec{"url": srv.URL}).Send(context.Background(), sinktest.Delivery(1))
	if err == nil {
		t.Fatal("want an error")
	}
	if n := strings.Count(err.Error(), "x"); n != snippetSize {
		t.Errorf("message holds %d bytes of the body, want %d", n, snippetSize)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 6, 21, 54, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"Sat, 28 Nov 2026 06:22:24 GMT", 30 * time.Second, true},
		{"Saturday, 28-Nov-26 06:22:24 GMT", 30 * time.Second, true}, // RFC 850
		{"Sat Nov 28 06:22:24 2026", 30 * time.Second, true},         // asctime
		{"Fri, 27 Nov 2026 06:21:54 GMT", 0, true},                   // past: now
		{"0007", 7 * time.Second, true},
		{"9223372036", 9223372036 * time.Second, true},
		// Too long for a Duration means "a very long time": the longest
		// wait there is (the consumer bounds it by max_event_age).
		{"9223372037", maxDelay, true},
		{"99999999999999999999", maxDelay, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxDelay, true},
		// Not 1*DIGIT nor a date: ignored, as if absent.
		{"", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"-99999999999999999999", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"1 2", 0, false},
		{"5s", 0, false},
		{"0x10", 0, false},
		{"٥", 0, false}, // an Arabic-Indic 5: a digit, but not DIGIT
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		min    time.Duration
		max    time.Duration
	}{
		{429, "7", 7 * time.Second, 7 * time.Second},
		{503, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 59 * time.Minute, time.Hour},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", tc.header)
			w.WriteHeader(tc.status)
		}))
		err := newSink(t, sinks.Spec{"url": srv.URL}).Send(context.Background(), sinktest.Delivery(1))
		srv.Close()
		after, ok := sinks.RetryDelay(err)
		if !ok || after < tc.min || after > tc.max {
			t.Errorf("%d Retry-After %q: RetryDelay = %v, %v; want in [%v, %v]", tc.status, tc.header, after, ok, tc.min, tc.max)
		}
		if sinks.IsPermanent(err) {
			t.Errorf("%d: permanent, want retryable", tc.status)
		}
		if code := sinks.CodeOf(err); code != "HTTP_"+strconv.Itoa(tc.status) {
			t.Errorf("code = %q", code)
		}
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := newSink(t, sinks.Spec{"url": srv.URL, "timeout": "50ms"})
	start := time.Now()
	err := s.Send(context.Background(), sinktest.Delivery(1))
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Send took %v with a 50ms timeout", el)
	}
	if code := sinks.CodeOf(err); code != "TIMEOUT" || sinks.IsPermanent(err) {
		t.Errorf("err = %v (code %q, permanent %v), want retryable TIMEOUT", err, code, sinks.IsPermanent(err))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

// TestCallerDeadlineBeyondDefault checks that without a timeout key the
// caller's deadline bounds the request, also when it is longer than
// DefaultTimeout (a consumer's timeout of 10s must allow a 7s answer).
func TestCallerDeadlineBeyondDefault(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(DefaultTimeout + 300*time.Millisecond)
	}))
	defer srv.Close()
	s := newSink(t, sinks.Spec{"url": srv.URL})
	if got := s.(*Sink).Timeout(); got != 0 {
		t.Errorf("Timeout() = %v without the key, want 0", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout+3*time.Second)
	defer cancel()
	if err := s.Send(ctx, sinktest.Delivery(1)); err != nil {
		t.Errorf("Send with a deadline beyond %v: %v", DefaultTimeout, err)
	}
}

func TestCancelInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := newSink(t, sinks.Spec{"url": srv.URL, "timeout": "1m"})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	start := time.Now()
	err := s.Send(ctx, sinktest.Delivery(1))
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Send took %v after cancel", el)
	}
	if !errors.Is(err, context.Canceled) || sinks.CodeOf(err) != "CANCELED" || sinks.IsPermanent(err) {
		t.Errorf("err = %v (code %q), want retryable CANCELED wrapping context.Canceled", err, sinks.CodeOf(err))
	}
}

func TestConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := newSink(t, sinks.Spec{"url": url}).Send(context.Background(), sinktest.Delivery(1))
	if code := sinks.CodeOf(err); code != "CONNECTION_ERROR" || sinks.IsPermanent(err) {
		t.Errorf("err = %v (code %q), want retryable CONNECTION_ERROR", err, code)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		spec sinks.Spec
		want string // substring of the error; "" means valid
	}{
		{sinks.Spec{"url": "http://h/x"}, ""},
		{sinks.Spec{"url": "https://h:8443/x", "timeout": "250ms", "method": "PATCH", "headers": map[string]any{"X-A": "b"}}, ""},
		{sinks.Spec{"url": "http://h", "timeout": 2}, ""},
		{sinks.Spec{}, `missing required key "url"`},
		{sinks.Spec{"url": "http://h", "bogus": 1}, `unknown key "bogus"`},
		{sinks.Spec{"url": "ftp://h/x"}, "scheme must be http or https"},
		{sinks.Spec{"url": "http:///x"}, "has no host"},
		{sinks.Spec{"url": "http://h", "timeout": "soon"}, "invalid duration"},
		{sinks.Spec{"url": "http://h", "timeout": "0s"}, "must be positive"},
		{sinks.Spec{"url": "http://h", "method": "GET"}, "must be POST, PUT or PATCH"},
		{sinks.Spec{"url": "http://h", "headers": map[string]any{"Bad Name": "x"}}, "not a valid header name"},
		{sinks.Spec{"url": "http://h", "headers": map[string]any{"X-A": "a\r\nX-B: b"}}, "one line"},
		{sinks.Spec{"url": "http://h", "headers": map[string]any{"idempotency-key": "x"}}, "set by the sink"},
		{sinks.Spec{"url": "http://h", "headers": map[string]any{"X-A": 5}}, "key headers: expected string"},
	} {
		err := Validate(tc.spec)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%v) = %v, want nil", tc.spec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}

// TestConnectionReuse checks that concurrent deliveries keep their
// connections instead of dialing one per request.
func TestConnectionReuse(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s := newSink(t, sinks.Spec{"url": srv.URL})
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 20 {
				if err := s.Send(context.Background(), sinktest.Delivery(g*100+i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(conns); n > 64 {
		t.Errorf("%d connections for 640 requests from 32 goroutines; idle connections are not reused", n)
	}
}
