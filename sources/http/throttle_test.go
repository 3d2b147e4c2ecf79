package httpsrc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
)

const onePut = `{"Entries":[{"Source":"a","DetailType":"b","Detail":"{}"}]}`

// throttled reads eventrouter_throttled_requests_total{source}.
func (h *harness) throttled(source string) float64 {
	return testutil.ToFloat64(h.in.Metrics.Throttled.WithLabelValues(source))
}

// wantThrottled checks a 429 in AWS's ThrottlingException shape with the
// given Retry-After.
func wantThrottled(t *testing.T, rec *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	if msg := wantError(t, rec, http.StatusTooManyRequests, "ThrottlingException"); msg != "Rate exceeded" {
		t.Errorf("message %q, want AWS's %q", msg, "Rate exceeded")
	}
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
}

// TestThrottleBurstThenRecovers: one bucket for everyone when auth is off;
// a burst gets 429s with Retry-After, and requests pass again once the
// bucket has refilled, on routerd's clock.
func TestThrottleBurstThenRecovers(t *testing.T) {
	t.Parallel()
	clock := newClock(fixedNow)
	h := newHarness(t, func(o *Options) {
		o.Now = clock.Now
		o.Throttle = Throttle{Rate: 0.5, Burst: 3} // a token every 2s
		o.Admin = adminEcho
	})
	for range 3 {
		wantEntries(t, h.putEvents(onePut), http.StatusOK)
	}
	for range 2 {
		rec := h.putEvents(onePut)
		wantThrottled(t, rec, "2")
		if ct := rec.Header().Get("Content-Type"); ct != contentTypeAmzJSON {
			t.Errorf("PutEvents' 429 in %q, want AWS JSON", ct)
		}
	}
	// One bucket, whatever the door and whatever credentials are sent.
	rec := h.do("POST", "/v1/events", oneEvent, "Content-Type", "application/json", "Authorization", "Bearer x")
	wantThrottled(t, rec, "2")
	if ct := rec.Header().Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("/v1/events' 429 in %q, want JSON", ct)
	}
	// The admin API is not throttled.
	if rec := h.do("GET", "/admin/dlq/x", ""); rec.Code != 200 {
		t.Errorf("admin while throttled: %d", rec.Code)
	}
	// Refused requests took no token: the wait shrinks with the clock.
	clock.Add(time.Second)
	wantThrottled(t, h.events(oneEvent), "1")
	clock.Add(time.Second)
	wantEntries(t, h.events(oneEvent), http.StatusOK)
	wantThrottled(t, h.events(oneEvent), "2")
	// A long pause refills the bucket to its burst, no more.
	clock.Add(time.Hour)
	for range 3 {
		wantEntries(t, h.putEvents(onePut), http.StatusOK)
	}
	wantThrottled(t, h.putEvents(onePut), "2")

	if got := h.throttled("putevents"); got != 3 {
		t.Errorf("throttled{putevents} = %v, want 3", got)
	}
	if got := h.throttled("events"); got != 3 {
		t.Errorf("throttled{events} = %v, want 3", got)
	}
	if n := len(h.pub.envelopes(t)); n != 7 {
		t.Errorf("%d published, want 7", n)
	}
}

func TestThrottleRetryAfterRoundsUp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rate float64
		want string
	}{{10, "1"}, {1, "1"}, {0.4, "3"}, {1.0 / 90, "90"}} {
		h := newHarness(t, func(o *Options) { o.Throttle = Throttle{Rate: c.rate, Burst: 0} }) // burst 0 counts as 1
		wantEntries(t, h.events(oneEvent), http.StatusOK)
		wantThrottled(t, h.events(oneEvent), c.want)
	}
	if got := retryAfter(rate.InfDuration); got != "1" {
		t.Errorf("retryAfter(InfDuration) = %q", got)
	}
}

// TestThrottlePerClient: each credential has its own bucket; refused
// credentials spend none, and a throttled request's body is never read.
func TestThrottlePerClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withAuth, func(o *Options) { o.Throttle = Throttle{Rate: 1, Burst: 2} })
	ev := func(key string) *httptest.ResponseRecorder {
		return h.do("POST", "/v1/events", oneEvent, "Content-Type", "application/json", "Authorization", "Bearer "+key)
	}
	for range 5 {
		wantError(t, h.events(oneEvent), http.StatusUnauthorized, "MissingAuthenticationTokenException")
		wantError(t, ev("nope"), http.StatusUnauthorized, "UnrecognizedClientException")
		wantError(t, ev(opsKey), http.StatusForbidden, "AccessDeniedException")
	}
	for range 2 {
		wantEntries(t, ev(shopKey), http.StatusOK)
	}
	wantThrottled(t, ev(shopKey), "1")
	for range 2 {
		wantEntries(t, ev(allKey), http.StatusOK)
	}
	wantThrottled(t, ev(allKey), "1")

	body := &readCounter{r: strings.NewReader(oneEvent)}
	req := httptest.NewRequest("POST", "/v1/events", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+shopKey)
	wantThrottled(t, serve(h.h, req), "1")
	if body.n != 0 {
		t.Errorf("the throttled request's body was read (%d reads)", body.n)
	}
	if got := h.throttled("events"); got != 3 {
		t.Errorf("throttled{events} = %v, want 3", got)
	}
}

type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.n++
	return c.r.Read(p)
}

// TestThrottleAWSSDK: the SDK sees ThrottlingException as a typed API error
// its retryer classes as a throttle, and retries it on its own.
func TestThrottleAWSSDK(t *testing.T) {
	clock := newClock(time.Now())
	h := newHarness(t, withAuth, func(o *Options) {
		o.Now = clock.Now
		o.Throttle = Throttle{Rate: 1, Burst: 1}
	})
	var attempts atomic.Int32
	// After each 429 the clock moves a second on, refilling one token.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		rec := &recorder{ResponseWriter: w}
		h.h.ServeHTTP(rec, r)
		if rec.status == http.StatusTooManyRequests {
			clock.Add(time.Second)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	once := signingClient(t, srv, testAKID, testSecret, 1)
	if _, err := once.PutEvents(ctx, sdkEntry); err != nil {
		t.Fatal(err)
	}
	_, err := once.PutEvents(ctx, sdkEntry)
	if msg := wantAPIError(t, err, http.StatusTooManyRequests, "ThrottlingException"); msg != "Rate exceeded" {
		t.Errorf("message %q", msg)
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("the SDK does not class %v as a throttle", err)
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("the SDK would not retry %v", err)
	}
	if _, err := once.PutEvents(ctx, sdkEntry); err != nil { // the token the 429 refilled
		t.Fatal(err)
	}

	attempts.Store(0)
	if _, err := signingClient(t, srv, testAKID, testSecret, 3).PutEvents(ctx, sdkEntry); err != nil {
		t.Fatalf("with retries: %v", err)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want 2: throttled, then retried", n)
	}
	if got := h.throttled("putevents"); got != 2 {
		t.Errorf("throttled{putevents} = %v, want 2", got)
	}
	if n := len(h.pub.envelopes(t)); n != 3 {
		t.Errorf("%d published, want 3", n)
	}
}

func TestIngestSource(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{"/": "putevents", "/v1/events": "events", "/v1/s3": "s3", "/v1/cloudevents": "cloudevents"} {
		if got := ingestSource(path); got != want {
			t.Errorf("ingestSource(%q) = %q, want %q", path, got, want)
		}
	}
}
