// Package client is routerctl's HTTP client for routerd: PutEvents and the
// admin API. It speaks to one endpoint with an optional bearer token.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one routerd.
type Client struct {
	Endpoint string // e.g. http://127.0.0.1:8080
	Token    string // sent as Authorization: Bearer when set
	HTTP     *http.Client
}

// New returns a client for endpoint.
func New(endpoint, token string) *Client {
	return &Client{Endpoint: strings.TrimRight(endpoint, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is a non-2xx answer from routerd.
type Error struct {
	Status int
	Body   string
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
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
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
		return &Error{Status: resp.StatusCode, Body: string(b)}
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
