// Package every thins out a log line that a lasting condition would
// repeat for every request or event (a full bus, say): the first is
// written, then at most one per period, saying how many were left out.
package every

import (
	"sync"
	"time"
)

// Limiter allows one call per period. The zero value allows every call;
// set Period.
type Limiter struct {
	Period time.Duration

	mu      sync.Mutex
	next    time.Time
	skipped int
}

// Allow reports whether to write the line now, and how many calls it
// refused since it last allowed one.
func (l *Limiter) Allow(now time.Time) (ok bool, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.skipped++
		return false, 0
	}
	skipped, l.skipped = l.skipped, 0
	l.next = now.Add(l.Period)
	return true, skipped
}

// SkippedKey is the attribute of a thinned-out line that says how many
// lines like it were left out since the last one written: one name on
// every such line, so one log query finds them all.
const SkippedKey = "similar_not_logged"

// WithSkipped adds SkippedKey to a line's attributes when lines were left
// out before it.
func WithSkipped(args []any, skipped int) []any {
	if skipped > 0 {
		args = append(args, SkippedKey, skipped)
	}
	return args
}
