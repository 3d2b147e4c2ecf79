// Package client is routerctl's HTTP client for routerd: PutEvents and the
// admin API. It speaks to one endpoint and authenticates with a bearer
// token, an AWS Signature Version 4, or not at all.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 signing, as the AWS SDKs sign for EventBridge: routerd's verifier
// (sources/http/sigv4.go) takes the service "events" and any region.
const (
	// SigV4Service is the service a signature is scoped to: EventBridge's
	// signing name, the only one routerd accepts.
	SigV4Service = "events"
	// DefaultRegion is routerd's default region (config's region), which
	// routerctl signs for unless told another; routerd takes any.
	DefaultRegion = "local"
)

// Client talks to one routerd.
type Client struct {
	Endpoint string // e.g. http://127.0.0.1:8080
	Token    string // sent as Authorization: Bearer when set
	// SigV4, when set, signs every request with an AWS access key
	// (Authorization: AWS4-HMAC-SHA256 ...). Not with Token.
	SigV4 *SigV4
	HTTP  *http.Client
}

// SigV4 is an AWS access key to sign requests with, for a routerd whose
// http.auth.sigv4 lists it.
type SigV4 struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, from temporary credentials, is sent as
	// X-Amz-Security-Token and signed; routerd ignores it.
	SessionToken string
	// Region is the signature's region; "" is DefaultRegion.
	Region string
	// From says where the key came from ("--access-key-id",
	// "AWS_ACCESS_KEY_ID"); the error of a 401 or 403 answer names it with
	// the access key id, which is not secret.
	From string
}

// New returns a client for endpoint.
func New(endpoint, token string) *Client {
	return &Client{Endpoint: strings.TrimRight(endpoint, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// sign adds the SigV4 Authorization (and X-Amz-Date, X-Amz-Security-Token)
// to req, whose body is body: the signature covers the SHA-256 of exactly
// the bytes sent.
func (k *SigV4) sign(ctx context.Context, req *http.Request, body []byte) error {
	region := k.Region
	if region == "" {
		region = DefaultRegion
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken}
	return v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigV4Service, region, time.Now())
}

// Error is a non-2xx answer from routerd.
type Error struct {
	Status int
	Body   string
	// Signer, for a 401 or 403 answer to a signed request, names the key
	// that signed it: "access key AKID from AWS_ACCESS_KEY_ID".
	Signer string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Body)
	var j struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Type    string `json:"__type"`
	}
	if json.Unmarshal([]byte(msg), &j) == nil {
		switch {
		case j.Error != "":
			msg = j.Error
		case j.Message != "":
			msg = strings.TrimSpace(j.Type + ": " + j.Message)
		}
	}
	if e.Signer != "" {
		msg += " (signed with " + e.Signer + ")"
	}
	return fmt.Sprintf("routerd answered %d: %s", e.Status, msg)
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", c.Endpoint, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	switch {
	case c.Token != "" && c.SigV4 != nil:
		return errors.New("client: a bearer token and a SigV4 key: give one")
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.SigV4 != nil:
		if err := c.SigV4.sign(ctx, req, body); err != nil {
			return fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach routerd at %s: %w", c.Endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode, Body: string(b)}
		if k := c.SigV4; k != nil && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
			e.Signer = "access key " + k.AccessKeyID
			if k.From != "" {
				e.Signer += " from " + k.From
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("unexpected answer %q: %w", b, err)
	}
	return nil
}

// PutEventsResult is the PutEvents answer.
type PutEventsResult struct {
	FailedEntryCount int `json:"FailedEntryCount"`
	Entries          []struct {
		EventID      string `json:"EventId,omitempty"`
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorMessage string `json:"ErrorMessage,omitempty"`
	} `json:"Entries"`
}

// PutEvents sends entries (PutEvents' request entries, as JSON objects
// with Source, DetailType, Detail, ...) as one PutEvents request.
func (c *Client) PutEvents(ctx context.Context, entries []json.RawMessage) (*PutEventsResult, error) {
	body, err := json.Marshal(map[string]any{"Entries": entries})
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/x-amz-json-1.1")
	hdr.Set("X-Amz-Target", "AWSEvents.PutEvents")
	var out PutEventsResult
	if err := c.do(ctx, "POST", "/", hdr, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DLQ is a consumer's dead-letter queue as GET /admin/dlq/{consumer} lists it.
type DLQ struct {
	Consumer string `json:"consumer"`
	Total    int    `json:"total"`
	Entries  []struct {
		Seq    uint64          `json:"seq"`
		Record json.RawMessage `json:"record"`
	} `json:"entries"`
}

// DLQList lists up to limit dead letters of a consumer.
func (c *Client) DLQList(ctx context.Context, consumer string, limit int) (*DLQ, error) {
	var out DLQ
	err := c.do(ctx, "GET", fmt.Sprintf("/admin/dlq/%s?limit=%d", url.PathEscape(consumer), limit), nil, nil, &out)
	return &out, err
}

// DLQReplay queues up to limit dead letters for delivery again.
func (c *Client) DLQReplay(ctx context.Context, consumer string, limit int) (int, error) {
	var out struct{ Replayed int }
	err := c.do(ctx, "POST", fmt.Sprintf("/admin/dlq/%s/replay?limit=%d", url.PathEscape(consumer), limit), nil, nil, &out)
	return out.Replayed, err
}

// DLQPurge drops a consumer's dead letters.
func (c *Client) DLQPurge(ctx context.Context, consumer string) (int, error) {
	var out struct{ Purged int }
	err := c.do(ctx, "DELETE", "/admin/dlq/"+url.PathEscape(consumer), nil, nil, &out)
	return out.Purged, err
}

// Reload asks routerd to reload its configuration file.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, "POST", "/admin/reload", nil, nil, nil)
}
