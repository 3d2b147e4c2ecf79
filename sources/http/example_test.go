package httpsrc_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/sources"
	httpsrc "github.com/eventrouter/eventrouter/sources/http"
)

// The ingest door in front of an in-memory bus: one event posted to
// /v1/events, then the same through PutEvents as the AWS SDKs send it.
func Example() {
	b := bus.NewMemory()
	defer b.Close()
	in := &sources.Ingester{Pub: b, Stamp: event.Stamp{
		Account: "000000000000", Region: "local",
		NewID: func() string { return "6a7e8feb-b491-4cf7-a9f1-bf3703467718" },
	}}
	srv := httptest.NewServer(httpsrc.New(httpsrc.Options{Ingester: in}))
	defer srv.Close()

	post := func(req *http.Request) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Print(resp.StatusCode, " ", string(body))
	}

	req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader(
		`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":1250},"id":"order-42-created"}`))
	req.Header.Set("Content-Type", "application/json")
	post(req)

	req, _ = http.NewRequest("POST", srv.URL+"/", strings.NewReader(
		`{"Entries":[{"Source":"orders.service","DetailType":"OrderCreated","Detail":"{\"total\":1250}"},{"Source":"orders.service"}]}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	post(req)
	// Output:
	// 200 {"FailedEntryCount":0,"Entries":[{"EventId":"order-42-created"}]}
	// 200 {"FailedEntryCount":1,"Entries":[{"EventId":"6a7e8feb-b491-4cf7-a9f1-bf3703467718"},{"ErrorCode":"InvalidArgument","ErrorMessage":"Parameter DetailType is not valid. Reason: DetailType is required"}]}
}
