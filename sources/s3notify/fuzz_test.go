package s3notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
)

// FuzzS3Parse feeds Parse arbitrary bodies, seeded with every testdata
// input. Parse must never panic, must give one slot per record, and must
// never accept a record without a valid bucket: its entry must be one the
// Ingester takes, naming the same bucket in resources and detail.
// Run: go test ./sources/s3notify -run '^$' -fuzz FuzzS3Parse -fuzztime 1m
func FuzzS3Parse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a%2Fb+c","size":1e3}}}]}`,
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{},"object":{"key":"k"}}},null,[],{"s3":null}]}`,
		`{"Type":"Notification","Message":"{\"Records\":[{\"eventName\":\"s3:ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\"}}}]}"}`,
		`{"EventName":"s3:ObjectCreated:Put","Key":"b/k","Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%"}}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body)
		if err != nil {
			if p.Kind != 0 || len(p.Entries) != 0 {
				t.Fatalf("error %v with a result %+v", err, p)
			}
			return
		}
		if len(p.Entries) != len(p.Errs) {
			t.Fatalf("%d entries, %d error slots", len(p.Entries), len(p.Errs))
		}
		if p.Kind != KindRecords && len(p.Entries) != 0 {
			t.Fatalf("%v with %d entries", p.Kind, len(p.Entries))
		}
		for i, e := range p.Entries {
			if p.Errs[i] != nil {
				if e.Source != "" || p.Errs[i].Index != i {
					t.Fatalf("record %d refused (%v) yet has an entry %+v", i, p.Errs[i], e)
				}
				continue
			}
			var d struct {
				Bucket struct{ Name string }
				Object struct{ Key *string }
			}
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatalf("record %d: detail %s: %v", i, e.Detail, err)
			}
			if d.Bucket.Name == "" || !validBucket(d.Bucket.Name) || len(e.Resources) != 1 || e.Resources[0] != "arn:aws:s3:::"+d.Bucket.Name {
				t.Fatalf("record %d accepted without a valid bucket: %+v %s", i, e, e.Detail)
			}
			if d.Object.Key == nil || *d.Object.Key == "" {
				t.Fatalf("record %d accepted without a key: %s", i, e.Detail)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("record %d: the Ingester would refuse the entry: %v", i, err)
			}
			if u, err := uuid.Parse(e.ID); err != nil || u.Version() != 5 {
				t.Fatalf("record %d: id %q", i, e.ID)
			}
		}
	})
}
