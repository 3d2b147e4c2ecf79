package e2ebench

import (
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/event"
	"github.com/google/uuid"
)

// The order flow of config.example.yaml: every event is an OrderCreated
// from orders.service; about one in five has a total of 1000 or more and
// also goes to vip-alerts.
const (
	orderSource     = "orders.service"
	orderDetailType = "OrderCreated"
	vipTotalCents   = 100000 // total >= 1000.00 → vip-alerts
)

// mix is splitmix64: the order fields are a pure function of the event's
// sequence number, so the tailer knows which consumers each event must
// reach without the senders telling it.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// totalCents is the order total of event seq, 5.00 to 1254.99.
func totalCents(seq int64) uint64 { return 500 + mix(uint64(seq))%125000 }

// isVIP reports whether event seq matches the order-created-vip rule.
func isVIP(seq int64) bool { return totalCents(seq) >= vipTotalCents }

var (
	cities    = []string{"Berlin", "Lyon", "Utrecht", "Leeds", "Austin", "Sevilla"}
	countries = []string{"DE", "FR", "NL", "GB", "US", "ES"}
)

// appendDetail appends the Detail object of event seq: an order that
// satisfies schemas/order-created.json (customer UUID, a line item,
// shipping address) plus the sequence number and the send time in unix
// nanoseconds, which the tailer reads back from the delivered line. The
// envelope around it comes to about 480 bytes.
func appendDetail(b []byte, seq int64, sentNs int64) []byte {
	h := mix(uint64(seq))
	cents := totalCents(seq)
	b = append(b, `{"orderId":"o-`...)
	b = appendPadded(b, uint64(seq), 8)
	b = append(b, `","customerId":"`...)
	b = appendUUID(b, mix(h^0x5bd1e995), mix(h+1))
	b = append(b, `","total":`...)
	b = appendCents(b, cents)
	hi := mix(h + 1)
	b = append(b, `,"items":[{"productId":"p-`...)
	b = appendPadded(b, hi%100000, 5)
	b = append(b, `","quantity":`...)
	b = strconv.AppendUint(b, 1+(hi>>20)%4, 10)
	b = append(b, '}')
	c := (h >> 24) % 6
	b = append(b, `],"shippingAddress":{"street":"`...)
	b = strconv.AppendUint(b, 1+(h>>28)%99, 10)
	b = append(b, ` Main St","city":"`...)
	b = append(b, cities[c]...)
	b = append(b, `","country":"`...)
	b = append(b, countries[c]...)
	b = append(b, `","postalCode":"`...)
	b = appendPadded(b, (h>>36)%100000, 5)
	b = append(b, `"},"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"sent_ns":`...)
	b = strconv.AppendInt(b, sentNs, 10)
	return append(b, '}')
}

// appendUUID appends a version-4-shaped UUID made of hi and lo.
func appendUUID(b []byte, hi, lo uint64) []byte {
	const hexd = "0123456789abcdef"
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b = append(b, '-')
		}
		v := hi
		if i >= 16 {
			v = lo
		}
		shift := uint(60 - 4*(i%16))
		b = append(b, hexd[(v>>shift)&0xf])
	}
	return b
}

func appendPadded(b []byte, v uint64, width int) []byte {
	s := strconv.FormatUint(v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendCents(b []byte, cents uint64) []byte {
	b = strconv.AppendUint(b, cents/100, 10)
	b = append(b, '.')
	if c := cents % 100; c < 10 {
		b = append(b, '0')
		b = strconv.AppendUint(b, c, 10)
	} else {
		b = strconv.AppendUint(b, c, 10)
	}
	return b
}

// envelope is the EventBridge envelope routerd would make of event seq:
// the raw baseline publishes exactly these bytes.
func envelope(seq int64, sent time.Time) []byte {
	detail := appendDetail(nil, seq, sent.UnixNano())
	env := event.Envelope{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: orderDetailType,
		Source:     orderSource,
		Account:    "000000000000",
		Time:       sent.UTC().Format(time.RFC3339),
		Region:     "local",
		Resources:  []string{},
		Detail:     detail,
	}
	b, err := env.Marshal()
	if err != nil {
		panic(err) // the detail is ours and valid
	}
	return b
}

// appendPutEvents appends a PutEvents request body of n entries, seq0 to
// seq0+n-1, as the AWS SDK sends it: Detail is a string holding JSON.
func appendPutEvents(b []byte, seq0 int64, n int, sent time.Time, scratch []byte) ([]byte, []byte) {
	b = append(b, `{"Entries":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		seq := seq0 + int64(i)
		b = append(b, `{"Source":"`+orderSource+`","DetailType":"`+orderDetailType+`","Detail":`...)
		scratch = appendDetail(scratch[:0], seq, sent.UnixNano())
		// The detail is printable ASCII whose only escapes are \" — the
		// same in Go's quoting and JSON's.
		b = strconv.AppendQuote(b, string(scratch))
		b = append(b, '}')
	}
	return append(b, `]}`...), scratch
}
