package httpsrc

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sources/s3notify"
)

// DefaultSNSConfirmTimeout bounds the GET of an SNS SubscribeURL or
// signing certificate when Options.HTTPClient is nil: SNS answers in well
// under a second, and the sender is waiting for our answer meanwhile.
const DefaultSNSConfirmTimeout = 10 * time.Second

// snsTypeHeader is the header SNS sets on every HTTP(S) delivery.
const snsTypeHeader = "X-Amz-Sns-Message-Type"

// s3 serves "POST /v1/s3": S3 event notifications, as AWS S3 sends them
// (to SNS, SQS, Lambda or a webhook relay), as MinIO's webhook target sends
// them, or wrapped in an SNS HTTP(S) envelope. Each record becomes
// EventBridge's own S3 event (package s3notify) on the default bus, or on
// the bus named by the query parameter bus. Answers are in PutEvents' shape
// with /v1/events' statuses: 200 when every record was accepted, 400 when
// any was refused (the others were accepted all the same; resend only the
// refused ones), 503 when the bus is down. An event's id derives from its
// record, so a notification delivered twice yields the same ids.
//
// MinIO and S3 retry a delivery that is not answered 2xx, so a record
// refused for good (say, an event type EventBridge does not have) is sent
// again and again: configure the bucket to send only the event types
// s3notify maps.
//
// Every SNS message's signature is checked (snsverify.go) before any of
// its records is ingested or its subscription confirmed, unless
// Options.SNSSkipVerify: a forged or altered one is refused with 403, and
// one whose signing certificate cannot be fetched gets 503, which SNS
// retries. Plain S3 and MinIO bodies carry no signature and are not
// affected. A valid signature proves that SNS sent the message, not which
// topic it came from: anyone can subscribe routerd to a topic of their
// own, so a /v1/s3 reachable from outside still belongs behind
// authentication (SNS can send only the HTTP basic auth written into the
// subscription's endpoint URL).
func (s *server) s3(w http.ResponseWriter, r *http.Request) {
	const source = "s3"
	defer s.observe(source, s.now())
	var bus string
	if b := r.URL.Query().Get("bus"); b != "" {
		var err error
		if bus, err = busName(b); err != nil {
			s.refuse(w, r, source, validationError("query parameter bus: %v", err))
			return
		}
	}
	body, aerr := readS3Body(r)
	if aerr == nil {
		// decodeBody words syntax errors with their offset; Parse then
		// reads the shape.
		var top map[string]json.RawMessage
		aerr = decodeBody(body, &top)
	}
	if aerr != nil {
		s.refuse(w, r, source, aerr)
		return
	}
	p, err := s3notify.Parse(body)
	if err != nil {
		s.refuse(w, r, source, validationError("%v", err))
		return
	}
	if t := r.Header.Get(snsTypeHeader); t != "" && p.SNS != nil && t != p.SNS.Type {
		s.refuse(w, r, source, validationError("header %s says %s but the body's Type is %s", snsTypeHeader, clip(t), clip(p.SNS.Type)))
		return
	}
	if p.SNS != nil && len(s.snsTopics) > 0 && !slices.Contains(s.snsTopics, p.SNS.TopicArn) {
		// Before the signature: a topic not listed is refused without
		// fetching a certificate for it.
		s.refuse(w, r, source, &apiError{status: http.StatusForbidden, typ: "AccessDeniedException",
			msg: fmt.Sprintf("SNS topic %s is not in http.sns.topics", clip(p.SNS.TopicArn))})
		return
	}
	if p.SNS != nil && s.snsSignatures != nil {
		if aerr := s.snsSignatures.verify(r, s.log, p.SNS); aerr != nil {
			s.refuse(w, r, source, aerr)
			return
		}
	}
	switch p.Kind {
	case s3notify.KindTestEvent:
		// S3 sends it once when notifications are configured.
		writeJSON(w, contentTypeJSON, http.StatusOK, putEventsResponse{Entries: []resultEntry{}})
	case s3notify.KindSubscriptionConfirmation:
		s.sns.confirm(w, r, s.log, p.SNS)
	case s3notify.KindUnsubscribeConfirmation:
		s.log.Info("http: SNS subscription to /v1/s3 ended", "topic", p.SNS.TopicArn,
			"message_id", p.SNS.MessageID, "request_id", requestID(r.Context()))
		writeJSON(w, contentTypeJSON, http.StatusOK, snsAnswer{Type: p.SNS.Type, TopicArn: p.SNS.TopicArn})
	default:
		s.s3Records(w, r, source, bus, p)
	}
}

// s3Records ingests a notification's records.
func (s *server) s3Records(w http.ResponseWriter, r *http.Request, source, bus string, p s3notify.Parsed) {
	records := "Records"
	if p.SNS != nil {
		records = "Message.Records"
	}
	bad := make([]*event.EntryError, len(p.Entries))
	for i, re := range p.Errs {
		if re != nil {
			bad[i] = &event.EntryError{Code: "InvalidArgument", Field: re.Path(), Message: re.Message}
		}
	}
	for i := range p.Entries {
		p.Entries[i].Bus = bus
	}
	resp, err := s.ingest(r, source, p.Entries, bad, s3EntryMessage(records))
	if err != nil {
		writeError(w, r, errUnavailable(err))
		return
	}
	writeOutcome(w, resp)
}

// s3EntryMessage words a refusal with the record's path in the body, e.g.
// "Records[1].s3.bucket.name: is required". Refusals by the Ingester (the
// entry as a whole, e.g. its size) name the record and then the entry's
// field.
func s3EntryMessage(records string) func(int, *event.EntryError) string {
	return func(i int, e *event.EntryError) string {
		if strings.HasPrefix(e.Field, records+"[") {
			return e.Field + ": " + e.Message
		}
		return fmt.Sprintf("%s[%d]: %s", records, i, e.Error())
	}
}

// readS3Body is readBody, except that it also takes the text/plain that
// SNS posts its HTTP(S) messages in, when SNS's own header is present. A
// browser cannot set that header cross-site without a CORS preflight,
// which routerd never grants, so requiring JSON still keeps forms out.
func readS3Body(r *http.Request) ([]byte, *apiError) {
	if r.Header.Get(snsTypeHeader) != "" {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "text/plain" {
			return readAll(r)
		}
	}
	return readBody(r)
}

// snsAnswer answers an SNS handshake.
type snsAnswer struct {
	Type      string
	TopicArn  string
	Confirmed bool `json:",omitempty"`
}

// snsConfirmer confirms SNS subscriptions by visiting their SubscribeURL,
// only on allow-listed hosts, so that a forged SubscriptionConfirmation
// cannot make routerd request arbitrary URLs (SSRF).
type snsConfirmer struct {
	hosts  []string
	client *http.Client
}

// snsClient resolves Options.HTTPClient for the requests SNS messages
// make routerd send (SubscribeURL, SigningCertURL). The client is copied
// so that it never follows redirects: an allowed host must not be able to
// send routerd anywhere else.
func snsClient(client *http.Client) *http.Client {
	if client == nil {
		client = &http.Client{Timeout: DefaultSNSConfirmTimeout}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// hostListed reports whether host is on an allow-list: an exact,
// case-insensitive match (host names are), no wildcards or suffixes.
func hostListed(hosts []string, host string) bool {
	return slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// maxSNSAnswer bounds how much of SNS's answer is read (to reuse the
// connection); it is a short XML document.
const maxSNSAnswer = 64 << 10

// confirm answers a SubscriptionConfirmation: 403 when its SubscribeURL is
// not https on an allowed host, 502 when SNS does not answer 2xx, 200 once
// confirmed.
func (c *snsConfirmer) confirm(w http.ResponseWriter, r *http.Request, log *slog.Logger, m *s3notify.SNSMessage) {
	u, err := url.Parse(m.SubscribeURL)
	if err != nil || u.Host == "" {
		writeError(w, r, validationError("SubscribeURL: %s is not an absolute URL", clip(m.SubscribeURL)))
		return
	}
	deny := func(why string) {
		log.Warn("http: SNS subscription not confirmed", "topic", m.TopicArn, "subscribe_host", u.Host,
			"reason", why, "request_id", requestID(r.Context()))
		writeError(w, r, &apiError{status: http.StatusForbidden, typ: "AccessDeniedException",
			msg: "SNS subscription not confirmed: " + why})
	}
	switch host := u.Hostname(); {
	case u.Scheme != "https":
		deny(fmt.Sprintf("the SubscribeURL must be https, got %s", clip(u.Scheme)))
		return
	case u.User != nil:
		deny("the SubscribeURL carries credentials")
		return
	case !hostListed(c.hosts, host):
		deny(fmt.Sprintf("the SubscribeURL's host %s is not in http.sns.confirm_hosts; add it there to let routerd confirm subscriptions from it", clip(host)))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		writeError(w, r, validationError("SubscribeURL: %v", err))
		return
	}
	resp, err := c.client.Do(req)
	if err != nil {
		log.Warn("http: SNS subscription confirmation failed", "topic", m.TopicArn, "err", err,
			"request_id", requestID(r.Context()))
		writeError(w, r, &apiError{status: http.StatusBadGateway, typ: "SubscriptionConfirmationFailed",
			msg: fmt.Sprintf("visiting the SubscribeURL on %s failed; SNS can resend the confirmation", u.Host)})
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSNSAnswer))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		log.Warn("http: SNS subscription confirmation refused", "topic", m.TopicArn, "status", resp.StatusCode,
			"request_id", requestID(r.Context()))
		writeError(w, r, &apiError{status: http.StatusBadGateway, typ: "SubscriptionConfirmationFailed",
			msg: fmt.Sprintf("%s answered the SubscribeURL with HTTP %d; the subscription is not confirmed", u.Host, resp.StatusCode)})
		return
	}
	log.Info("http: SNS subscription to /v1/s3 confirmed", "topic", m.TopicArn, "request_id", requestID(r.Context()))
	writeJSON(w, contentTypeJSON, http.StatusOK, snsAnswer{Type: m.Type, TopicArn: m.TopicArn, Confirmed: true})
}
