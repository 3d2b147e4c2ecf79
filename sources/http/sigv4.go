package httpsrc

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 verification, for the AWS SDKs and CLI, which
// sign every request with an access key and its secret:
//
//	Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/events/aws4_request,
//	  SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=<64 hex>
//
// routerd rebuilds the canonical request from what it received, exactly as
// the SigV4 specification says, derives the signing key from the configured
// secret and compares signatures in constant time. What it accepts:
//   - the Authorization header form only (no presigned URLs);
//   - any region (routerd's own region is a label, not an endpoint) and the
//     service "events", EventBridge's signing name;
//   - a signature whose SignedHeaders include host and x-amz-date, dated
//     within 5 minutes of routerd's clock either way, as AWS requires. A
//     captured request can be replayed within that window, as with AWS;
//     TLS keeps it from being captured;
//   - a signed payload only: the body's SHA-256 is always computed and, when
//     X-Amz-Content-Sha256 is sent, must equal it. UNSIGNED-PAYLOAD and the
//     streaming forms are refused: the body is the event, and an unsigned
//     one could be swapped by anyone on the path;
//   - X-Amz-Security-Token, when sent and signed, is ignored: routerd issues
//     no temporary credentials.

const (
	sigv4Algorithm  = "AWS4-HMAC-SHA256"
	sigv4Terminator = "aws4_request"
	sigv4Service    = "events"
	amzDateFormat   = "20060102T150405Z"
	// sigv4MaxSkew is how far X-Amz-Date may be from routerd's clock.
	sigv4MaxSkew = 5 * time.Minute
)

// sigv4Header is a parsed SigV4 Authorization header.
type sigv4Header struct {
	accessKeyID string
	date        string // YYYYMMDD of the credential scope
	region      string
	service     string
	// signedHeaders are lower-case, sorted and unique, as the spec requires.
	signedHeaders []string
	signature     []byte // decoded from hex
}

// scope is the credential scope, DATE/REGION/SERVICE/aws4_request.
func (h *sigv4Header) scope() string {
	return h.date + "/" + h.region + "/" + h.service + "/" + sigv4Terminator
}

// parseSigV4Header parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...". Errors name what is wrong without echoing the header.
func parseSigV4Header(h string) (*sigv4Header, error) {
	rest, ok := strings.CutPrefix(h, sigv4Algorithm+" ")
	if !ok {
		return nil, errors.New("Authorization must start with " + sigv4Algorithm)
	}
	var out sigv4Header
	var seen [3]bool
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, errors.New("Authorization header parts must be Name=value, separated by commas")
		}
		i := slices.Index([]string{"Credential", "SignedHeaders", "Signature"}, k)
		if i < 0 {
			return nil, fmt.Errorf("unknown Authorization header part %s", clip(k))
		}
		if seen[i] {
			return nil, fmt.Errorf("Authorization header has %s twice", k)
		}
		seen[i] = true
		var err error
		switch i {
		case 0:
			err = out.parseCredential(v)
		case 1:
			out.signedHeaders, err = parseSignedHeaders(v)
		case 2:
			out.signature, err = hex.DecodeString(v)
			if err != nil || len(out.signature) != sha256.Size || strings.ToLower(v) != v {
				err = errors.New("Signature must be 64 lower-case hex digits")
			}
		}
		if err != nil {
			return nil, err
		}
	}
	for i, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return nil, fmt.Errorf("Authorization header requires '%s' parameter", name)
		}
	}
	return &out, nil
}

// parseCredential parses AKID/YYYYMMDD/REGION/SERVICE/aws4_request.
func (h *sigv4Header) parseCredential(v string) error {
	p := strings.Split(v, "/")
	if len(p) != 5 || p[0] == "" || p[2] == "" || p[3] == "" || p[4] != sigv4Terminator {
		return errors.New("Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request")
	}
	if _, err := time.Parse("20060102", p[1]); err != nil || len(p[1]) != 8 {
		return errors.New("the date in Credential must be YYYYMMDD")
	}
	h.accessKeyID, h.date, h.region, h.service = p[0], p[1], p[2], p[3]
	return nil
}

// parseSignedHeaders parses "host;x-amz-date;...": lower-case names,
// sorted, unique, host and x-amz-date among them.
func parseSignedHeaders(v string) ([]string, error) {
	names := strings.Split(v, ";")
	for i, n := range names {
		if n == "" || strings.ToLower(n) != n || strings.ContainsAny(n, " \t:") {
			return nil, errors.New("SignedHeaders must be lower-case header names separated by ';'")
		}
		if i > 0 && names[i-1] >= n {
			return nil, errors.New("SignedHeaders must be sorted and without duplicates")
		}
	}
	for _, need := range []string{"host", "x-amz-date"} {
		if _, found := slices.BinarySearch(names, need); !found {
			return nil, fmt.Errorf("SignedHeaders must include %s", need)
		}
	}
	return names, nil
}

func errIncompleteSignature(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, typ: "IncompleteSignatureException", msg: fmt.Sprintf(format, args...)}
}

func errInvalidSignature(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, typ: "InvalidSignatureException", msg: fmt.Sprintf(format, args...)}
}

// errSignatureMismatch is AWS's own words, which SDK users will search for.
var errSignatureMismatch = errInvalidSignature("The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")

// verifySigV4 checks a SigV4-signed request. The cheap checks (form, key,
// date) come before the body is read, so most refusals cost no body read;
// the body, read once within the body limit, is put back for the handler.
func (s *server) verifySigV4(w http.ResponseWriter, r *http.Request, authz string) (*client, *apiError) {
	h, err := parseSigV4Header(authz)
	if err != nil {
		return nil, errIncompleteSignature("%v", err)
	}
	cred := s.keys.sigv4[h.accessKeyID]
	if cred == nil {
		return nil, &apiError{status: http.StatusForbidden, typ: "UnrecognizedClientException",
			msg: "The security token included in the request is invalid."}
	}
	if h.service != sigv4Service {
		return nil, errInvalidSignature("Credential should be scoped to correct service: '%s'.", sigv4Service)
	}
	dates := r.Header.Values("X-Amz-Date")
	if len(dates) != 1 {
		return nil, errIncompleteSignature("a signed request needs exactly one X-Amz-Date header")
	}
	signedAt, err := time.Parse(amzDateFormat, dates[0])
	if err != nil {
		return nil, errIncompleteSignature("X-Amz-Date must be in the form %s", amzDateFormat)
	}
	if dates[0][:8] != h.date {
		return nil, errInvalidSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from 'X-Amz-Date'.", h.date, dates[0][:8])
	}
	now := s.now().UTC()
	if aerr := checkSkew(signedAt, now); aerr != nil {
		return nil, aerr
	}
	claimed := r.Header.Values("X-Amz-Content-Sha256")
	if len(claimed) > 1 {
		return nil, errIncompleteSignature("more than one X-Amz-Content-Sha256 header")
	}
	if len(claimed) == 1 {
		if b, err := hex.DecodeString(claimed[0]); err != nil || len(b) != sha256.Size {
			return nil, errInvalidSignature("X-Amz-Content-Sha256 must be the hex SHA-256 of the body; UNSIGNED-PAYLOAD and streaming payloads are not accepted")
		}
	}

	body, aerr := readSignedBody(w, r, s.maxBody)
	if aerr != nil {
		return nil, aerr
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if len(claimed) == 1 && !strings.EqualFold(claimed[0], payloadHash) {
		return nil, errInvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	creq, err := canonicalRequest(r, h.signedHeaders, payloadHash)
	if err != nil {
		return nil, errSignatureMismatch
	}
	want := sigv4Signature(cred.secret, h, dates[0], creq)
	if !hmac.Equal(want, h.signature) {
		return nil, errSignatureMismatch
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return cred.c, nil
}

// checkSkew refuses a signature dated more than sigv4MaxSkew away from now,
// in AWS's words: the SDKs recognise them, and correct their clock from the
// response's Date header when theirs is the one that is off.
func checkSkew(signedAt, now time.Time) *apiError {
	switch {
	case signedAt.Before(now.Add(-sigv4MaxSkew)):
		return errInvalidSignature("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			signedAt.Format(amzDateFormat), now.Add(-sigv4MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	case signedAt.After(now.Add(sigv4MaxSkew)):
		return errInvalidSignature("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			signedAt.Format(amzDateFormat), now.Add(sigv4MaxSkew).Format(amzDateFormat), now.Format(amzDateFormat))
	}
	return nil
}

// readSignedBody reads the whole body, at most max bytes, for hashing.
func readSignedBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *apiError) {
	if r.ContentLength > max {
		return nil, errTooLarge(max)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge(max)
		}
		return nil, serializationError("reading the request body: %v", err)
	}
	return b, nil
}

// canonicalRequest is SigV4's canonical request:
//
//	METHOD \n CANONICAL_URI \n CANONICAL_QUERY \n CANONICAL_HEADERS \n SIGNED_HEADERS \n PAYLOAD_HASH
func canonicalRequest(r *http.Request, signed []string, payloadHash string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimHeaderValue(v))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), nil
}

// headerValues returns a header's values as the client sent them. net/http
// moves Host, Content-Length and Transfer-Encoding out of Header.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		return []string{r.Host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		return r.TransferEncoding
	}
	return r.Header.Values(name)
}

// trimHeaderValue trims a value and collapses runs of spaces, as SigV4 and
// the AWS SDKs do.
func trimHeaderValue(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// canonicalURI is the path as sent, URI-encoded once more: every service
// but S3 signs the double-encoded path.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery sorts the query's parameters by encoded name, then value,
// each URI-encoded.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "", err
	}
	pairs := make([]string, 0, len(vals))
	for k, vs := range vals {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	// Sort by name, then value: names and values are encoded, so the first
	// '=' is the separator. (Sorting the "k=v" strings whole would misorder
	// a name that is a prefix of another.)
	slices.SortFunc(pairs, func(a, b string) int {
		ak, av, _ := strings.Cut(a, "=")
		bk, bv, _ := strings.Cut(b, "=")
		if c := strings.Compare(ak, bk); c != 0 {
			return c
		}
		return strings.Compare(av, bv)
	})
	return strings.Join(pairs, "&"), nil
}

// uriEncode percent-encodes every byte but the unreserved characters
// (A-Z a-z 0-9 - . _ ~), and '/' unless encodeSlash, as SigV4 defines.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// sigv4Signature signs the canonical request with a key derived from the
// secret, the credential scope's date, region and service.
func sigv4Signature(secret string, h *sigv4Header, amzDate, creq string) []byte {
	sum := sha256.Sum256([]byte(creq))
	toSign := sigv4Algorithm + "\n" + amzDate + "\n" + h.scope() + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), h.date)
	key = hmacSHA256(key, h.region)
	key = hmacSHA256(key, h.service)
	key = hmacSHA256(key, sigv4Terminator)
	return hmacSHA256(key, toSign)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
