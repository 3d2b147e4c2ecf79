package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/sources"
	httpsrc "github.com/eventrouter/eventrouter/sources/http"
)

// The access keys the test routerd knows (http.auth.sigv4).
const (
	ingestAKID   = "AKIDINGEST"
	ingestSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	adminAKID    = "AKIDADMIN"
	adminSecret  = "admin/Secret+0123456789"
)

// pubRecorder is the bus: it keeps what ingest publishes.
type pubRecorder struct {
	mu  sync.Mutex
	out []bus.Outgoing
}

func (p *pubRecorder) PublishAll(out []bus.Outgoing) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = append(p.out, out...)
	return nil
}

// adminCall is a request the admin API received, past authentication.
type adminCall struct{ method, path, query string }

// routerd serves routerd's own HTTP handler (sources/http: its
// authentication and SigV4 verifier) with two SigV4 keys, one for ingest
// and one for the admin API, which answers every call with a JSON object
// and records it.
func routerd(t *testing.T) (*httptest.Server, *pubRecorder, chan adminCall) {
	t.Helper()
	pub := &pubRecorder{}
	calls := make(chan adminCall, 10)
	srv := httptest.NewServer(httpsrc.New(httpsrc.Options{
		Ingester: &sources.Ingester{Pub: pub, Metrics: sources.NewMetrics(prometheus.NewRegistry()),
			Seal: bus.NewSeal([]byte("a test key, 32 bytes long ......"))},
		Auth: httpsrc.Auth{SigV4: []httpsrc.SigV4Key{
			{AccessKeyID: ingestAKID, SecretAccessKey: ingestSecret, Scopes: []string{httpsrc.ScopeIngest}},
			{AccessKeyID: adminAKID, SecretAccessKey: adminSecret, Scopes: []string{httpsrc.ScopeAdmin}},
		}},
		Admin: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls <- adminCall{r.Method, r.URL.Path, r.URL.RawQuery}
			fmt.Fprintln(w, `{"consumer":"c","total":0,"entries":[],"Replayed":3,"Purged":4}`)
		}),
	}))
	t.Cleanup(srv.Close)
	return srv, pub, calls
}

func signed(endpoint, akid, secret string) *Client {
	c := New(endpoint, "")
	c.SigV4 = &SigV4{AccessKeyID: akid, SecretAccessKey: secret, From: "AWS_ACCESS_KEY_ID"}
	return c
}

var entry = []json.RawMessage{json.RawMessage(`{"Source":"orders.service","DetailType":"OrderCreated","Detail":"{\"total\":5}"}`)}

// TestSigV4AcceptedByRouterd checks that routerd's verifier takes what
// the client signs: PutEvents with an ingest key, and every admin call
// with an admin key (GET with a query, POST and DELETE without a body, a
// consumer name that must be escaped).
func TestSigV4AcceptedByRouterd(t *testing.T) {
	srv, pub, calls := routerd(t)
	ctx := context.Background()

	res, err := signed(srv.URL, ingestAKID, ingestSecret).PutEvents(ctx, entry)
	if err != nil {
		t.Fatal(err)
	}
	if res.FailedEntryCount != 0 || len(res.Entries) != 1 || res.Entries[0].EventID == "" {
		t.Fatalf("PutEvents: %+v", res)
	}
	if len(pub.out) != 1 || !bytes.Contains(pub.out[0].Payload, []byte(`"source":"orders.service"`)) {
		t.Fatalf("published %+v", pub.out)
	}

	admin := signed(srv.URL, adminAKID, adminSecret)
	want := func(method, path, query string) {
		t.Helper()
		if got := <-calls; got != (adminCall{method, path, query}) {
			t.Errorf("admin API got %+v, want %s %s?%s", got, method, path, query)
		}
	}
	if _, err := admin.DLQList(ctx, "vip alerts+1", 7); err != nil {
		t.Fatalf("DLQList: %v", err)
	}
	want("GET", "/admin/dlq/vip alerts+1", "limit=7")
	if n, err := admin.DLQReplay(ctx, "c", 10); err != nil || n != 3 {
		t.Fatalf("DLQReplay: %d, %v", n, err)
	}
	want("POST", "/admin/dlq/c/replay", "limit=10")
	if n, err := admin.DLQPurge(ctx, "c"); err != nil || n != 4 {
		t.Fatalf("DLQPurge: %d, %v", n, err)
	}
	want("DELETE", "/admin/dlq/c", "")
	if err := admin.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	want("POST", "/admin/reload", "")

	// Temporary credentials: the session token is sent, signed, and
	// routerd ignores it.
	tmp := signed(srv.URL, adminAKID, adminSecret)
	tmp.SigV4.SessionToken = "FwoGZXIvYXdzEXAMPLE"
	var sent http.Header
	tmp.HTTP.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r.Header.Clone()
		return http.DefaultTransport.RoundTrip(r)
	})
	if err := tmp.Reload(ctx); err != nil {
		t.Fatalf("Reload with a session token: %v", err)
	}
	want("POST", "/admin/reload", "")
	if sent.Get("X-Amz-Security-Token") != "FwoGZXIvYXdzEXAMPLE" || !strings.Contains(sent.Get("Authorization"), "x-amz-security-token") {
		t.Errorf("session token not sent and signed: %v", sent)
	}
	if a := sent.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential="+adminAKID+"/") || !strings.Contains(a, "/local/events/aws4_request") {
		t.Errorf("Authorization %q: want the default region local and the service events", a)
	}
}

// TestSigV4Refused checks that routerd refuses what the client signs
// with a wrong secret, a body changed after signing, and a key without
// the scope; the error names the key that signed.
func TestSigV4Refused(t *testing.T) {
	srv, pub, calls := routerd(t)
	ctx := context.Background()
	refused := func(what string, err error, status int, typ string) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Status != status || !strings.Contains(e.Body, typ) {
			t.Errorf("%s: err = %v, want %d %s", what, err, status, typ)
			return
		}
		if want := "(signed with access key "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "from AWS_ACCESS_KEY_ID") {
			t.Errorf("%s: error %q does not name the key and where it came from", what, err)
		}
	}

	_, err := signed(srv.URL, ingestAKID, "not-"+ingestSecret).PutEvents(ctx, entry)
	refused("wrong secret", err, 403, "InvalidSignatureException")
	err = signed(srv.URL, adminAKID, "not-"+adminSecret).Reload(ctx)
	refused("wrong secret, admin", err, 403, "InvalidSignatureException")
	_, err = signed(srv.URL, "AKIDNOBODY", ingestSecret).PutEvents(ctx, entry)
	refused("unknown key", err, 403, "UnrecognizedClientException")
	err = signed(srv.URL, ingestAKID, ingestSecret).Reload(ctx)
	refused("ingest key on the admin API", err, 403, "AccessDeniedException")

	// The signature covers the body's bytes: one changed on the way fails.
	c := signed(srv.URL, ingestAKID, ingestSecret)
	c.HTTP.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		b = bytes.Replace(b, []byte(`\"total\":5`), []byte(`\"total\":9`), 1)
		r.Body = io.NopCloser(bytes.NewReader(b))
		return http.DefaultTransport.RoundTrip(r)
	})
	_, err = c.PutEvents(ctx, entry)
	refused("body changed after signing", err, 403, "InvalidSignatureException")

	if len(pub.out) != 0 || len(calls) != 0 {
		t.Errorf("refused requests got through: published %d, admin calls %d", len(pub.out), len(calls))
	}
}

// TestTokenAndSigV4 refuses a client given both kinds of credentials
// before it sends anything.
func TestTokenAndSigV4(t *testing.T) {
	c := New("http://127.0.0.1:1", "a-token")
	c.SigV4 = &SigV4{AccessKeyID: "AKID", SecretAccessKey: "s"}
	if err := c.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "bearer token and a SigV4 key") {
		t.Errorf("err = %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
