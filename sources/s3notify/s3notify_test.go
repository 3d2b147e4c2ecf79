package s3notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Golden files: testdata/NAME.json is a body as S3, MinIO or SNS sends it;
// testdata/want/NAME.json is what Parse makes of it. After a deliberate
// change, regenerate with `go test ./sources/s3notify -run Golden -update`
// and review the diff: the want files are the contract with EventBridge
// rules.
var update = flag.Bool("update", false, "rewrite testdata/want from Parse's output")

// golden is Parse's result in a stable, reviewable form.
type golden struct {
	Kind    string        `json:"kind"`
	Format  Format        `json:"format,omitempty"`
	SNS     *SNSMessage   `json:"sns,omitempty"`
	Records []goldenEntry `json:"records,omitempty"`
}

type goldenEntry struct {
	ID         string          `json:"id,omitempty"`
	Source     string          `json:"source,omitempty"`
	DetailType string          `json:"detail-type,omitempty"`
	Time       string          `json:"time,omitempty"`
	Resources  []string        `json:"resources,omitempty"`
	Detail     json.RawMessage `json:"detail,omitempty"`
	Error      string          `json:"error,omitempty"`
}

func toGolden(p Parsed) golden {
	g := golden{Kind: p.Kind.String(), Format: p.Format, SNS: p.SNS}
	for i, e := range p.Entries {
		if err := p.Errs[i]; err != nil {
			g.Records = append(g.Records, goldenEntry{Error: err.Error()})
			continue
		}
		ge := goldenEntry{ID: e.ID, Source: e.Source, DetailType: e.DetailType, Resources: e.Resources, Detail: e.Detail}
		if !e.Time.IsZero() {
			ge.Time = e.Time.UTC().Format(time.RFC3339Nano)
		}
		g.Records = append(g.Records, ge)
	}
	return g
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(toGolden(p)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			want := filepath.Join("testdata", "want", name)
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, w) {
				t.Errorf("Parse(%s) differs from %s:\n%s", in, want, got)
			}
			for i, e := range p.Entries {
				if p.Errs[i] != nil {
					continue
				}
				if err := e.Validate(); err != nil {
					t.Errorf("record %d: the entry would be refused by the Ingester: %v", i, err)
				}
			}
		})
	}
}

// The EventBridge shapes rules depend on, spelled out rather than left to
// the golden files alone.
func TestEventBridgeShape(t *testing.T) {
	p := mustParse(t, "testdata/aws-put.json")
	e := p.Entries[0]
	if e.Source != "aws.s3" || e.DetailType != "Object Created" ||
		len(e.Resources) != 1 || e.Resources[0] != "arn:aws:s3:::photos" ||
		!e.Time.Equal(time.Date(2026, 11, 28, 6, 21, 54, 318e6, time.UTC)) {
		t.Errorf("entry %+v", e)
	}
	want := `{"version":"0","bucket":{"name":"photos"},"object":{"key":"uploads/2026/cat on a mat.jpg","size":1024,"etag":"d41d8cd98f00b204e9800998ecf8427e","version-id":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"},"request-id":"C3D13FE58DE4C810","requester":"AWS:AIDAJDPLRKLG7UEXAMPLE","source-ip-address":"203.0.113.17","reason":"PutObject"}`
	if string(e.Detail) != want {
		t.Errorf("detail\n got %s\nwant %s", e.Detail, want)
	}

	p = mustParse(t, "testdata/aws-delete-marker.json")
	want = `{"version":"0","bucket":{"name":"photos"},"object":{"key":"uploads/2026/notes: draft+1.txt","etag":"d41d8cd98f00b204e9800998ecf8427e","version-id":"Zt9pWqQ3b2yv.8hKmJ3nE7f0Vq1sLr2T","sequencer":"00617F08A1C0DE5A17"},"request-id":"7CD8A2F0C6F1B1E2","requester":"AWS:AIDAJDPLRKLG7UEXAMPLE","source-ip-address":"2001:db8::17","reason":"DeleteObject","deletion-type":"Delete Marker Created"}`
	if p.Entries[0].DetailType != "Object Deleted" || string(p.Entries[0].Detail) != want {
		t.Errorf("delete marker: %s %s", p.Entries[0].DetailType, p.Entries[0].Detail)
	}

	p = mustParse(t, "testdata/minio-put.json")
	if p.Format != FormatMinIO {
		t.Errorf("format %q", p.Format)
	}
	var d struct {
		Object struct{ Key string }
	}
	if err := json.Unmarshal(p.Entries[0].Detail, &d); err != nil || d.Object.Key != "uploads/my dog.jpg" {
		t.Errorf("MinIO key %q (%v), want %%2F and + decoded", d.Object.Key, err)
	}
}

func TestSNS(t *testing.T) {
	direct := mustParse(t, "testdata/aws-put.json")
	p := mustParse(t, "testdata/sns-notification.json")
	if p.Kind != KindRecords || p.SNS == nil || p.SNS.Type != "Notification" ||
		p.SNS.TopicArn != "arn:aws:sns:eu-west-1:123456789012:photos-events" {
		t.Fatalf("parsed %+v", p)
	}
	if p.Entries[0].ID != direct.Entries[0].ID || string(p.Entries[0].Detail) != string(direct.Entries[0].Detail) {
		t.Error("the same record through SNS became a different event")
	}
	p = mustParse(t, "testdata/sns-subscription-confirmation.json")
	if p.Kind != KindSubscriptionConfirmation || !strings.HasPrefix(p.SNS.SubscribeURL, "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription") || p.SNS.Token == "" {
		t.Errorf("confirmation %+v %+v", p, p.SNS)
	}
	if p := mustParse(t, "testdata/sns-unsubscribe-confirmation.json"); p.Kind != KindUnsubscribeConfirmation {
		t.Errorf("unsubscribe: %v", p.Kind)
	}
	for _, f := range []string{"testdata/aws-test-event.json", "testdata/sns-test-event.json"} {
		if p := mustParse(t, f); p.Kind != KindTestEvent || len(p.Entries) != 0 {
			t.Errorf("%s: %v with %d entries", f, p.Kind, len(p.Entries))
		}
	}
	// Errors inside Message say so.
	bad := `{"Type":"Notification","Message":"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"object\":{\"key\":\"k\"}}}]}"}`
	p, err := Parse([]byte(bad))
	if err != nil || p.Errs[0] == nil || p.Errs[0].Error() != "Message.Records[0].s3.bucket: is required" {
		t.Errorf("Parse = %v, %v", p.Errs, err)
	}
}

func TestDeterministicIDs(t *testing.T) {
	body, err := os.ReadFile("testdata/aws-multi.json")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Parse(body)
	b, _ := Parse(body)
	seen := map[string]int{}
	for i := range a.Entries {
		if a.Errs[i] != nil {
			continue
		}
		if a.Entries[i].ID != b.Entries[i].ID {
			t.Errorf("record %d: ids %s and %s for the same input", i, a.Entries[i].ID, b.Entries[i].ID)
		}
		if u, err := uuid.Parse(a.Entries[i].ID); err != nil || u.Version() != 5 {
			t.Errorf("record %d: id %q is not a UUIDv5", i, a.Entries[i].ID)
		}
		if j, dup := seen[a.Entries[i].ID]; dup {
			t.Errorf("records %d and %d share id %s", j, i, a.Entries[i].ID)
		}
		seen[a.Entries[i].ID] = i
	}

	put := mustParse(t, "testdata/aws-put.json").Entries[0].ID
	changed := func(old, new string) string {
		t.Helper()
		body, _ := os.ReadFile("testdata/aws-put.json")
		if !bytes.Contains(body, []byte(old)) {
			t.Fatalf("%s not in aws-put.json", old)
		}
		p, err := Parse(bytes.Replace(body, []byte(old), []byte(new), 1))
		if err != nil || p.Errs[0] != nil {
			t.Fatalf("Parse: %v %v", err, p.Errs)
		}
		return p.Entries[0].ID
	}
	if id := changed(`"sequencer": "0055AED6DCD90281E5"`, `"sequencer": "0055AED6DCD90281E6"`); id == put {
		t.Error("a different sequencer kept the id")
	}
	if id := changed(`"versionId": "096f`, `"versionId": "196f`); id == put {
		t.Error("a different version id kept the id")
	}
	if id := changed(`"ObjectCreated:Put"`, `"ObjectCreated:Copy"`); id == put {
		t.Error("a different event name kept the id")
	}
	// Delivery details that differ between two deliveries of one event do
	// not change the id; the dialect does not either.
	if id := changed(`"eventTime": "2026-11-28T06:21:54.318Z"`, `"eventTime": "2026-11-28T06:21:55.000Z"`); id != put {
		t.Error("the id depends on eventTime although the record has a sequencer")
	}
	if id := changed(`"ObjectCreated:Put"`, `"s3:ObjectCreated:Put"`); id != put {
		t.Error("MinIO's s3: prefix changed the id")
	}
	if id := changed(`cat+on+a+mat.jpg`, `cat%20on%20a%20mat.jpg`); id != put {
		t.Error("two encodings of one key gave two ids")
	}
	// Parts are length-prefixed: moving a byte from one part to the next
	// changes the id.
	if EventID("n", "ab", "c", "", "s", "", "") == EventID("n", "a", "bc", "", "s", "", "") {
		t.Error("EventID is ambiguous across part boundaries")
	}
	// Without a sequencer the event time tells two events apart.
	if EventID("ObjectRestore:Completed", "b", "k", "", "", "2026-01-01T00:00:00Z", "r1") ==
		EventID("ObjectRestore:Completed", "b", "k", "", "", "2026-02-01T00:00:00Z", "r2") {
		t.Error("two restores of one object share an id")
	}
}

func TestRefusals(t *testing.T) {
	rec := func(s string) string { return `{"Records":[` + s + `]}` }
	const okS3 = `"s3":{"bucket":{"name":"b"},"object":{"key":"k","sequencer":"01"}}`
	for _, c := range []struct{ body, want string }{
		{rec(`{"eventName":"ObjectCreated:Put"}`), "Records[0].s3: is required"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"k"}}}`), "Records[0].s3.bucket: is required"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":""},"object":{"key":"k"}}}`), "Records[0].s3.bucket.name: is required"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"a/b"},"object":{"key":"k"}}}`), `Records[0].s3.bucket.name: "a/b" is not a bucket name`},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":7},"object":{"key":"k"}}}`), "Records[0].s3.bucket.name: must be a string, got a number"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"}}}`), "Records[0].s3.object: is required"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":""}}}`), "Records[0].s3.object.key: is required"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%ff"}}}`), "Records[0].s3.object.key: \"%ff\" decodes to bytes that are not UTF-8"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}}`), "Records[0].s3.object.size: -1 is not a byte count"},
		{rec(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":1.5}}}`), "Records[0].s3.object.size: 1.5 is not a byte count"},
		{rec(`{` + okS3 + `}`), "Records[0].eventName: is required"},
		{rec(`{"eventName":"ObjectAccessed:Get",` + okS3 + `}`), `Records[0].eventName: "ObjectAccessed:Get" is a MinIO read event`},
		{rec(`{"eventName":"s3:ObjectCreated:*",` + okS3 + `}`), "is a wildcard"},
		{rec(`{"eventName":"ReducedRedundancyLostObject",` + okS3 + `}`), "has no EventBridge S3 event"},
		{rec(`{"eventVersion":"1.0","eventName":"ObjectCreated:Put",` + okS3 + `}`), "Records[0].eventVersion: \"1.0\" is not supported"},
		{rec(`{"eventTime":"yesterday","eventName":"ObjectCreated:Put",` + okS3 + `}`), "Records[0].eventTime: \"yesterday\" is not an ISO 8601 time"},
		{rec(`{"eventName":"ObjectCreated:Put","userIdentity":"me",` + okS3 + `}`), "Records[0].userIdentity: must be an object, got a string"},
		{rec(`7`), "Records[0]: must be an object, got a number"},
	} {
		p, err := Parse([]byte(c.body))
		if err != nil {
			t.Errorf("%s: whole body refused: %v", c.body, err)
			continue
		}
		if len(p.Errs) != 1 || p.Errs[0] == nil || !strings.Contains(p.Errs[0].Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %q", c.body, p.Errs, c.want)
		}
	}
	for _, c := range []struct{ body, want string }{
		{``, "is not valid JSON"},
		{`[]`, "must be a JSON object, got an array"},
		{`{}`, "the body is not an S3 event notification"},
		{`{"Records":{}}`, "Records: must be an array, got an object"},
		{`{"Records":[]}`, "Records: holds no records"},
		{`{"Event":"s3:Other"}`, `Event: "s3:Other" is not an S3 notification`},
		{`{"Type":"Notification"}`, "Message: is required in a Notification"},
		{`{"Type":"Notification","Message":"hello"}`, "Message: is not valid JSON"},
		{`{"Type":"Notification","Message":"{}"}`, "Message: the Message is not an S3 event notification"},
		{`{"Type":"Notification","Message":"{\"Type\":\"Notification\"}"}`, "another SNS envelope"},
		{`{"Type":"SubscriptionConfirmation"}`, "SubscribeURL: is required"},
		{`{"Type":"Other"}`, `Type: SNS message type "Other" is not one routerd handles`},
		{`{"Type":1}`, "Type: must be a string, got a number"},
		{`{"Type":"Notification","Subject":1}`, "Subject: must be a string, got a number"},
		{`{"Type":"UnsubscribeConfirmation","Message":{}}`, "Message: must be a string, got an object"},
		{"{\"Records\":[\"\xff\"]}", "not valid UTF-8"},
	} {
		_, err := Parse([]byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.body, err, c.want)
		}
	}
}

// TestFieldsOnlyEventBridgeHas checks that a record's extra fields do not
// leak into event types whose EventBridge detail lacks them.
func TestFieldsOnlyEventBridgeHas(t *testing.T) {
	body := `{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":0,"eTag":"e","sequencer":"01"}}},
		{"eventName":"ObjectTagging:Put","requestParameters":{"sourceIPAddress":"1.2.3.4"},"s3":{"bucket":{"name":"b"},"object":{"key":"k","size":5,"eTag":"e","sequencer":"02"}}}]}`
	p, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		`{"version":"0","bucket":{"name":"b"},"object":{"key":"k","etag":"e","sequencer":"01"},"reason":"DeleteObject","deletion-type":"Permanently Deleted"}`,
		`{"version":"0","bucket":{"name":"b"},"object":{"key":"k","etag":"e"},"source-ip-address":"1.2.3.4"}`,
	} {
		if p.Errs[i] != nil || string(p.Entries[i].Detail) != want {
			t.Errorf("record %d: %v\n got %s\nwant %s", i, p.Errs[i], p.Entries[i].Detail, want)
		}
	}
}

func mustParse(t *testing.T, file string) Parsed {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(body)
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	for i, e := range p.Errs {
		if e != nil {
			t.Fatalf("Parse(%s): record %d: %v", file, i, e)
		}
	}
	return p
}

func TestStringToSign(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"notification with subject",
			`{"Type":"Notification","MessageId":"m1","TopicArn":"arn:t","Subject":"Hi","Message":"{\"Event\":\"s3:TestEvent\"}\n","Timestamp":"2026-11-28T06:21:54.512Z","SignatureVersion":"2","Signature":"c2ln","SigningCertURL":"https://sns.eu-west-1.amazonaws.com/c.pem","UnsubscribeURL":"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"}`,
			"Message\n{\"Event\":\"s3:TestEvent\"}\n\nMessageId\nm1\nSubject\nHi\nTimestamp\n2026-11-28T06:21:54.512Z\nTopicArn\narn:t\nType\nNotification\n"},
		// An empty Subject is still signed; an absent or null one is not.
		{"empty subject",
			`{"Type":"Notification","MessageId":"m1","TopicArn":"arn:t","Subject":"","Message":"{\"Event\":\"s3:TestEvent\"}","Timestamp":"t"}`,
			"Message\n{\"Event\":\"s3:TestEvent\"}\nMessageId\nm1\nSubject\n\nTimestamp\nt\nTopicArn\narn:t\nType\nNotification\n"},
		{"no subject",
			`{"Type":"Notification","MessageId":"m1","TopicArn":"arn:t","Subject":null,"Message":"{\"Event\":\"s3:TestEvent\"}","Timestamp":"t"}`,
			"Message\n{\"Event\":\"s3:TestEvent\"}\nMessageId\nm1\nTimestamp\nt\nTopicArn\narn:t\nType\nNotification\n"},
		{"subscription confirmation",
			`{"Type":"SubscriptionConfirmation","MessageId":"m2","Token":"tok","TopicArn":"arn:t","Message":"visit","SubscribeURL":"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription","Timestamp":"t","Subject":"not signed"}`,
			"Message\nvisit\nMessageId\nm2\nSubscribeURL\nhttps://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription\nTimestamp\nt\nToken\ntok\nTopicArn\narn:t\nType\nSubscriptionConfirmation\n"},
		{"unsubscribe confirmation",
			`{"Type":"UnsubscribeConfirmation","MessageId":"m3","Token":"tok","TopicArn":"arn:t","Message":"bye","SubscribeURL":"https://s/","Timestamp":"t"}`,
			"Message\nbye\nMessageId\nm3\nSubscribeURL\nhttps://s/\nTimestamp\nt\nToken\ntok\nTopicArn\narn:t\nType\nUnsubscribeConfirmation\n"},
	} {
		p, err := Parse([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := p.SNS.StringToSign()
		if err != nil || got != c.want {
			t.Errorf("%s: %v\n got %q\nwant %q", c.name, err, got, c.want)
		}
	}

	for _, c := range []struct{ body, want string }{
		{`{"Type":"Notification","TopicArn":"arn:t","Message":"{\"Event\":\"s3:TestEvent\"}","Timestamp":"t"}`, "MessageId: is missing, and SNS signs it"},
		{`{"Type":"Notification","MessageId":"m","TopicArn":"arn:t","Message":"{\"Event\":\"s3:TestEvent\"}"}`, "Timestamp: is missing, and SNS signs it"},
		{`{"Type":"SubscriptionConfirmation","MessageId":"m","TopicArn":"arn:t","Message":"x","SubscribeURL":"https://s/","Timestamp":"t"}`, "Token: is missing, and SNS signs it"},
	} {
		p, err := Parse([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.SNS.StringToSign(); err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.body, err, c.want)
		}
	}
	if _, err := (&SNSMessage{Type: "Other"}).StringToSign(); err == nil || !strings.Contains(err.Error(), "Type: SNS message type \"Other\" has no known signature") {
		t.Errorf("unknown type: %v", err)
	}
}
