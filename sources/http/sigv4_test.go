package httpsrc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// signingClient is the AWS SDK's EventBridge client pointed at srv,
// signing with akid and secret, making at most maxAttempts attempts with no
// wait in between.
func signingClient(t *testing.T, srv *httptest.Server, akid, secret string, maxAttempts int) *eventbridge.Client {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_CA_BUNDLE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "")
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(akid, secret, "")),
		config.WithBaseEndpoint(srv.URL),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return eventbridge.NewFromConfig(cfg)
}

// wantAPIError checks err is the API error the SDK makes of an AWS error
// answer, with code and HTTP status, and returns its message.
func wantAPIError(t *testing.T, err error, status int, code string) string {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %T %v, want a smithy.APIError %s", err, err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("error code %q, want %q (%v)", apiErr.ErrorCode(), code, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("HTTP status of %v: want %d", err, status)
	}
	return apiErr.ErrorMessage()
}

var sdkEntry = &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
	{Source: aws.String("orders.service"), DetailType: aws.String("OrderCreated"), Detail: aws.String(`{"total":1250}`)},
}}

// TestSigV4WithTheSDK: the unmodified SDK with the right secret passes;
// the wrong secret, an unknown key, a key without the scope and a stale
// date get AWS's errors, which the SDK surfaces as API errors.
func TestSigV4WithTheSDK(t *testing.T) {
	clock := newClock(time.Now())
	h := newHarness(t, withAuth, func(o *Options) { o.Now = clock.Now })
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	ctx := context.Background()

	out, err := signingClient(t, srv, testAKID, testSecret, 1).PutEvents(ctx, sdkEntry)
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("right secret: %v %+v", err, out)
	}
	tp, err := signingClient(t, srv, testAKID, testSecret, 1).TestEventPattern(ctx, &eventbridge.TestEventPatternInput{
		EventPattern: aws.String(`{"source":["a"]}`), Event: aws.String(`{"source":"a"}`)})
	if err != nil || !tp.Result {
		t.Fatalf("right secret, TestEventPattern: %v %+v", err, tp)
	}

	_, err = signingClient(t, srv, testAKID, "wrong"+testSecret, 1).PutEvents(ctx, sdkEntry)
	if msg := wantAPIError(t, err, 403, "InvalidSignatureException"); !strings.HasPrefix(msg, "The request signature we calculated does not match") {
		t.Errorf("wrong secret: message %q", msg)
	}
	_, err = signingClient(t, srv, "AKIDUNKNOWN", testSecret, 1).PutEvents(ctx, sdkEntry)
	wantAPIError(t, err, 403, "UnrecognizedClientException")
	_, err = signingClient(t, srv, adminAKID, adminSecret, 1).PutEvents(ctx, sdkEntry)
	wantAPIError(t, err, 403, "AccessDeniedException")

	// routerd's clock 6 minutes ahead of the client's: the signature is
	// stale. The SDK does not retry, as the response's Date (net/http's
	// real clock) shows no skew to correct.
	clock.Add(6 * time.Minute)
	_, err = signingClient(t, srv, testAKID, testSecret, 3).PutEvents(ctx, sdkEntry)
	if msg := wantAPIError(t, err, 403, "InvalidSignatureException"); !strings.HasPrefix(msg, "Signature expired: ") {
		t.Errorf("stale date: message %q", msg)
	}
	clock.Add(-12 * time.Minute)
	_, err = signingClient(t, srv, testAKID, testSecret, 1).PutEvents(ctx, sdkEntry)
	if msg := wantAPIError(t, err, 403, "InvalidSignatureException"); !strings.HasPrefix(msg, "Signature not yet current: ") {
		t.Errorf("future date: message %q", msg)
	}
	if n := len(h.pub.envelopes(t)); n != 1 {
		t.Errorf("%d published, want only the right secret's 1", n)
	}
}

// sigv4Case is a request signed by the SDK's signer, then perhaps altered.
type sigv4Case struct {
	name    string
	path    string
	body    string
	header  map[string]string // set before signing
	hash    string            // payload hash given to the signer; "" = the body's
	service string            // "" = events
	at      time.Duration     // signing time relative to now
	alter   func(r *http.Request)
	status  int
	typ     string // "" for success
	msg     string // message prefix
}

func sign(t *testing.T, r *http.Request, akid, secret, hash, service string, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		r, hash, service, "eu-west-3", at)
	if err != nil {
		t.Fatal(err)
	}
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSigV4Verification sends requests signed with the SDK's signer over
// a real connection, so net/http's handling of Host and Content-Length is
// part of the test.
func TestSigV4Verification(t *testing.T) {
	t.Parallel()
	now := time.Now()
	h := newHarness(t, withAuth, func(o *Options) {
		o.Now = func() time.Time { return now }
		o.MaxBodyBytes = 4096
	})
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	put := `{"Entries":[{"Source":"a","DetailType":"b","Detail":"{}"}]}`
	putOther := `{"Entries":[{"Source":"x","DetailType":"b","Detail":"{}"}]}`
	amz := map[string]string{"X-Amz-Target": targetPutEvents, "Content-Type": contentTypeAmzJSON}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	setAuthz := func(f func(string) string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) }
	}
	mismatch := "The request signature we calculated does not match"
	cases := []sigv4Case{
		{name: "PutEvents", path: "/", body: put, header: amz, status: 200},
		{name: "/v1/events", path: "/v1/events", body: oneEvent, header: map[string]string{"Content-Type": "application/json"}, status: 200},
		{name: "query", path: "/v1/events?b=2&a=1&a=0&c=x%2Fy%20z&d=&e=%E2%82%AC", body: oneEvent,
			header: map[string]string{"Content-Type": "application/json"}, status: 200},
		{name: "content hash header", path: "/", body: put, header: with(amz, "X-Amz-Content-Sha256", hashHex(put)), status: 200},
		{name: "clock 4m59s behind", path: "/", body: put, header: amz, at: -4*time.Minute - 59*time.Second, status: 200},

		{name: "tampered body", path: "/", body: put, header: amz, status: 403, typ: "InvalidSignatureException", msg: mismatch,
			alter: func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(putOther)) }},
		{name: "signed for another target", path: "/", body: put, header: with(amz, "X-Amz-Target", targetTestEventPattern),
			alter: func(r *http.Request) { r.Header.Set("X-Amz-Target", targetPutEvents) }, status: 403, typ: "InvalidSignatureException", msg: mismatch},
		{name: "signed for another host", path: "/", body: put, header: amz,
			alter: func(r *http.Request) { r.Host = "elsewhere.example" }, status: 403, typ: "InvalidSignatureException", msg: mismatch},
		{name: "signed for another path", path: "/v1/events", body: put, header: amz,
			alter: func(r *http.Request) { r.URL.Path = "/" }, status: 403, typ: "InvalidSignatureException", msg: mismatch},
		{name: "target dropped from SignedHeaders", path: "/", body: put, header: amz, status: 403, typ: "InvalidSignatureException", msg: mismatch,
			alter: setAuthz(func(a string) string { return strings.Replace(a, ";x-amz-target", "", 1) })},
		{name: "x-amz-date not signed", path: "/", body: put, header: amz, status: 403, typ: "IncompleteSignatureException", msg: "SignedHeaders must include x-amz-date",
			alter: setAuthz(func(a string) string { return strings.Replace(a, ";x-amz-date", "", 1) })},
		{name: "signature cut", path: "/", body: put, header: amz, status: 403, typ: "IncompleteSignatureException", msg: "Signature must be",
			alter: setAuthz(func(a string) string { return a[:len(a)-2] })},
		{name: "date changed after signing", path: "/", body: put, header: amz, status: 403, typ: "InvalidSignatureException", msg: mismatch,
			alter: func(r *http.Request) { // a second later, the same day
				at, _ := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
				if later := at.Add(time.Second); later.Day() == at.Day() {
					at = later
				} else {
					at = at.Add(-time.Second)
				}
				r.Header.Set("X-Amz-Date", at.Format(amzDateFormat))
			}},
		{name: "credential date not X-Amz-Date's", path: "/", body: put, header: amz, status: 403, typ: "InvalidSignatureException", msg: "Date in Credential scope does not match",
			alter: func(r *http.Request) { r.Header.Set("X-Amz-Date", now.Add(-48*time.Hour).UTC().Format(amzDateFormat)) }},
		{name: "stale", path: "/", body: put, header: amz, at: -5*time.Minute - time.Second, status: 403, typ: "InvalidSignatureException", msg: "Signature expired: "},
		{name: "future", path: "/", body: put, header: amz, at: 5*time.Minute + time.Second, status: 403, typ: "InvalidSignatureException", msg: "Signature not yet current: "},
		{name: "other service", path: "/", body: put, header: amz, service: "s3", status: 403, typ: "InvalidSignatureException", msg: "Credential should be scoped to correct service: 'events'."},
		{name: "unsigned payload", path: "/", body: put, header: with(amz, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"), hash: "UNSIGNED-PAYLOAD",
			status: 403, typ: "InvalidSignatureException", msg: "X-Amz-Content-Sha256 must be the hex SHA-256"},
		{name: "content hash of another body", path: "/", body: putOther, header: with(amz, "X-Amz-Content-Sha256", hashHex(put)), hash: hashHex(put),
			status: 403, typ: "InvalidSignatureException", msg: "The provided 'x-amz-content-sha256' header does not match"},
		{name: "too large", path: "/", body: `{"Entries":[{"Source":"` + strings.Repeat("a", 5000) + `"}]}`, header: amz,
			status: 413, typ: "RequestEntityTooLargeException", msg: "request body is larger"},
		{name: "too large, chunked", path: "/", body: `{"Entries":[{"Source":"` + strings.Repeat("a", 5000) + `"}]}`, header: amz,
			alter: func(r *http.Request) {
				r.ContentLength = -1
				r.Body = io.NopCloser(io.MultiReader(r.Body))
			},
			status: 413, typ: "RequestEntityTooLargeException", msg: "request body is larger"},
	}
	published := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest("POST", srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			hash, service := c.hash, c.service
			if hash == "" {
				hash = hashHex(c.body)
			}
			if service == "" {
				service = "events"
			}
			sign(t, r, testAKID, testSecret, hash, service, now.Add(c.at))
			if c.alter != nil {
				c.alter(r)
			}
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			rec := httptest.NewRecorder()
			rec.Code = resp.StatusCode
			for k, v := range resp.Header {
				rec.Header()[k] = v
			}
			_, _ = io.Copy(rec.Body, resp.Body)
			if c.typ == "" {
				if rec.Code != c.status {
					t.Fatalf("%d, want %d: %s", rec.Code, c.status, rec.Body)
				}
				published++
				return
			}
			if msg := wantError(t, rec, c.status, c.typ); !strings.HasPrefix(msg, c.msg) {
				t.Errorf("message %q, want %q...", msg, c.msg)
			}
		})
	}
	if n := len(h.pub.envelopes(t)); n != published {
		t.Errorf("%d published, want %d (the accepted requests' only)", n, published)
	}
}

// TestSigV4Canonicalization signs requests with awkward paths, queries
// and header values, then presents them differently but equivalently, as
// proxies and HTTP stacks may: the signature must still verify.
func TestSigV4Canonicalization(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s := &server{keys: newKeyring(testAuth(), Throttle{}.newBucket, slog.New(slog.DiscardHandler)),
		now: func() time.Time { return now }, maxBody: 1 << 20}
	var gotBody string
	h := s.authenticate(ScopeIngest, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		if clientFrom(r.Context()).name != "sigv4:"+testAKID {
			t.Errorf("client %v", clientFrom(r.Context()))
		}
	}))
	for _, c := range []struct {
		name   string
		target string
		alter  func(r *http.Request)
	}{
		{"escaped path", "http://router.example/a%20b/c%2Fd/%C3%A9/~x", nil},
		{"query reordered and re-encoded", "http://router.example/v1/events?x=1&x=0&y=a%2Bb&z&%C3%A9=%E2%82%AC",
			func(r *http.Request) { r.URL.RawQuery = "%c3%a9=%e2%82%ac&z=&y=a%2bb&x=0&x=1" }},
		{"query key prefix of another", "http://router.example/?a=2&a-b=1&ab=0", nil},
		{"spaces in values", "http://router.example/", func(r *http.Request) {
			r.Header["X-Spaced"] = []string{"a b    c"}
		}},
		{"host with port", "http://router.example:8443/", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", c.target, strings.NewReader("the body"))
			r.Header.Set("X-Spaced", "  a   b c  ")
			r.Header.Add("X-Multi", "one")
			r.Header.Add("X-Multi", " two ")
			r.Header.Set("Content-Type", "application/json")
			sign(t, r, testAKID, testSecret, hashHex("the body"), "events", now)
			if c.alter != nil {
				c.alter(r)
			}
			gotBody = ""
			rec := serve(h, r)
			if rec.Code != 200 {
				t.Fatalf("%d: %s", rec.Code, rec.Body)
			}
			if gotBody != "the body" {
				t.Errorf("the handler read %q, want the body restored", gotBody)
			}
		})
	}
}

func TestParseSigV4Header(t *testing.T) {
	t.Parallel()
	sig := strings.Repeat("ab", 32)
	good := "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/events/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + sig
	h, err := parseSigV4Header(good)
	if err != nil {
		t.Fatal(err)
	}
	if h.accessKeyID != "AKID" || h.date != "20261128" || h.region != "us-east-1" || h.service != "events" ||
		!slices.Equal(h.signedHeaders, []string{"content-type", "host", "x-amz-date"}) || hex.EncodeToString(h.signature) != sig {
		t.Errorf("parsed %+v", h)
	}
	if _, err := parseSigV4Header(strings.ReplaceAll(good, ", ", ",")); err != nil {
		t.Errorf("without spaces after commas: %v", err)
	}
	for bad, want := range map[string]string{
		"AWS4-HMAC-SHA256": "must start with",
		"AWS4-HMAC-SHA256 Credential=AKID/20261128/r/events/aws4_request, SignedHeaders=host;x-amz-date": "requires 'Signature'",
		strings.Replace(good, "Credential=", "Credential =", 1):                                          "unknown Authorization header part",
		strings.Replace(good, "/aws4_request", "/aws5_request", 1):                                       "Credential must be",
		strings.Replace(good, "AKID/", "/", 1):                                                           "Credential must be",
		strings.Replace(good, "20261128", "2026-11-28", 1):                                               "the date in Credential",
		strings.Replace(good, "20261128", "20261328", 1):                                                 "the date in Credential",
		strings.Replace(good, "content-type;host", "host;content-type", 1):                               "sorted",
		strings.Replace(good, "content-type;", "host;", 1):                                               "sorted and without duplicates",
		strings.Replace(good, "content-type", "Content-Type", 1):                                         "lower-case",
		strings.Replace(good, "content-type;", ";", 1):                                                   "lower-case",
		strings.Replace(good, ";x-amz-date", "", 1):                                                      "must include x-amz-date",
		strings.Replace(good, "content-type;host;", "", 1):                                               "must include host",
		strings.Replace(good, sig, strings.ToUpper(sig), 1):                                              "Signature must be",
		strings.Replace(good, sig, sig+"00", 1):                                                          "Signature must be",
		good + ", Signature=" + sig:                                                                      "Signature twice",
		good + ", junk":                                                                                  "Name=value",
	} {
		if _, err := parseSigV4Header(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSigV4Header(%q) = %v, want an error with %q", bad, err, want)
		}
	}
}

// FuzzSigV4Header: the Authorization parser, and the whole authentication
// with it, never panic, never let a forged header in, and keep what they
// promise about what they accept.
func FuzzSigV4Header(f *testing.F) {
	now := time.Date(2026, 11, 28, 6, 21, 54, 0, time.UTC)
	f.Add("AWS4-HMAC-SHA256 Credential=" + testAKID + "/20261128/us-east-1/events/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261128/r/s/aws4_request,SignedHeaders=host;x-amz-date,Signature=" + strings.Repeat("f", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=,,,=,Signature=")
	f.Add("Bearer " + shopKey)
	f.Add(basic("all", allKey))
	f.Add(basic("shop", allKey))
	f.Add("AWS4-HMAC-SHA256 ")
	s := &server{keys: newKeyring(testAuth(), Throttle{}.newBucket, slog.New(slog.DiscardHandler)),
		now: func() time.Time { return now }, maxBody: 1 << 10}
	reached := false
	h := s.authenticate(ScopeIngest, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	f.Fuzz(func(t *testing.T, authz string) {
		p, err := parseSigV4Header(authz)
		if err == nil {
			if !slices.IsSorted(p.signedHeaders) || len(p.signature) != sha256.Size || p.accessKeyID == "" ||
				!slices.Contains(p.signedHeaders, "host") || !slices.Contains(p.signedHeaders, "x-amz-date") {
				t.Fatalf("accepted %q as %+v", authz, p)
			}
		}
		r := httptest.NewRequest("POST", "/v1/events", strings.NewReader(oneEvent))
		r.Header["Authorization"] = []string{authz}
		r.Header.Set("X-Amz-Date", now.Format(amzDateFormat))
		reached = false
		rec := serve(h, r)
		// Only the ingest keys get in, as Bearer or Basic.
		scheme, cred, _ := strings.Cut(authz, " ")
		cred = strings.TrimSpace(cred)
		var valid bool
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			valid = cred == shopKey || cred == allKey
		case strings.EqualFold(scheme, "Basic"):
			raw, err := base64.StdEncoding.DecodeString(cred)
			valid = err == nil && (string(raw) == "shop:"+shopKey || string(raw) == "all:"+allKey)
		}
		if reached != (rec.Code == 200) || reached != valid {
			t.Fatalf("%q: %d, handler reached: %v", authz, rec.Code, reached)
		}
		if rec.Code != 200 && rec.Code != 401 && rec.Code != 403 {
			t.Fatalf("%q: %d %s", authz, rec.Code, rec.Body)
		}
	})
}
