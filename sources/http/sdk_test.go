package httpsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// sdkClient is the unmodified AWS SDK for Go v2 EventBridge client pointed
// at srv, signing with dummy static credentials and reading no local AWS
// configuration.
func sdkClient(t *testing.T, srv *httptest.Server) *eventbridge.Client {
	t.Helper()
	// The environment must not redirect or break the client.
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_CA_BUNDLE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "")
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "")),
		config.WithBaseEndpoint(srv.URL),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	return eventbridge.NewFromConfig(cfg)
}

// wireLog keeps the requests the SDK sent, to check what routerd copes with.
type wireLog struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (l *wireLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Clone(context.Background()))
		l.body = append(l.body, b)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func TestAWSSDKPutEvents(t *testing.T) {
	h := newHarness(t)
	var wire wireLog
	srv := httptest.NewServer(wire.wrap(h.h))
	defer srv.Close()
	client := sdkClient(t, srv)
	at := time.Date(2025, 11, 28, 6, 21, 54, 250e6, time.UTC)
	out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("orders.service"), DetailType: aws.String("OrderCreated"), Detail: aws.String(`{"total":1250}`), Time: &at},
		{Source: aws.String("orders.service"), DetailType: aws.String("OrderCreated"), Detail: aws.String(`not json`)},
		{Source: aws.String("orders.service"), DetailType: aws.String("OrderShipped"), Detail: aws.String(`{}`),
			EventBusName: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/orders"), Resources: []string{"arn:aws:s3:::b"}},
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 1 || len(out.Entries) != 3 {
		t.Fatalf("FailedEntryCount %d, %d entries", out.FailedEntryCount, len(out.Entries))
	}
	if e := out.Entries[1]; e.EventId != nil || aws.ToString(e.ErrorCode) != "MalformedDetail" || aws.ToString(e.ErrorMessage) == "" {
		t.Errorf("failing entry: %+v", e)
	}
	envs := h.pub.envelopes(t)
	if len(envs) != 2 {
		t.Fatalf("%d published", len(envs))
	}
	if id := aws.ToString(out.Entries[0].EventId); id != envs[0].env.ID || envs[0].env.Time != "2025-11-28T06:21:54Z" {
		t.Errorf("entry 0: id %q time from SDK; published %+v", id, envs[0])
	}
	if id := aws.ToString(out.Entries[2].EventId); id != envs[1].env.ID || envs[1].topic != "events.orders" {
		t.Errorf("entry 2: id %q; published %+v", id, envs[1])
	}
	if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); !ok || id == "" {
		t.Error("the SDK found no request id")
	}
	// What the SDK sent: signed, AWS JSON 1.1, Time as epoch seconds.
	r := wire.reqs[0]
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || r.Header.Get("Content-Type") != contentTypeAmzJSON ||
		!bytes.Contains(wire.body[0], []byte(`"Time":1764310914.25`)) {
		t.Errorf("the SDK sent %v %s", r.Header, wire.body[0])
	}
}

func TestAWSSDKTestEventPattern(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.h)
	defer srv.Close()
	client := sdkClient(t, srv)
	ctx := context.Background()
	ev := `{"id":"e1","account":"000000000000","source":"orders.service","time":"2026-11-28T06:21:54Z","region":"local","detail-type":"OrderCreated","resources":[],"detail":{"total":1250}}`
	for pattern, want := range map[string]bool{
		`{"source":["orders.service"],"detail":{"total":[{"numeric":[">",1000]}]}}`: true,
		`{"source":["billing"]}`: false,
	} {
		out, err := client.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(pattern), Event: aws.String(ev)})
		if err != nil {
			t.Fatalf("TestEventPattern(%s): %v", pattern, err)
		}
		if out.Result != want {
			t.Errorf("TestEventPattern(%s) = %v, want %v", pattern, out.Result, want)
		}
	}
	_, err := client.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"detail":{"total":[{"numeric":["<"]}]}}`), Event: aws.String(ev)})
	var bad *types.InvalidEventPatternException
	if !errors.As(err, &bad) {
		t.Fatalf("invalid pattern: got %T %v, want *types.InvalidEventPatternException", err, err)
	}
	if !strings.HasPrefix(bad.ErrorMessage(), "detail.total: ") {
		t.Errorf("message %q does not name the path", bad.ErrorMessage())
	}
	// Whole-request errors surface as API errors with AWS's codes.
	_, err = client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, 11)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("11 entries: %v, want a ValidationException", err)
	}
}
