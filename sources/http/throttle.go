package httpsrc

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Throttle is a token bucket per client: one per API key and per SigV4
// access key, or one for everyone when authentication is off. A request
// takes a token; the bucket holds Burst tokens and refills at Rate per
// second, like an API gateway's usage plan.
type Throttle struct {
	// Rate is the sustained requests per second per client; 0 turns
	// throttling off.
	Rate float64
	// Burst is how many requests a client may send at once; values below 1
	// count as 1.
	Burst int
}

// newBucket returns a fresh bucket for one client, or nil when throttling
// is off. The buckets are golang.org/x/time/rate limiters: a tested token
// bucket whose ReserveN(now, n) takes the time as an argument, so the
// throttle runs on the server's clock and tests need not sleep.
func (t Throttle) newBucket() *rate.Limiter {
	if t.Rate <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(t.Rate), max(t.Burst, 1))
}

// throttle answers 429 ThrottlingException with Retry-After when the
// client's bucket is empty. It runs after authentication, so an
// unauthenticated flood is refused with 401s before it costs any client
// tokens, and before the body is read (for SigV4 the body was read to
// verify the signature: throttling on an unverified access key id, which is
// not secret, would let anyone spend another client's tokens). A refused
// request takes no token, so retrying early does not push the wait back.
func (s *server) throttle(source string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := clientFrom(r.Context())
		if c == nil || c.bucket == nil {
			next.ServeHTTP(w, r)
			return
		}
		now := s.now()
		res := c.bucket.ReserveN(now, 1)
		delay := res.DelayFrom(now)
		if res.OK() && delay == 0 {
			next.ServeHTTP(w, r)
			return
		}
		res.CancelAt(now)
		if s.in != nil && s.in.Metrics != nil {
			s.in.Metrics.Throttled.WithLabelValues(source).Inc()
		}
		writeError(w, r, &apiError{status: http.StatusTooManyRequests, typ: "ThrottlingException",
			msg: "Rate exceeded", retryAfter: retryAfter(delay)})
	})
}

// retryAfter is a Retry-After value: whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	secs := math.Ceil(d.Seconds())
	if secs < 1 || d == rate.InfDuration {
		secs = 1
	}
	return strconv.FormatFloat(secs, 'f', 0, 64)
}

// ingestSource names an ingest route in eventrouter_throttled_requests_total
// the way the other ingest metrics name its door: "/" is putevents,
// "/v1/NAME" is NAME.
func ingestSource(path string) string {
	if path == "/" {
		return "putevents"
	}
	return strings.TrimPrefix(path, "/v1/")
}
