// Package httpsrc is routerd's HTTP front door: EventBridge's PutEvents and
// TestEventPattern over the AWS JSON 1.1 protocol on "POST /", the plain
// JSON "POST /v1/events", CloudEvents on "POST /v1/cloudevents"
// (cloudevents.go, CLOUDEVENTS.md), S3 notifications on "POST /v1/s3"
// (s3.go, SNS signatures in snsverify.go, parsing in package s3notify),
// health and readiness probes, and /metrics.
//
// Every ingest request ends in one sources.Ingester.Put: the handlers here
// only translate wire formats into event.Entry values and results back into
// the PutEvents response shape, so every door validates and counts alike.
//
// Errors use AWS's JSON error shape, {"__type":"...","message":"..."},
// everywhere, so one client-side decoder fits every answer. Bad input is
// always a 4xx that says what and where; a 500 means a bug in routerd.
//
// The route table lives in routes(); ingest routes pass through the ingest
// middleware chain: authentication (auth.go: bearer API keys, and AWS
// SigV4 in sigv4.go), the client's throttle (throttle.go), the body limit and
// content coding (gzip decoded, others refused: encoding.go).
// /admin/ is Options.Admin behind the admin scope.
package httpsrc
