package httpsrc

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/eventrouter/eventrouter/rules"
)

// The notification bodies are s3notify's golden inputs: one set of
// real-shaped AWS, MinIO and SNS bodies for both packages.
func s3Body(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../s3notify/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (h *harness) s3(body string, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do("POST", "/v1/s3", body, append([]string{"Content-Type", "application/json"}, headers...)...)
}

// snsHeaders are what SNS sends with an HTTP(S) delivery.
func snsHeaders(typ string) []string {
	return []string{"Content-Type", "text/plain; charset=UTF-8", "X-Amz-Sns-Message-Type", typ}
}

// TestS3RoutedByEventBridgeRule is the acceptance test: an AWS-format
// and a MinIO-format notification, posted to /v1/s3, become events that an
// EventBridge S3 rule, as written for AWS, matches; a delete does not.
func TestS3RoutedByEventBridgeRule(t *testing.T) {
	t.Parallel()
	rule := rules.MustCompile(`{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["photos"]},"object":{"key":[{"prefix":"uploads/"}]}}}`)
	h := newHarness(t)
	var ids []string
	for _, f := range []string{"aws-put.json", "minio-put.json", "aws-delete.json", "aws-delete-marker.json"} {
		resp := wantEntries(t, h.s3(s3Body(t, f)), http.StatusOK)
		if len(resp.Entries) != 1 {
			t.Fatalf("%s: %d entries", f, len(resp.Entries))
		}
		ids = append(ids, resp.Entries[0].EventId)
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 4 {
		t.Fatalf("%d published, want 4", len(envs))
	}
	for i, want := range []bool{true, true, false, false} {
		e := envs[i]
		raw, err := e.env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if e.topic != "events.default" || e.env.ID != ids[i] || e.env.Source != "aws.s3" ||
			len(e.env.Resources) != 1 || e.env.Resources[0] != "arn:aws:s3:::photos" {
			t.Errorf("event %d: %s", i, raw)
		}
		if got := rule.Match(raw); got != want {
			t.Errorf("event %d: rule matched %v, want %v: %s", i, got, want, raw)
		}
	}
	// The MinIO key arrived as uploads%2Fmy+dog.jpg.
	var d struct{ Object struct{ Key string } }
	if err := json.Unmarshal(envs[1].env.Detail, &d); err != nil || d.Object.Key != "uploads/my dog.jpg" {
		t.Errorf("MinIO key %q, %v", d.Object.Key, err)
	}
	if envs[0].env.Time != "2026-11-28T06:21:54Z" {
		t.Errorf("time %q, want the record's eventTime", envs[0].env.Time)
	}

	// A retry of the same notification carries the same event id.
	again := wantEntries(t, h.s3(s3Body(t, "aws-put.json")), http.StatusOK)
	if again.Entries[0].EventId != ids[0] {
		t.Errorf("redelivery got id %s, first delivery %s", again.Entries[0].EventId, ids[0])
	}
	if got := h.count("s3", "accepted"); got != 5 {
		t.Errorf("accepted counter %v, want 5", got)
	}
	if got := testutilCount(h, "s3"); got != 5 {
		t.Errorf("duration histogram has %d samples, want 5", got)
	}
}

func TestS3ThroughSNS(t *testing.T) {
	t.Parallel()
	certs := newSNSServer(t)
	h := newHarness(t, trustSNS(certs))
	direct := wantEntries(t, h.s3(s3Body(t, "aws-put.json")), http.StatusOK)
	// SNS posts text/plain; the same record gets the same id.
	notification := signSNS(t, s3Body(t, "sns-notification.json"), certs.certURL(), "1")
	resp := wantEntries(t, h.do("POST", "/v1/s3", notification, snsHeaders("Notification")...), http.StatusOK)
	if resp.Entries[0].EventId != direct.Entries[0].EventId {
		t.Errorf("through SNS id %s, direct %s", resp.Entries[0].EventId, direct.Entries[0].EventId)
	}
	// text/plain without SNS's header stays refused, as on every door.
	rec := h.do("POST", "/v1/s3", s3Body(t, "aws-put.json"), "Content-Type", "text/plain")
	wantError(t, rec, http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException")
	// The header and the body must agree on what the message is.
	rec = h.do("POST", "/v1/s3", notification, snsHeaders("SubscriptionConfirmation")...)
	if msg := wantError(t, rec, http.StatusBadRequest, "ValidationException"); !strings.Contains(msg, "Type is \"Notification\"") {
		t.Errorf("message %q", msg)
	}
	// A bad record inside Message is named by its path.
	bad := signSNS(t, `{"Type":"Notification","MessageId":"m-1","Timestamp":"2026-11-28T06:21:54.512Z","TopicArn":"arn:aws:sns:eu-west-1:123456789012:t","Message":"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"}}}]}"}`,
		certs.certURL(), "2")
	resp = wantEntries(t, h.do("POST", "/v1/s3", bad, snsHeaders("Notification")...), http.StatusBadRequest)
	if m := resp.Entries[0].ErrorMessage; m != "Message.Records[0].s3.object: is required" {
		t.Errorf("message %q", m)
	}
	if n := len(h.pub.envelopes(t)); n != 2 {
		t.Errorf("%d published, want 2", n)
	}
}

func TestS3TestEvent(t *testing.T) {
	t.Parallel()
	certs := newSNSServer(t)
	h := newHarness(t, trustSNS(certs))
	for _, c := range []struct {
		file    string
		headers []string
	}{
		{"aws-test-event.json", nil},
		{"sns-test-event.json", snsHeaders("Notification")},
	} {
		var rec *httptest.ResponseRecorder
		if c.headers == nil {
			rec = h.s3(s3Body(t, c.file))
		} else {
			rec = h.do("POST", "/v1/s3", signSNS(t, s3Body(t, c.file), certs.certURL(), "1"), c.headers...)
		}
		if rec.Code != http.StatusOK || rec.Body.String() != `{"FailedEntryCount":0,"Entries":[]}`+"\n" {
			t.Errorf("%s: %d %s", c.file, rec.Code, rec.Body)
		}
	}
	if n := len(h.pub.envelopes(t)); n != 0 {
		t.Errorf("%d published for test events", n)
	}
}

func TestS3Refusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp := wantEntries(t, h.s3(s3Body(t, "aws-multi.json")), http.StatusBadRequest)
	want := []string{"", "", "", "", "",
		`Records[5].eventName: "Replication:OperationFailedReplication" is a replication event`,
		"Records[6].s3.bucket: is required",
		`Records[7].s3.object.key: "uploads/100%zz.jpg" is not URL-encoded`,
		"Records[8].s3.object.size: must be a number, got a string",
	}
	if len(resp.Entries) != len(want) || resp.FailedEntryCount != 4 {
		t.Fatalf("answer %+v", resp)
	}
	for i, w := range want {
		e := resp.Entries[i]
		if w == "" && e.EventId == "" || w != "" && (e.ErrorCode != "InvalidArgument" || !strings.HasPrefix(e.ErrorMessage, w)) {
			t.Errorf("entry %d: %+v, want %q", i, e, w)
		}
	}
	if n := len(h.pub.envelopes(t)); n != 5 {
		t.Errorf("%d published, want the 5 good records", n)
	}
	if got := h.count("s3", "rejected"); got != 4 {
		t.Errorf("rejected counter %v, want 4", got)
	}

	for _, c := range []struct {
		body, typ, msg string
	}{
		{`{"Records":[`, "SerializationException", "invalid JSON"},
		{`[{"Records":[]}]`, "SerializationException", "must be a JSON object"},
		{`{}`, "ValidationException", "not an S3 event notification"},
		{`{"Records":[]}`, "ValidationException", "Records: holds no records"},
		{`{"Records":[` + strings.Repeat(`{},`, 100) + `{}]}`, "ValidationException", "Records: holds more than the limit of 100 records"},
		// Hostile bodies: answered quickly, in a few bytes, without echoing.
		{`{"Records":[` + strings.Repeat(`{},`, 200000) + `{}]}`, "ValidationException", "more than the limit"},
		{`{"Records":` + strings.Repeat("[", 20000), "SerializationException", "exceeded max depth"},
		{`{"Type":"Notification","Message":"` + strings.Repeat("[", 20000) + `"}`, "ValidationException", "Message: is not valid JSON"},
		{`{"Records":[{"eventName":"` + strings.Repeat("x", 1<<20) + `"}]}`, "", ""},
		{`{"Type":"Notification","Message":"[]"}`, "ValidationException", "Message: must be a JSON object, got an array"},
	} {
		rec := h.s3(c.body)
		if rec.Body.Len() > 1000 {
			t.Errorf("%.40s: answer of %d bytes echoes the input", c.body, rec.Body.Len())
		}
		if c.typ == "" {
			wantEntries(t, rec, http.StatusBadRequest)
			continue
		}
		msg := wantError(t, rec, http.StatusBadRequest, c.typ)
		if !strings.Contains(msg, c.msg) {
			t.Errorf("%.40s: message %q, want %q", c.body, msg, c.msg)
		}
	}
	if n := len(h.pub.envelopes(t)); n != 5 {
		t.Errorf("refused requests published: %d", n)
	}
	// Each request refused whole counts as one rejected event, as on the
	// other doors; the one with a record too large refused one entry.
	if got := h.count("s3", "rejected"); got != 4+10 {
		t.Errorf("rejected counter %v, want 14", got)
	}
}

func TestS3Bus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	wantEntries(t, h.do("POST", "/v1/s3?bus=storage", s3Body(t, "aws-put.json"), "Content-Type", "application/json"), http.StatusOK)
	if envs := h.pub.envelopes(t); len(envs) != 1 || envs[0].topic != "events.storage" {
		t.Errorf("published %+v", envs)
	}
	resp := wantEntries(t, h.do("POST", "/v1/s3?bus=missing", s3Body(t, "aws-put.json"), "Content-Type", "application/json"), http.StatusBadRequest)
	if e := resp.Entries[0]; e.ErrorCode != "ResourceNotFoundException" || !strings.HasPrefix(e.ErrorMessage, "Records[0]: EventBusName: ") {
		t.Errorf("unknown bus: %+v", e)
	}
	wantError(t, h.do("POST", "/v1/s3?bus=a.b", s3Body(t, "aws-put.json"), "Content-Type", "application/json"), http.StatusBadRequest, "ValidationException")
}

func TestS3BusDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.pub.setFail(errBusDown)
	rec := h.s3(s3Body(t, "minio-put.json"))
	wantError(t, rec, http.StatusServiceUnavailable, "ServiceUnavailableException")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// snsServer stands in for SNS: an HTTPS server that records the requests
// it gets and answers /confirm with 200, /redirect with a redirect to
// /elsewhere, the signing certificate paths (snsverify_test.go) with
// certificates or broken ones, and anything else with 500.
type snsServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string
}

func newSNSServer(t testing.TB) *snsServer {
	s := &snsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		if serveSigningCert(w, r) {
			return
		}
		switch r.URL.Path {
		case "/confirm":
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(`<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:photos-events:1</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`))
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	// A client that does not trust the test certificate is one of the
	// cases; its handshake failure is expected, not worth a log line.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *snsServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// confirmation is a SubscriptionConfirmation for subscribeURL, signed by
// the certificate certs serves.
func confirmation(t testing.TB, certs *snsServer, subscribeURL string) string {
	b, _ := json.Marshal(map[string]string{
		"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		"Token": "2336412f37fb", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:photos-events",
		"Message": "You have chosen to subscribe to the topic.", "SubscribeURL": subscribeURL,
		"Timestamp": "2026-11-28T06:10:00.000Z",
	})
	return signSNS(t, string(b), certs.certURL(), "1")
}

func TestS3SNSSubscriptionConfirmation(t *testing.T) {
	t.Parallel()
	// SNS's API and its certificates on two servers, so that each one's
	// requests can be counted.
	sns, certs := newSNSServer(t), newSNSServer(t)
	allowed := newHarness(t, trustSNS(certs), func(o *Options) {
		o.SNSConfirmHosts = []string{"sns.eu-west-1.amazonaws.com", "127.0.0.1"}
	})
	const query = "?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:photos-events&Token=2336412f37fb"
	confirmation := func(subscribeURL string) string { return confirmation(t, certs, subscribeURL) }

	rec := allowed.do("POST", "/v1/s3", confirmation(sns.URL+"/confirm"+query), snsHeaders("SubscriptionConfirmation")...)
	if rec.Code != http.StatusOK || rec.Body.String() != `{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns:eu-west-1:123456789012:photos-events","Confirmed":true}`+"\n" {
		t.Errorf("allowed host: %d %s", rec.Code, rec.Body)
	}
	if got := sns.requests(); len(got) != 1 || got[0] != "GET /confirm"+query {
		t.Errorf("SNS got %q", got)
	}

	// A host not on the list is never contacted.
	denied := newHarness(t, trustSNS(certs), func(o *Options) {
		o.SNSConfirmHosts = []string{"sns.eu-west-1.amazonaws.com", "127.0.0.10"}
	})
	rec = denied.do("POST", "/v1/s3", confirmation(sns.URL+"/confirm"+query), snsHeaders("SubscriptionConfirmation")...)
	if msg := wantError(t, rec, http.StatusForbidden, "AccessDeniedException"); !strings.Contains(msg, `host "127.0.0.1" is not in http.sns.confirm_hosts`) {
		t.Errorf("message %q", msg)
	}
	for _, u := range []string{
		strings.Replace(sns.URL, "https:", "http:", 1) + "/confirm", // https only
		"https://user:pw@127.0.0.1/confirm",                         // no credentials
		"https://127.0.0.1.evil.example/confirm",                    // exact host, not a prefix
		"https://evil.example/?host=127.0.0.1",
	} {
		wantError(t, allowed.do("POST", "/v1/s3", confirmation(u), snsHeaders("SubscriptionConfirmation")...), http.StatusForbidden, "AccessDeniedException")
	}
	if got := sns.requests(); len(got) != 1 {
		t.Errorf("refused confirmations reached SNS: %q", got)
	}

	// A redirect is not followed; an error answer is not a confirmation.
	for _, path := range []string{"/redirect", "/fail"} {
		rec = allowed.do("POST", "/v1/s3", confirmation(sns.URL+path), snsHeaders("SubscriptionConfirmation")...)
		wantError(t, rec, http.StatusBadGateway, "SubscriptionConfirmationFailed")
	}
	if got := sns.requests(); len(got) != 3 || got[1] != "GET /redirect" || got[2] != "GET /fail" {
		t.Errorf("SNS got %q", got)
	}

	// Without a client of its own, routerd does not trust the test
	// server's certificate: confirmation fails rather than going insecure.
	// (Signatures are not checked here: the certificate fetch would fail
	// the same way first.)
	own := newHarness(t, func(o *Options) {
		o.SNSConfirmHosts = []string{"127.0.0.1"}
		o.SNSSkipVerify = true
	})
	wantError(t, own.do("POST", "/v1/s3", confirmation(sns.URL+"/confirm"), snsHeaders("SubscriptionConfirmation")...), http.StatusBadGateway, "SubscriptionConfirmationFailed")

	unsubscribe := signSNS(t, s3Body(t, "sns-unsubscribe-confirmation.json"), certs.certURL(), "2")
	rec = allowed.do("POST", "/v1/s3", unsubscribe, snsHeaders("UnsubscribeConfirmation")...)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"Type":"UnsubscribeConfirmation"`) {
		t.Errorf("unsubscribe: %d %s", rec.Code, rec.Body)
	}
	if got := sns.requests(); len(got) != 3 {
		t.Errorf("an UnsubscribeConfirmation reached SNS: %q", got)
	}

	// Unsigned, or an UnsubscribeConfirmation (signed over the same keys)
	// passed off as a SubscriptionConfirmation: SNS is never visited.
	unsigned := editSNS(t, confirmation(sns.URL+"/confirm"), func(m map[string]any) { delete(m, "Signature") })
	relabelled := editSNS(t, signSNS(t, editSNS(t, s3Body(t, "sns-unsubscribe-confirmation.json"), func(m map[string]any) {
		m["SubscribeURL"] = sns.URL + "/confirm"
	}), certs.certURL(), "2"), func(m map[string]any) { m["Type"] = "SubscriptionConfirmation" })
	for _, body := range []string{unsigned, relabelled} {
		wantError(t, allowed.do("POST", "/v1/s3", body, snsHeaders("SubscriptionConfirmation")...), http.StatusForbidden, "InvalidSignatureException")
	}
	if got := sns.requests(); len(got) != 3 {
		t.Errorf("an unverified confirmation reached SNS: %q", got)
	}
	if n := len(allowed.pub.envelopes(t)); n != 0 {
		t.Errorf("%d published for SNS handshakes", n)
	}
}

// TestS3SNSTopics: with http.sns.topics set, only the listed topics'
// messages are taken; another topic's notification is refused, and its
// subscription confirmation is neither confirmed nor its certificate
// fetched.
func TestS3SNSTopics(t *testing.T) {
	t.Parallel()
	sns, certs := newSNSServer(t), newSNSServer(t)
	const listed = "arn:aws:sns:eu-west-1:123456789012:photos-events" // the fixtures' topic
	h := newHarness(t, trustSNS(certs), func(o *Options) {
		o.SNSConfirmHosts = []string{"127.0.0.1"}
		o.SNSTopics = []string{"arn:aws:sns:eu-west-1:123456789012:other", listed}
	})
	notification := signSNS(t, s3Body(t, "sns-notification.json"), certs.certURL(), "2")
	wantEntries(t, h.do("POST", "/v1/s3", notification, snsHeaders("Notification")...), http.StatusOK)
	fetches := len(certs.requests())

	foreign := func(body string) string {
		return signSNS(t, editSNS(t, body, func(m map[string]any) {
			m["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:photos-events"
		}), certs.certURL(), "2")
	}
	rec := h.do("POST", "/v1/s3", foreign(s3Body(t, "sns-notification.json")), snsHeaders("Notification")...)
	if msg := wantError(t, rec, http.StatusForbidden, "AccessDeniedException"); msg != `SNS topic "arn:aws:sns:eu-west-1:999999999999:photos-events" is not in http.sns.topics` {
		t.Errorf("message %q", msg)
	}
	rec = h.do("POST", "/v1/s3", foreign(confirmation(t, certs, sns.URL+"/confirm")), snsHeaders("SubscriptionConfirmation")...)
	wantError(t, rec, http.StatusForbidden, "AccessDeniedException")
	if got := sns.requests(); len(got) != 0 {
		t.Errorf("a foreign topic's confirmation reached SNS: %q", got)
	}
	if got := len(certs.requests()); got != fetches {
		t.Errorf("%d certificate fetches for foreign topics", got-fetches)
	}
	if n := len(h.pub.envelopes(t)); n != 1 {
		t.Errorf("%d published, want the listed topic's one record", n)
	}
	if got := h.count("s3", "rejected"); got != 2 {
		t.Errorf("rejected counter %v, want 2", got)
	}
}

// FuzzS3 sends arbitrary bodies through the whole /v1/s3 handler, with
// SNS signatures checked against the test certificate (seeds signed with
// it, and unsigned). No SNS host is allowed to confirm, so confirmations
// are refused (403) without any request; certificates elsewhere cannot be
// fetched (503).
func FuzzS3(f *testing.F) {
	certs := newSNSServer(f)
	for _, name := range []string{"aws-put.json", "aws-multi.json", "minio-put.json", "sns-notification.json", "sns-subscription-confirmation.json", "aws-test-event.json"} {
		f.Add([]byte(s3Body(f, name)))
		if strings.HasPrefix(name, "sns-") {
			f.Add([]byte(signSNS(f, s3Body(f, name), certs.certURL(), "2")))
		}
	}
	h := newHarness(f, trustSNS(certs))
	f.Fuzz(func(t *testing.T, body []byte) {
		h.t = t
		rec := h.s3(string(body))
		if rec.Code == http.StatusForbidden || rec.Code == http.StatusServiceUnavailable {
			var e awsErr
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			switch {
			case rec.Code == http.StatusServiceUnavailable && e.Type == "ServiceUnavailableException" && strings.HasPrefix(e.Message, "SNS signature: "):
			case e.Type == "InvalidSignatureException" && strings.HasPrefix(e.Message, "SNS signature: "):
			case e.Type == "AccessDeniedException":
			default:
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if n := len(h.pub.envelopes(t)); n != 0 {
				t.Fatalf("published %d on a %d", n, rec.Code)
			}
			return
		}
		if rec.Code == http.StatusOK && rec.Body.String() == `{"FailedEntryCount":0,"Entries":[]}`+"\n" {
			if n := len(h.pub.envelopes(t)); n != 0 { // an s3:TestEvent
				t.Fatalf("published %d for no entries", n)
			}
			return
		}
		checkAnswer(t, h, rec.Code, rec.Body.Bytes(), http.StatusOK, http.StatusBadRequest)
	})
}
