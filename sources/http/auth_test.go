package httpsrc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The test credentials.
const (
	shopKey     = "shop-3f9c2a7e-key" // ingest
	opsKey      = "ops-8d1b4e6f-key"  // admin
	allKey      = "all-5a0c9e2d-key"  // ingest and admin
	testAKID    = "AKIDEXAMPLE"       // what sdkClient signs with
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	adminAKID   = "AKIDADMINONLY"       // SigV4, admin scope only
	adminSecret = "admin-secret-000000" // its secret
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testAuth is the credentials every auth test configures.
func testAuth() Auth {
	return Auth{
		APIKeys: []APIKey{
			{Name: "shop", SHA256: sha256Hex(shopKey), Scopes: []string{ScopeIngest}},
			{Name: "ops", SHA256: strings.ToUpper(sha256Hex(opsKey)), Scopes: []string{ScopeAdmin}},
			{Name: "all", SHA256: sha256Hex(allKey), Scopes: []string{ScopeIngest, ScopeAdmin}},
		},
		SigV4: []SigV4Key{
			{AccessKeyID: testAKID, SecretAccessKey: testSecret, Scopes: []string{ScopeIngest}},
			{AccessKeyID: adminAKID, SecretAccessKey: adminSecret, Scopes: []string{ScopeAdmin}},
		},
	}
}

// adminEcho stands for app's admin API: it answers 200 with the path.
var adminEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "admin %s %s", r.Method, r.URL.Path)
})

func withAuth(o *Options) {
	o.Auth = testAuth()
	o.Admin = adminEcho
	reg := prometheus.NewRegistry()
	o.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

const oneEvent = `{"source":"a","detail-type":"b","detail":{}}`

func TestAuthStatuses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withAuth)
	ct := "Content-Type"
	cases := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		typ          string // error type; "" for success
	}{
		{"no header", "POST", "/v1/events", oneEvent, nil, 401, "MissingAuthenticationTokenException"},
		{"bad key", "POST", "/v1/events", oneEvent, []string{"Authorization", "Bearer not-a-key"}, 401, "UnrecognizedClientException"},
		{"empty key", "POST", "/v1/events", oneEvent, []string{"Authorization", "Bearer "}, 401, "UnrecognizedClientException"},
		{"key's hash as the key", "POST", "/v1/events", oneEvent, []string{"Authorization", "Bearer " + sha256Hex(shopKey)}, 401, "UnrecognizedClientException"},
		{"other scheme", "POST", "/v1/events", oneEvent, []string{"Authorization", "Digest username=shop"}, 401, "IncompleteSignatureException"},
		{"basic, key as password", "POST", "/v1/events", oneEvent, []string{"Authorization", basic("shop", shopKey)}, 200, ""},
		{"basic, another key's name", "POST", "/v1/events", oneEvent, []string{"Authorization", basic("all", shopKey)}, 401, "UnrecognizedClientException"},
		{"basic, wrong key", "POST", "/v1/events", oneEvent, []string{"Authorization", basic("shop", "nope")}, 401, "UnrecognizedClientException"},
		{"basic, no colon", "POST", "/v1/events", oneEvent, []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(shopKey))}, 401, "IncompleteSignatureException"},
		{"basic, not base64", "POST", "/v1/events", oneEvent, []string{"Authorization", "Basic !!"}, 401, "IncompleteSignatureException"},
		{"basic, admin", "GET", "/admin/x", "", []string{"Authorization", basic("ops", opsKey)}, 200, ""},
		{"good key", "POST", "/v1/events", oneEvent, []string{"Authorization", "Bearer " + shopKey}, 200, ""},
		{"scheme any case", "POST", "/v1/events", oneEvent, []string{"Authorization", "bearer " + shopKey}, 200, ""},
		{"both scopes", "POST", "/v1/events", oneEvent, []string{"Authorization", "Bearer " + allKey}, 200, ""},
		{"admin key on ingest", "POST", "/v1/events", oneEvent, []string{"Authorization", "Bearer " + opsKey}, 403, "AccessDeniedException"},
		{"good key, PutEvents", "POST", "/", `{"Entries":[{"Source":"a","DetailType":"b","Detail":"{}"}]}`,
			[]string{"Authorization", "Bearer " + shopKey, "X-Amz-Target", targetPutEvents}, 200, ""},
		{"no header, PutEvents", "POST", "/", `{}`, []string{"X-Amz-Target", targetPutEvents}, 401, "MissingAuthenticationTokenException"},
		{"admin, no header", "POST", "/admin/reload", "", nil, 401, "MissingAuthenticationTokenException"},
		{"admin, ingest key", "POST", "/admin/reload", "", []string{"Authorization", "Bearer " + shopKey}, 403, "AccessDeniedException"},
		{"admin, bad key", "GET", "/admin/dlq/x", "", []string{"Authorization", "Bearer nope"}, 401, "UnrecognizedClientException"},
		{"admin, admin key", "POST", "/admin/reload", "", []string{"Authorization", "Bearer " + opsKey}, 200, ""},
		{"admin, both scopes", "DELETE", "/admin/dlq/x", "", []string{"Authorization", "Bearer " + allKey}, 200, ""},
		{"admin root", "GET", "/admin", "", []string{"Authorization", "Bearer " + shopKey}, 403, "AccessDeniedException"},
		{"admin dot-dot", "GET", "/admin/../v1/events", "", []string{"Authorization", "Bearer " + shopKey}, 403, "AccessDeniedException"},
		{"healthz open", "GET", "/healthz", "", nil, 200, ""},
		{"readyz open", "GET", "/readyz", "", nil, 200, ""},
		{"metrics open", "GET", "/metrics", "", nil, 200, ""},
		{"unknown path", "GET", "/nope", "", nil, 404, "NotFoundException"},
	}
	for _, c := range cases {
		headers := append([]string{ct, "application/json"}, c.headers...)
		rec := h.do(c.method, c.path, c.body, headers...)
		if c.typ == "" {
			if rec.Code != c.status {
				t.Errorf("%s: %d, want %d: %s", c.name, rec.Code, c.status, rec.Body)
			}
			continue
		}
		t.Run(c.name, func(t *testing.T) { wantError(t, rec, c.status, c.typ) })
		if got := rec.Header().Get("WWW-Authenticate"); (c.status == 401) != (got != "") || got != "" && !strings.HasPrefix(got, "Bearer ") {
			t.Errorf("%s: %d with WWW-Authenticate %q", c.name, rec.Code, got)
		}
	}
	if rec := h.do("POST", "/admin/reload", "", "Authorization", "Bearer "+opsKey); rec.Body.String() != "admin POST /admin/reload" {
		t.Errorf("the admin handler got %q, want the full path", rec.Body)
	}
	// Only the five good ingest requests were let through.
	if n := len(h.pub.envelopes(t)); n != 5 {
		t.Errorf("%d published, want 5", n)
	}
	// A 401 challenges for both schemes: SNS sends Basic credentials only
	// when challenged so.
	if got := h.events(oneEvent).Header().Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[1], `Basic realm="routerd"`) {
		t.Errorf("WWW-Authenticate %q, want Bearer and Basic challenges", got)
	}
}

func TestAuthTwoAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withAuth)
	req := newRequest("POST", "/v1/events", oneEvent)
	req.Header.Add("Authorization", "Bearer "+shopKey)
	req.Header.Add("Authorization", "Bearer nope")
	wantError(t, serve(h.h, req), http.StatusUnauthorized, "IncompleteSignatureException")
}

func TestAuthOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.Admin = adminEcho })
	if rec := h.events(oneEvent); rec.Code != 200 {
		t.Errorf("ingest without auth: %d %s", rec.Code, rec.Body)
	}
	// Credentials are ignored, not checked, when none are configured.
	if rec := h.do("POST", "/v1/events", oneEvent, "Content-Type", "application/json", "Authorization", "Bearer whatever"); rec.Code != 200 {
		t.Errorf("ingest with an unchecked key: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("GET", "/admin/dlq/x", ""); rec.Code != 200 {
		t.Errorf("admin without auth: %d %s", rec.Code, rec.Body)
	}
	// Without Options.Admin there is no admin API.
	wantError(t, newHarness(t).do("GET", "/admin/dlq/x", ""), http.StatusNotFound, "NotFoundException")
}

// TestLookupBearer checks the key lookup finds each key, finds nothing for
// others, and compares with every configured key whatever the outcome: no
// early exit that would tell, by time, which key matched.
func TestLookupBearer(t *testing.T) {
	t.Parallel()
	var keys []APIKey
	for i := range 5 {
		keys = append(keys, APIKey{Name: fmt.Sprint("k", i), SHA256: sha256Hex(fmt.Sprint("key-", i)), Scopes: []string{ScopeIngest}})
	}
	keys = append(keys, APIKey{Name: "broken", SHA256: "not hex", Scopes: []string{ScopeIngest}})
	k := newKeyring(Auth{APIKeys: keys}, Throttle{}.newBucket, slog.New(slog.DiscardHandler))
	calls := 0
	k.eq = func(a, b []byte) int {
		calls++
		return subtle.ConstantTimeCompare(a, b)
	}
	for token, want := range map[string]string{
		"key-0": "key:k0", "key-2": "key:k2", "key-4": "key:k4",
		"key-5": "", "": "", "not hex": "", sha256Hex("key-1"): "",
	} {
		calls = 0
		c := k.lookupBearer(token)
		got := ""
		if c != nil {
			got = c.name
		}
		if got != want {
			t.Errorf("lookupBearer(%q) = %q, want %q", token, got, want)
		}
		if calls != 5 {
			t.Errorf("lookupBearer(%q) compared %d hashes, want all 5", token, calls)
		}
	}
}

// TestScopesNoneMeansNothing: a credential with no scopes may do nothing;
// only the anonymous client of an auth-less router may do everything.
func TestScopesNoneMeansNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) {
		o.Auth = Auth{APIKeys: []APIKey{{Name: "none", SHA256: sha256Hex("k")}}}
		o.Admin = adminEcho
	})
	wantError(t, h.do("POST", "/v1/events", oneEvent, "Content-Type", "application/json", "Authorization", "Bearer k"), 403, "AccessDeniedException")
	wantError(t, h.do("GET", "/admin/x", "", "Authorization", "Bearer k"), 403, "AccessDeniedException")
}

// newRequest is a JSON POST (or any method) for serve.
func newRequest(method, path, body string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// serve runs req through h.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// basic is an HTTP Basic Authorization value.
func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
