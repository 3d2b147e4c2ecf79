// Package httpsink delivers events as HTTP requests whose body is the
// EventBridge envelope, like an EventBridge API destination.
//
// The answer decides what happens next (see SPEC "Delivery"): 2xx is
// success; 408, 429, 5xx, timeouts and connection errors are retried, no
// sooner than a Retry-After the destination sends; any other status is
// permanent and sends the event to the dead-letter queue at once.
// Redirects are not followed: a POST silently turned into a GET would be
// lost, so a 3xx is a permanent error that names the new location.
package httpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sinks"
)

// Type is the sink's name in config (consumers.<name>.sink.type).
const Type = "http"

// DefaultTimeout bounds one request, from dial to the end of the answer,
// when neither the sink's timeout key nor the caller's context bounds it.
const DefaultTimeout = 5 * time.Second

// UserAgent identifies the router to the destination.
const UserAgent = "eventrouter-httpsink/1"

const (
	// snippetSize is how much of an error answer goes into the error
	// message (and so the DLQ entry): enough to see why, not a whole page.
	snippetSize = 512
	// drainLimit is how much of an answer is read and thrown away so the
	// connection can be reused; past it, closing is cheaper than reading.
	drainLimit = 64 << 10
)

// Config is the http sink's keys.
type Config struct {
	URL     string            `json:"url"`
	Timeout *sinks.Duration   `json:"timeout"`
	Headers map[string]string `json:"headers"`
	Method  string            `json:"method"`
}

// Sink posts each event to one URL.
type Sink struct {
	url     string
	shown   string // url without its password, for messages
	method  string
	timeout time.Duration // the timeout key; 0 when not set
	headers http.Header
	client  *http.Client
	closed  atomic.Bool
}

var _ sinks.Sink = (*Sink)(nil)

// reserved are headers the sink sets itself; letting config override them
// would break idempotency or the request framing.
var reserved = []string{
	"Idempotency-Key", "X-Eventrouter-Rule", "X-Eventrouter-Consumer", "X-Eventrouter-Attempt",
	"Content-Length", "Transfer-Encoding", "Connection", "Host", "Te", "Trailer", "Upgrade",
}

// Validate checks an http sink's keys without building anything.
func Validate(spec sinks.Spec) error {
	_, err := parse(spec)
	return err
}

func parse(spec sinks.Spec) (_ *Sink, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("httpsink: %w", err)
		}
	}()
	var c Config
	if err := sinks.Decode(spec, &c); err != nil {
		return nil, err
	}
	s := &Sink{method: http.MethodPost, headers: make(http.Header)}
	if c.URL == "" {
		return nil, errors.New(`missing required key "url"`)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, sinks.KeyErr("url", "%v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, sinks.KeyErr("url", "scheme must be http or https, got %q", c.URL)
	}
	if u.Host == "" {
		return nil, sinks.KeyErr("url", "%q has no host", c.URL)
	}
	s.url = u.String()
	s.shown = u.Redacted()
	if c.Timeout != nil {
		if *c.Timeout <= 0 {
			return nil, sinks.KeyErr("timeout", "must be positive, got %v", time.Duration(*c.Timeout))
		}
		s.timeout = time.Duration(*c.Timeout)
	}
	if c.Method != "" {
		m := strings.ToUpper(c.Method)
		if m != http.MethodPost && m != http.MethodPut && m != http.MethodPatch {
			return nil, sinks.KeyErr("method", "must be POST, PUT or PATCH, got %q", c.Method)
		}
		s.method = m
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			return nil, sinks.KeyErr("headers."+k, "not a valid header name")
		}
		if strings.ContainsAny(v, "\r\n\x00") || !utf8.ValidString(v) {
			return nil, sinks.KeyErr("headers."+k, "value must be one line of text")
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if slices.Contains(reserved, ck) {
			return nil, sinks.KeyErr("headers."+k, "set by the sink itself")
		}
		s.headers.Set(ck, v)
	}
	return s, nil
}

// New builds an http sink for consumer name. It opens no connection: the
// first Send does.
func New(name string, spec sinks.Spec, deps sinks.Deps) (sinks.Sink, error) {
	s, err := parse(spec)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// A consumer runs many deliveries at once against one host; the default
	// of 2 idle connections per host would make most of them dial anew.
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	s.client = &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s, nil
}

// Send makes one request and classifies the answer.
func (s *Sink) Send(ctx context.Context, d event.Delivery) error {
	if s.closed.Load() {
		return ErrClosed
	}
	limit := s.timeout
	if _, ok := ctx.Deadline(); !ok && limit == 0 {
		limit = DefaultTimeout
	}
	if err := ctx.Err(); err != nil {
		return s.transportError(ctx, err, limit)
	}
	cancel := context.CancelFunc(func() {})
	if limit > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, limit, errTimeout)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, bytes.NewReader(d.Event))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("httpsink: %w", err))
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	req.Header.Set("Idempotency-Key", d.ID)
	req.Header.Set("X-Eventrouter-Rule", d.Rule)
	req.Header.Set("X-Eventrouter-Consumer", d.Consumer)
	req.Header.Set("X-Eventrouter-Attempt", strconv.Itoa(d.Attempt))

	resp, err := s.client.Do(req)
	if err != nil {
		return s.transportError(ctx, err, limit)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, snippetSize))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	return statusError(resp, snippet)
}

// Close drops idle connections. In-flight requests finish on their own.
func (s *Sink) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.client.CloseIdleConnections()
	return nil
}

// ErrClosed is returned by Send after Close. It is retryable: the event
// goes back to the queue for the sink that replaces this one.
var ErrClosed error = &Error{code: "SINK_CLOSED", msg: "httpsink: sink is closed"}

var errTimeout = errors.New("timeout")

// Error is a failed delivery with a code for the dead-letter queue.
type Error struct {
	code   string
	msg    string
	Status int // the HTTP status; 0 when there was no answer
	err    error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Code() string  { return e.code }
func (e *Error) Unwrap() error { return e.err }

// Timeout is the sink's timeout key, 0 when not set: a consumer without a
// timeout of its own takes it (sinks.Timeouter).
func (s *Sink) Timeout() time.Duration { return s.timeout }

var _ sinks.Timeouter = (*Sink)(nil)

// transportError classifies a failed request; limit is the sink's own
// bound on it (errTimeout), 0 for none.
func (s *Sink) transportError(ctx context.Context, err error, limit time.Duration) error {
	// The context says why better than the transport's wrapping of it.
	switch {
	case context.Cause(ctx) == errTimeout:
		return &Error{code: "TIMEOUT", msg: fmt.Sprintf("httpsink: %s %s: no answer within %v", s.method, s.shown, limit), err: context.DeadlineExceeded}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &Error{code: "TIMEOUT", msg: fmt.Sprintf("httpsink: %s %s: %v", s.method, s.shown, ctx.Err()), err: ctx.Err()}
	case ctx.Err() != nil:
		return &Error{code: "CANCELED", msg: fmt.Sprintf("httpsink: %s %s: %v", s.method, s.shown, ctx.Err()), err: ctx.Err()}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{code: "TIMEOUT", msg: "httpsink: " + err.Error(), err: err}
	}
	return &Error{code: "CONNECTION_ERROR", msg: "httpsink: " + err.Error(), err: err}
}

func statusError(resp *http.Response, snippet []byte) error {
	msg := fmt.Sprintf("httpsink: %s %s: %s", resp.Request.Method, resp.Request.URL.Redacted(), resp.Status)
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirect to " + loc + " not followed: set url to the final address)"
	}
	if s := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "\uFFFD")); s != "" {
		msg += ": " + s
	}
	e := &Error{code: "HTTP_" + strconv.Itoa(resp.StatusCode), msg: msg, Status: resp.StatusCode}
	if !retryable(resp.StatusCode) {
		return sinks.Permanent(e)
	}
	if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return sinks.RetryAfter(e, after)
	}
	return e
}

func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// maxDelay is the longest Retry-After honoured: the largest time.Duration
// (292 years). A destination asking for longer means "a very long time",
// not "retry at once"; the consumer stops at the event's max_event_age.
const maxDelay = time.Duration(math.MaxInt64)

// retryAfter parses a Retry-After value: delay-seconds (1*DIGIT) or an
// HTTP date (RFC 9110 §10.2.3). A date in the past means now; either form
// beyond maxDelay is maxDelay. Anything else (a sign, a fraction, a unit)
// is invalid and ignored, as if absent.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.Trim(v, " \t")
	if v != "" && strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseInt(v, 10, 64) // all digits: only ErrRange
		if err != nil || secs > int64(maxDelay/time.Second) {
			return maxDelay, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true // Sub saturates at maxDelay
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
