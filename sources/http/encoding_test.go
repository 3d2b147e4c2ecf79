package httpsrc

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"
)

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A gzip body is decoded on every ingest door, within the body limit.
func TestGzipBody(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	put := gzipped(t, `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{\"n\":1}"}]}`)
	resp := wantEntries(t, h.do("POST", "/", put, "X-Amz-Target", targetPutEvents, "Content-Type", contentTypeAmzJSON,
		"Content-Encoding", "gzip"), http.StatusOK)
	if resp.FailedEntryCount != 0 {
		t.Fatalf("answer %+v", resp)
	}
	ev := gzipped(t, `{"source":"s","detail-type":"d","detail":{"n":2}}`)
	for _, ce := range []string{"gzip", "x-gzip", "identity, GZIP"} {
		wantEntries(t, h.do("POST", "/v1/events", ev, "Content-Type", "application/json", "Content-Encoding", ce), http.StatusOK)
	}
	wantEntries(t, h.do("POST", "/v1/events", `{"source":"s","detail-type":"d","detail":{}}`, "Content-Type", "application/json",
		"Content-Encoding", "identity"), http.StatusOK)
	envs := h.pub.envelopes(t)
	if len(envs) != 5 || string(envs[0].env.Detail) != `{"n":1}` || string(envs[1].env.Detail) != `{"n":2}` {
		t.Errorf("published %+v", envs)
	}
}

// Other content codings are refused with 415 in the door's error shape,
// naming the coding, rather than read as JSON.
func TestUnsupportedContentEncoding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct{ ce, named string }{
		{"br", `"br"`}, {"deflate", `"deflate"`}, {"zstd", `"zstd"`}, {"gzip, br", `"br"`}, {"gzip, gzip", `"gzip"`},
	} {
		rec := h.do("POST", "/", `{"Entries":[{"Source":"s","DetailType":"d","Detail":"{}"}]}`,
			"X-Amz-Target", targetPutEvents, "Content-Type", contentTypeAmzJSON, "Content-Encoding", c.ce)
		msg := wantError(t, rec, http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException")
		if !strings.Contains(msg, "Content-Encoding "+c.named+" is not supported") {
			t.Errorf("%s: message %q", c.ce, msg)
		}
		if got := rec.Header().Get("Content-Type"); got != contentTypeAmzJSON {
			t.Errorf("%s: Content-Type %q on the AWS door", c.ce, got)
		}
		if got := rec.Header().Get("Accept-Encoding"); got != "gzip, identity" {
			t.Errorf("%s: Accept-Encoding %q", c.ce, got)
		}
	}
	rec := h.do("POST", "/v1/events", `{}`, "Content-Type", "application/json", "Content-Encoding", "br")
	wantError(t, rec, http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException")
	if got := rec.Header().Get("Content-Type"); got != contentTypeJSON {
		t.Errorf("Content-Type %q on /v1/events", got)
	}
	if n := len(h.pub.envelopes(t)); n != 0 {
		t.Errorf("%d published", n)
	}
}

// The body limit holds for the decompressed body, and a body that is not
// gzip says so.
func TestGzipBodyLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.MaxBodyBytes = 1000 })
	bomb := gzipped(t, `{"source":"s","detail-type":"d","detail":{"a":"`+strings.Repeat("a", 10000)+`"}}`)
	if len(bomb) > 1000 {
		t.Fatalf("compressed to %d bytes, want under the limit", len(bomb))
	}
	msg := wantError(t, h.do("POST", "/v1/events", bomb, "Content-Type", "application/json", "Content-Encoding", "gzip"),
		http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")
	if msg != "request body, decompressed (gzip), is larger than the limit of 1000 bytes" {
		t.Errorf("message %q", msg)
	}
	exact := `{"source":"s","detail-type":"d","detail":{"a":"` + strings.Repeat("a", 1000-50) + `"}}`
	if len(exact) != 1000 {
		t.Fatalf("%d bytes", len(exact))
	}
	wantEntries(t, h.do("POST", "/v1/events", gzipped(t, exact), "Content-Type", "application/json", "Content-Encoding", "gzip"), http.StatusOK)
	for _, body := range []string{`{"source":"s"}`, "", gzipped(t, `{}`)[:10]} {
		msg = wantError(t, h.do("POST", "/v1/events", body, "Content-Type", "application/json", "Content-Encoding", "gzip"),
			http.StatusBadRequest, "SerializationException")
		if !strings.Contains(msg, "Content-Encoding is gzip, but the body is not valid gzip") {
			t.Errorf("%q: message %q", body, msg)
		}
	}
}
