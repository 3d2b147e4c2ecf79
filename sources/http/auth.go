package httpsrc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/time/rate"
)

// Authentication, in front of every ingest route and the admin API.
//
// A client presents one of:
//   - an API key, "Authorization: Bearer <key>". routerd keeps only the
//     key's SHA-256, hashes what it is given and compares the hash with every
//     configured one in constant time, so neither the time taken nor the
//     answer tells an unknown key from a wrong one, or which key came close.
//   - the same API key as the password of HTTP Basic authentication, with
//     the key's name as the user: "Authorization: Basic base64(NAME:KEY)".
//     This is for senders that can only put credentials in a URL, notably
//     Amazon SNS HTTPS subscriptions (https://NAME:KEY@host/v1/s3), which
//     send them only after a 401 with a Basic challenge;
//   - an AWS Signature Version 4 (sigv4.go), as unmodified AWS SDKs and the
//     AWS CLI send, made with a configured access key id and secret.
//
// Each credential carries scopes: ingest for POST /, /v1/events, /v1/s3 and
// /v1/cloudevents; admin for /admin/. /healthz, /readyz and /metrics are
// always open: probes and Prometheus carry no credentials, and they reveal
// nothing but liveness and counters (/metrics can move to a listener of its
// own). With no credential configured authentication is off and every
// request is let in; routerd then listens on loopback only (config enforces
// it unless --insecure).
//
// Answers: no credentials, or an API key that matches none, 401 with
// WWW-Authenticate challenges for Bearer and Basic; a SigV4 signature that
// does not check out 403, in AWS's error shapes
// (IncompleteSignatureException, UnrecognizedClientException,
// InvalidSignatureException) so the SDKs report them as they would from
// AWS; a valid credential without the scope 403 AccessDeniedException.

// API scopes: what a credential may do.
const (
	ScopeIngest = "ingest" // send events: POST /, /v1/events, /v1/s3, /v1/cloudevents
	ScopeAdmin  = "admin"  // use the admin API under /admin/
)

// Auth lists the credentials clients may present. Authentication is off
// when both lists are empty.
type Auth struct {
	// APIKeys are bearer tokens, known only by their SHA-256.
	APIKeys []APIKey
	// SigV4 are AWS access keys for clients that sign with Signature
	// Version 4.
	SigV4 []SigV4Key
}

// enabled reports whether any credential is configured.
func (a Auth) enabled() bool { return len(a.APIKeys)+len(a.SigV4) > 0 }

// APIKey is one bearer token (Authorization: Bearer <key>).
type APIKey struct {
	// Name identifies the client in logs and gives it its own throttle
	// bucket.
	Name string
	// SHA256 is the hex SHA-256 of the key; the key itself is never stored.
	SHA256 string
	// Scopes are what the key may do: ScopeIngest, ScopeAdmin.
	Scopes []string
}

// SigV4Key is one AWS access key. SigV4 is an HMAC, so routerd must hold
// the secret itself.
type SigV4Key struct {
	// AccessKeyID is what clients send in the signature's Credential; it
	// names the client in logs and gives it its own throttle bucket.
	AccessKeyID string
	// SecretAccessKey verifies the signatures.
	SecretAccessKey string
	// Scopes are what the credential may do: ScopeIngest, ScopeAdmin.
	Scopes []string
}

// client is who sent a request, once authenticated.
type client struct {
	name   string        // for logs: "key:NAME", "sigv4:AKID" or "anonymous"
	scopes []string      // what it may do; nil for anonymous, who may do all
	bucket *rate.Limiter // its token bucket; nil when throttling is off
}

// may reports whether c has scope.
func (c *client) may(scope string) bool {
	return c.scopes == nil || slices.Contains(c.scopes, scope)
}

type clientKey struct{}

// clientFrom returns the client authenticate let in.
func clientFrom(ctx context.Context) *client {
	c, _ := ctx.Value(clientKey{}).(*client)
	return c
}

// bearerKey is a configured API key by its hash.
type bearerKey struct {
	sum [sha256.Size]byte
	c   *client
}

// keyring holds the configured credentials, resolved once in New. Clients,
// and so throttle buckets, come only from here: their number is bounded by
// the config, whatever clients send.
type keyring struct {
	enabled   bool
	anonymous *client // everyone, when authentication is off
	bearer    []bearerKey
	sigv4     map[string]*sigv4Cred // by access key id; ids are not secret
	// eq compares two hashes; subtle.ConstantTimeCompare but for tests,
	// which count calls to prove every key is compared.
	eq func(a, b []byte) int
}

// sigv4Cred is a configured access key.
type sigv4Cred struct {
	secret string
	c      *client
}

// newKeyring resolves the credentials and gives each client its token
// bucket (newBucket returns nil when throttling is off).
func newKeyring(a Auth, newBucket func() *rate.Limiter, log *slog.Logger) *keyring {
	k := &keyring{
		enabled:   a.enabled(),
		anonymous: &client{name: "anonymous", bucket: newBucket()},
		sigv4:     map[string]*sigv4Cred{},
		eq:        subtle.ConstantTimeCompare,
	}
	for _, key := range a.APIKeys {
		sum, err := hex.DecodeString(key.SHA256)
		if err != nil || len(sum) != sha256.Size {
			// config.Validate refuses this; a key that cannot match is
			// the safe reading if it gets here anyway.
			log.Error("http auth: API key ignored: sha256 is not 64 hex digits", "name", key.Name)
			continue
		}
		bk := bearerKey{c: &client{name: "key:" + key.Name, scopes: nonNil(key.Scopes), bucket: newBucket()}}
		copy(bk.sum[:], sum)
		k.bearer = append(k.bearer, bk)
	}
	for _, key := range a.SigV4 {
		k.sigv4[key.AccessKeyID] = &sigv4Cred{secret: key.SecretAccessKey,
			c: &client{name: "sigv4:" + key.AccessKeyID, scopes: nonNil(key.Scopes), bucket: newBucket()}}
	}
	return k
}

// nonNil keeps a credential with no scopes from reading as anonymous.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// lookupBearer finds the API key whose hash is the token's. It compares
// with every configured hash, in constant time and without branching on the
// outcome, so the time taken does not depend on whether or which key
// matched. Hashing first also makes the compared values independent of the
// token's length.
func (k *keyring) lookupBearer(token string) *client {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range k.bearer {
		found = subtle.ConstantTimeSelect(k.eq(sum[:], k.bearer[i].sum[:]), i, found)
	}
	if found < 0 {
		return nil
	}
	return k.bearer[found].c
}

// authenticate lets through requests whose credentials are valid and carry
// scope, with the client in the request's context; others get 401 or 403.
// For SigV4 it reads the body (up to maxBody) to check the payload hash and
// hands the handler an identical copy.
func (s *server) authenticate(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.keys.anonymous
		if s.keys.enabled {
			var aerr *apiError
			c, aerr = s.identify(w, r)
			if aerr != nil {
				if aerr.status == http.StatusUnauthorized {
					w.Header().Add("WWW-Authenticate", `Bearer realm="routerd"`)
					w.Header().Add("WWW-Authenticate", `Basic realm="routerd", charset="UTF-8"`)
				}
				writeError(w, r, aerr)
				return
			}
			if !c.may(scope) {
				writeError(w, r, &apiError{status: http.StatusForbidden, typ: "AccessDeniedException",
					msg: fmt.Sprintf("the credential %s is not allowed to do this: it lacks the %s scope", c.name, scope)})
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// identify checks the request's credentials.
func (s *server) identify(w http.ResponseWriter, r *http.Request) (*client, *apiError) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return nil, &apiError{status: http.StatusUnauthorized, typ: "MissingAuthenticationTokenException",
			msg: "Missing Authentication Token: send Authorization: Bearer <API key>, or sign the request with AWS Signature Version 4"}
	case len(vals) > 1:
		return nil, &apiError{status: http.StatusUnauthorized, typ: "IncompleteSignatureException",
			msg: "more than one Authorization header"}
	}
	h := vals[0]
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if c := s.keys.lookupBearer(strings.TrimSpace(rest)); c != nil {
			return c, nil
		}
		return nil, errInvalidKey
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		user, key, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return nil, &apiError{status: http.StatusUnauthorized, typ: "IncompleteSignatureException",
				msg: "Basic credentials must be base64 of NAME:KEY, the API key's name and the key"}
		}
		// The key is the secret and is looked up like a bearer key; the
		// name must be its own, so a URL says which key it carries.
		if c := s.keys.lookupBearer(key); c != nil && c.name == "key:"+user {
			return c, nil
		}
		return nil, errInvalidKey
	case scheme == sigv4Algorithm:
		return s.verifySigV4(w, r, h)
	}
	return nil, &apiError{status: http.StatusUnauthorized, typ: "IncompleteSignatureException",
		msg: fmt.Sprintf("unsupported Authorization scheme %s: use Bearer <API key>, Basic, or %s (AWS Signature Version 4)", clip(scheme), sigv4Algorithm)}
}

// errInvalidKey is AWS's answer to credentials it does not know.
var errInvalidKey = &apiError{status: http.StatusUnauthorized, typ: "UnrecognizedClientException",
	msg: "The security token included in the request is invalid."}
