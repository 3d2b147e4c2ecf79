package httpsrc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// snsKeys is the test's SNS: an RSA key and a self-signed certificate for
// it, valid around fixedNow, and a certificate with an ECDSA key, which
// SNS never signs with.
type snsKeys struct {
	key      *rsa.PrivateKey
	certPEM  []byte
	ecdsaPEM []byte
}

var testSNSKeys = sync.OnceValue(func() snsKeys {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return snsKeys{key: key, certPEM: selfSigned(key, &key.PublicKey), ecdsaPEM: selfSigned(ec, &ec.PublicKey)}
})

// selfSigned is a certificate like SNS's: issued to sns.amazonaws.com,
// for signatures, valid from a month before fixedNow to a year after.
func selfSigned(signer crypto.Signer, pub any) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore:    fixedNow.AddDate(0, -1, 0),
		NotAfter:     fixedNow.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// snsCertPath is where snsServer serves the signing certificate.
const snsCertPath = "/SimpleNotificationService-test.pem"

// serveSigningCert answers snsServer's certificate paths: the signing
// certificate (also under /c/, for as many URLs as a test wants), and
// broken ones. False for other paths.
func serveSigningCert(w http.ResponseWriter, r *http.Request) bool {
	keys := testSNSKeys()
	var body []byte
	switch p := r.URL.Path; {
	case p == snsCertPath || strings.HasPrefix(p, "/c/"):
		body = keys.certPEM
	case p == "/ecdsa.pem":
		body = keys.ecdsaPEM
	case p == "/huge.pem":
		body = bytes.Repeat([]byte("A"), maxSNSCert+1)
	case p == "/not-a-cert.pem":
		body = []byte("<html>down for maintenance</html>")
	default:
		return false
	}
	_, _ = w.Write(body)
	return true
}

func (s *snsServer) certURL() string { return s.URL + snsCertPath }

// trustSNS has a harness fetch signing certificates from s, trusting its
// host and its TLS certificate.
func trustSNS(s *snsServer) func(*Options) {
	return func(o *Options) {
		o.SNSCertHosts = []string{"127.0.0.1"}
		o.HTTPClient = s.Client()
	}
}

// signSNS signs an SNS envelope as SNS does, naming certURL as its
// certificate. The string to sign is written here from AWS's
// documentation, not by the code under test.
func signSNS(t testing.TB, body, certURL, version string) string {
	t.Helper()
	return editSNS(t, body, func(m map[string]any) {
		m["SignatureVersion"], m["SigningCertURL"] = version, certURL
		keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
		if m["Type"] != "Notification" {
			keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
		}
		var text strings.Builder
		for _, k := range keys {
			if v, ok := m[k].(string); ok {
				fmt.Fprintf(&text, "%s\n%s\n", k, v)
			}
		}
		hash, digest := crypto.SHA1, sha1.Sum([]byte(text.String()))
		sum := digest[:]
		if version == "2" {
			d := sha256.Sum256([]byte(text.String()))
			hash, sum = crypto.SHA256, d[:]
		}
		sig, err := rsa.SignPKCS1v15(nil, testSNSKeys().key, hash, sum)
		if err != nil {
			t.Fatal(err)
		}
		m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	})
}

// editSNS changes an envelope's members.
func editSNS(t testing.TB, body string, edit func(map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSNSSignatures(t *testing.T) {
	t.Parallel()
	certs := newSNSServer(t)
	h := newHarness(t, trustSNS(certs))
	notification := s3Body(t, "sns-notification.json")
	for _, version := range []string{"1", "2"} {
		rec := h.do("POST", "/v1/s3", signSNS(t, notification, certs.certURL(), version), snsHeaders("Notification")...)
		if resp := wantEntries(t, rec, http.StatusOK); resp.FailedEntryCount != 0 {
			t.Errorf("SignatureVersion %s: %+v", version, resp)
		}
	}
	// A plain S3 body has no signature to check.
	wantEntries(t, h.s3(s3Body(t, "aws-put.json")), http.StatusOK)

	signed := signSNS(t, notification, certs.certURL(), "2")
	for _, c := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"Message", func(m map[string]any) {
			m["Message"] = strings.ReplaceAll(m["Message"].(string), `"photos"`, `"payroll"`)
		}, "Signature does not match the message"},
		{"Subject", func(m map[string]any) { m["Subject"] = "Amazon S3 Notification!" }, "does not match"},
		{"Subject removed", func(m map[string]any) { delete(m, "Subject") }, "does not match"},
		{"Timestamp", func(m map[string]any) { m["Timestamp"] = "2026-11-28T06:21:55.512Z" }, "does not match"},
		{"TopicArn", func(m map[string]any) { m["TopicArn"] = "arn:aws:sns:eu-west-1:123456789012:other" }, "does not match"},
		{"SignatureVersion", func(m map[string]any) { m["SignatureVersion"] = "1" }, "does not match"},
		{"Signature", func(m map[string]any) { m["Signature"] = "AAAA" + m["Signature"].(string)[4:] }, "does not match"},
		{"unknown SignatureVersion", func(m map[string]any) { m["SignatureVersion"] = "3" },
			`SignatureVersion "3" is not 1 (SHA1withRSA) or 2 (SHA256withRSA)`},
		{"unsigned", func(m map[string]any) { delete(m, "Signature") }, "the message has no Signature"},
		{"not base64", func(m map[string]any) { m["Signature"] = "not base64!" }, "Signature is not base64"},
		{"MessageId missing", func(m map[string]any) { delete(m, "MessageId") }, "MessageId: is missing, and SNS signs it"},
		{"no certificate", func(m map[string]any) { delete(m, "SigningCertURL") }, "the message has no SigningCertURL"},
		{"relative certificate URL", func(m map[string]any) { m["SigningCertURL"] = snsCertPath }, "is not an absolute URL"},
		{"http", func(m map[string]any) { m["SigningCertURL"] = strings.Replace(certs.certURL(), "https:", "http:", 1) },
			`SigningCertURL must be https, got "http"`},
		{"credentials", func(m map[string]any) { m["SigningCertURL"] = "https://user:pw@127.0.0.1" + snsCertPath },
			"SigningCertURL carries credentials"},
		{"untrusted host", func(m map[string]any) { m["SigningCertURL"] = "https://evil.example" + snsCertPath },
			`SigningCertURL's host "evil.example" is not an SNS host (sns.REGION.amazonaws.com); add it to http.sns.cert_hosts`},
		{"look-alike host", func(m map[string]any) { m["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com.evil.example/c.pem" },
			"is not an SNS host"},
	} {
		rec := h.do("POST", "/v1/s3", editSNS(t, signed, c.edit), snsHeaders("Notification")...)
		msg := wantError(t, rec, http.StatusForbidden, "InvalidSignatureException")
		if !strings.HasPrefix(msg, "SNS signature: ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: message %q, want %q", c.name, msg, c.want)
		}
	}
	if n := len(h.pub.envelopes(t)); n != 3 {
		t.Errorf("%d published, want the 3 genuine records", n)
	}
	// One fetch served every message: refused URLs were never requested.
	if got := certs.requests(); len(got) != 1 || got[0] != "GET "+snsCertPath {
		t.Errorf("certificate server got %q", got)
	}
}

func TestSNSCertificateUnavailable(t *testing.T) {
	t.Parallel()
	certs := newSNSServer(t)
	h := newHarness(t, trustSNS(certs))
	notification := s3Body(t, "sns-notification.json")
	host := strings.TrimPrefix(certs.URL, "https://")
	for _, c := range []struct{ path, want string }{
		{"/missing.pem", "it answered HTTP 500"},
		{"/redirect", "it answered HTTP 302"}, // not followed
		{"/huge.pem", "it is larger than 65536 bytes"},
		{"/not-a-cert.pem", "it is not a PEM certificate"},
		{"/ecdsa.pem", "its key is not RSA"},
	} {
		body := signSNS(t, notification, certs.URL+c.path, "1")
		for range 2 { // a failure is not cached: SNS's retry fetches again
			rec := h.do("POST", "/v1/s3", body, snsHeaders("Notification")...)
			msg := wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException")
			if want := "SNS signature: cannot get the signing certificate from " + host + ": " + c.want; !strings.HasPrefix(msg, want) {
				t.Errorf("%s: message %q, want %q", c.path, msg, want)
			}
			if rec.Header().Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", c.path)
			}
		}
	}
	if got := certs.requests(); len(got) != 10 || got[0] != "GET /missing.pem" || got[1] != "GET /missing.pem" || got[2] != "GET /redirect" {
		t.Errorf("certificate server got %q", got)
	}

	// A client that does not trust the server's TLS certificate fails the
	// fetch; it is not retried in the clear.
	untrusting := newHarness(t, func(o *Options) { o.SNSCertHosts = []string{"127.0.0.1"} })
	rec := untrusting.do("POST", "/v1/s3", signSNS(t, notification, certs.certURL(), "1"), snsHeaders("Notification")...)
	if msg := wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException"); !strings.Contains(msg, ": the request failed;") {
		t.Errorf("message %q", msg)
	}
	if n := len(h.pub.envelopes(t)) + len(untrusting.pub.envelopes(t)); n != 0 {
		t.Errorf("%d published without a checked signature", n)
	}
}

func TestSNSCertificateValidity(t *testing.T) {
	t.Parallel()
	certs := newSNSServer(t)
	body := signSNS(t, s3Body(t, "sns-notification.json"), certs.certURL(), "2")
	for _, at := range []time.Time{fixedNow.AddDate(2, 0, 0), fixedNow.AddDate(0, -2, 0)} {
		h := newHarness(t, trustSNS(certs), func(o *Options) { o.Now = func() time.Time { return at } })
		rec := h.do("POST", "/v1/s3", body, snsHeaders("Notification")...)
		if msg := wantError(t, rec, http.StatusForbidden, "InvalidSignatureException"); !strings.Contains(msg, "SNS signature: the signing certificate is valid from 2026-10-28T06:21:54Z to 2027-11-28T06:21:54Z, not at") {
			t.Errorf("at %s: message %q", at, msg)
		}
	}
}

func TestSNSVerificationOff(t *testing.T) {
	t.Parallel()
	// The fixture's signature is AWS's example, and its certificate on a
	// real SNS host: with checks off, neither is looked at.
	h := newHarness(t, func(o *Options) { o.SNSSkipVerify = true })
	for _, body := range []string{
		s3Body(t, "sns-notification.json"),
		editSNS(t, s3Body(t, "sns-notification.json"), func(m map[string]any) {
			for _, k := range []string{"Signature", "SignatureVersion", "SigningCertURL"} {
				delete(m, k)
			}
		}),
	} {
		wantEntries(t, h.do("POST", "/v1/s3", body, snsHeaders("Notification")...), http.StatusOK)
	}
	if n := len(h.pub.envelopes(t)); n != 2 {
		t.Errorf("%d published, want 2", n)
	}
}

func TestSNSCertHosts(t *testing.T) {
	t.Parallel()
	v := newSNSVerifier([]string{"sns.private.example"}, nil, time.Now)
	for _, c := range []struct {
		url     string
		trusted bool
	}{
		{"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem", true},
		{"https://SNS.EU-WEST-1.AMAZONAWS.COM/c.pem", true},
		{"https://sns.us-gov-west-1.amazonaws.com/c.pem", true},
		{"https://sns.cn-north-1.amazonaws.com.cn/c.pem", true},
		{"https://sns.eusc-de-east-1.amazonaws.eu/c.pem", true},
		{"https://sns.private.example:8443/c.pem", true},
		{"https://sns.amazonaws.com/c.pem", false},
		{"https://sqs.us-east-1.amazonaws.com/c.pem", false},
		{"https://sns.-us-east-1.amazonaws.com/c.pem", false},
		{"https://sns.us-east-1.amazonaws.com.evil.example/c.pem", false},
		{"https://sns.us-east-1.amazonaws.com.cn.evil.example/c.pem", false},
		{"https://evil.example/sns.us-east-1.amazonaws.com/c.pem", false},
		{"https://sns.us-east-1.amazonaws.com@evil.example/c.pem", false},
		{"https://other.private.example/c.pem", false},
		{"http://sns.us-east-1.amazonaws.com/c.pem", false},
		{"sns.us-east-1.amazonaws.com/c.pem", false},
	} {
		_, why := v.trustedCertURL(c.url)
		if (why == "") != c.trusted {
			t.Errorf("%s: trusted %v (%s), want %v", c.url, why == "", why, c.trusted)
		}
	}
}

// TestSNSCertCache checks the cache on its own: one fetch however many
// wait, reuse until snsCertTTL, and a bound with the least recently used
// certificate evicted first.
func TestSNSCertCache(t *testing.T) {
	t.Parallel()
	var fetches sync.Map // path → *atomic.Int32
	gate := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := fetches.LoadOrStore(r.URL.Path, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if r.URL.Path == "/slow.pem" {
			<-gate
		}
		_, _ = w.Write(testSNSKeys().certPEM)
	}))
	t.Cleanup(srv.Close)
	count := func(path string) int32 {
		n, ok := fetches.Load(path)
		if !ok {
			return 0
		}
		return n.(*atomic.Int32).Load()
	}
	var mu sync.Mutex
	now := fixedNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	v := newSNSVerifier([]string{"127.0.0.1"}, snsClient(srv.Client()), clock)
	get := func(path string) {
		t.Helper()
		if _, err := v.cert(context.Background(), srv.URL+path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { get("/slow.pem") })
	}
	for count("/slow.pem") == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join the fetch
	close(gate)
	wg.Wait()
	if n := count("/slow.pem"); n != 1 {
		t.Errorf("8 messages at once fetched the certificate %d times", n)
	}

	tick(snsCertTTL - time.Second)
	get("/slow.pem")
	if n := count("/slow.pem"); n != 1 {
		t.Errorf("fetched again before snsCertTTL: %d", n)
	}
	tick(2 * time.Second)
	get("/slow.pem")
	if n := count("/slow.pem"); n != 2 {
		t.Errorf("not fetched again after snsCertTTL: %d", n)
	}

	// Fill the cache, /slow.pem first, then use /slow.pem again: the next
	// certificate evicts the least recently used, /c/0.
	for i := range maxSNSCerts - 1 {
		tick(time.Second)
		get(fmt.Sprintf("/c/%d", i))
	}
	tick(time.Second)
	get("/slow.pem")
	tick(time.Second)
	get("/c/new")
	if len(v.certs) != maxSNSCerts {
		t.Errorf("%d cached, want the bound %d", len(v.certs), maxSNSCerts)
	}
	get("/slow.pem")
	get("/c/0")
	if a, b := count("/slow.pem"), count("/c/0"); a != 2 || b != 2 {
		t.Errorf("fetches: /slow.pem %d (want 2: kept), /c/0 %d (want 2: evicted)", a, b)
	}
}
