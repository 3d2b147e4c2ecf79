package httpsrc

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/sources/s3notify"
)

const (
	// snsCertTimeout bounds fetching a signing certificate, whatever the
	// client's own timeout: SNS is waiting for our answer meanwhile.
	snsCertTimeout = 10 * time.Second
	// maxSNSCert bounds a signing certificate's download; SNS's are about
	// 2 KiB of PEM.
	maxSNSCert = 64 << 10
	// maxSNSCerts bounds the certificate cache. SNS signs with one
	// certificate per region at a time, so a few entries serve every
	// genuine sender, and only certificates that were fetched are kept.
	maxSNSCerts = 64
	// snsCertTTL is how long a fetched certificate is used before it is
	// fetched again, so that one SNS stops serving stops verifying.
	snsCertTTL = 24 * time.Hour
)

// snsHost matches SNS's own hosts in AWS's public partitions, the only ones
// a SigningCertURL may name unless http.sns.cert_hosts adds others:
// sns.REGION.amazonaws.com (commercial and GovCloud), .amazonaws.com.cn
// (China) and .amazonaws.eu (European Sovereign Cloud).
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9]+(-[a-z0-9]+)*\.amazonaws\.(com|com\.cn|eu)$`)

// snsVerifier checks SNS message signatures, so that only messages SNS
// signed reach the records or the subscription handshake. The signing
// certificate is fetched over https, only from SNS's hosts (or the
// configured ones): that fetch is what vouches for it, as SNS's
// certificates carry no chain to check. Certificates are cached by URL.
type snsVerifier struct {
	certHosts []string // trusted besides snsHost: http.sns.cert_hosts
	client    *http.Client
	now       func() time.Time

	mu    sync.Mutex
	certs map[string]*snsCert // by SigningCertURL
}

// snsCert is a cached certificate, or one being fetched until ready is
// closed. Failed fetches are not kept: SNS retries them.
type snsCert struct {
	ready   chan struct{}
	cert    *x509.Certificate
	err     error
	fetched time.Time // under snsVerifier.mu, as is used
	used    time.Time
}

func newSNSVerifier(certHosts []string, client *http.Client, now func() time.Time) *snsVerifier {
	return &snsVerifier{certHosts: certHosts, client: client, now: now, certs: map[string]*snsCert{}}
}

// verify checks m's signature before routerd acts on the message. A
// message not signed as SNS signs is refused with 403 (SNS does not retry
// a 4xx, and a forgery is not worth retrying); a certificate that cannot
// be had right now answers 503, which SNS retries.
func (v *snsVerifier) verify(r *http.Request, log *slog.Logger, m *s3notify.SNSMessage) *apiError {
	refuse := func(format string, args ...any) *apiError {
		why := fmt.Sprintf(format, args...)
		log.Warn("http: SNS message refused", "topic", m.TopicArn, "message_id", m.MessageID,
			"reason", why, "request_id", requestID(r.Context()))
		return &apiError{status: http.StatusForbidden, typ: "InvalidSignatureException", msg: "SNS signature: " + why}
	}
	if m.Signature == "" {
		return refuse("the message has no Signature; SNS signs every message it sends")
	}
	text, err := m.StringToSign()
	if err != nil {
		return refuse("%v", err)
	}
	hash, digest, ok := snsDigest(m.SignatureVersion, text)
	if !ok {
		return refuse("SignatureVersion %s is not 1 (SHA1withRSA) or 2 (SHA256withRSA)", clip(m.SignatureVersion))
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return refuse("Signature is not base64")
	}
	certURL, why := v.trustedCertURL(m.SigningCertURL)
	if why != "" {
		return refuse("%s", why)
	}
	cert, err := v.cert(r.Context(), certURL.String())
	if err != nil {
		log.Warn("http: SNS signing certificate unavailable", "url", certURL.Redacted(), "err", err,
			"topic", m.TopicArn, "request_id", requestID(r.Context()))
		return &apiError{status: http.StatusServiceUnavailable, typ: "ServiceUnavailableException", retryAfter: "5",
			msg: fmt.Sprintf("SNS signature: cannot get the signing certificate from %s: %s; nothing was accepted, SNS can send the message again", certURL.Host, certProblem(err))}
	}
	if now := v.now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return refuse("the signing certificate is valid from %s to %s, not at %s",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), hash, digest, sig) != nil {
		return refuse("Signature does not match the message: it was altered, or not signed with the certificate at %s", clip(m.SigningCertURL))
	}
	return nil
}

// snsDigest hashes the string to sign as SignatureVersion says: 1 is
// SHA1withRSA, 2 SHA256withRSA.
func snsDigest(version, text string) (crypto.Hash, []byte, bool) {
	switch version {
	case "1":
		d := sha1.Sum([]byte(text))
		return crypto.SHA1, d[:], true
	case "2":
		d := sha256.Sum256([]byte(text))
		return crypto.SHA256, d[:], true
	}
	return 0, nil, false
}

// trustedCertURL parses a SigningCertURL, or says why routerd will not
// fetch it: only https on SNS's hosts or cert_hosts, so that a forged
// message can neither make routerd request other URLs nor bring its own
// certificate.
func (v *snsVerifier) trustedCertURL(raw string) (*url.URL, string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, "the message has no SigningCertURL"
	case err != nil || u.Host == "":
		return nil, fmt.Sprintf("SigningCertURL %s is not an absolute URL", clip(raw))
	case u.Scheme != "https":
		return nil, fmt.Sprintf("SigningCertURL must be https, got %s", clip(u.Scheme))
	case u.User != nil:
		return nil, "SigningCertURL carries credentials"
	case !snsHost.MatchString(strings.ToLower(u.Hostname())) && !hostListed(v.certHosts, u.Hostname()):
		return nil, fmt.Sprintf("SigningCertURL's host %s is not an SNS host (sns.REGION.amazonaws.com); add it to http.sns.cert_hosts to trust it", clip(u.Hostname()))
	}
	return u, ""
}

// cert returns the certificate at certURL, from the cache or fetched once
// however many messages wait for it. The fetch outlives the request that
// started it (up to snsCertTimeout), so that the others still get it.
func (v *snsVerifier) cert(ctx context.Context, certURL string) (*x509.Certificate, error) {
	now := v.now()
	v.mu.Lock()
	c := v.certs[certURL]
	if c != nil && !c.fetched.IsZero() && now.Sub(c.fetched) >= snsCertTTL {
		delete(v.certs, certURL)
		c = nil
	}
	fetch := c == nil
	if fetch {
		if !v.makeRoom() {
			v.mu.Unlock()
			return nil, errors.New("too many certificates are being fetched at once")
		}
		c = &snsCert{ready: make(chan struct{})}
		v.certs[certURL] = c
	}
	c.used = now
	v.mu.Unlock()

	if fetch {
		cert, err := v.download(context.WithoutCancel(ctx), certURL)
		v.mu.Lock()
		c.cert, c.err, c.fetched = cert, err, v.now()
		if err != nil && v.certs[certURL] == c {
			delete(v.certs, certURL)
		}
		v.mu.Unlock()
		close(c.ready)
	}
	select {
	case <-c.ready:
		return c.cert, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// makeRoom evicts the least recently used fetched certificate when the
// cache is full; false when every entry is still being fetched. Called
// with v.mu held.
func (v *snsVerifier) makeRoom() bool {
	if len(v.certs) < maxSNSCerts {
		return true
	}
	var oldest string
	for u, c := range v.certs {
		if !c.fetched.IsZero() && (oldest == "" || c.used.Before(v.certs[oldest].used)) {
			oldest = u
		}
	}
	if oldest == "" {
		return false
	}
	delete(v.certs, oldest)
	return true
}

// download GETs a signing certificate: no redirects (the client follows
// none), a bounded body, and it must be an RSA certificate in PEM that
// may sign.
func (v *snsVerifier) download(ctx context.Context, certURL string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, snsCertTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("it answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSNSCert+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxSNSCert {
		return nil, fmt.Errorf("it is larger than %d bytes", maxSNSCert)
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("it is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("it is not a valid certificate: %v", err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("its key is not RSA, which SNS signs with")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, errors.New("it is not for digital signatures")
	}
	return cert, nil
}

// certProblem words a failed certificate fetch for the sender: download's
// own reasons as they are, transport errors (which may name addresses)
// only by kind; the log has them whole.
func certProblem(err error) string {
	var uerr *url.Error
	switch {
	case errors.As(err, &uerr) && uerr.Timeout():
		return "it did not answer in time"
	case errors.As(err, &uerr):
		return "the request failed"
	}
	return err.Error()
}
