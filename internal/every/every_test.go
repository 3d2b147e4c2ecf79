package every

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := Limiter{Period: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		at      time.Duration
		ok      bool
		skipped int
	}{
		{0, true, 0}, {time.Second, false, 0}, {9 * time.Second, false, 0},
		{10 * time.Second, true, 2}, {11 * time.Second, false, 0}, {time.Minute, true, 1},
	} {
		if ok, skipped := l.Allow(t0.Add(c.at)); ok != c.ok || skipped != c.skipped {
			t.Errorf("at %s: Allow = %v, %d; want %v, %d", c.at, ok, skipped, c.ok, c.skipped)
		}
	}
}

func TestWithSkipped(t *testing.T) {
	if got := WithSkipped([]any{"k", 1}, 0); len(got) != 2 {
		t.Errorf("nothing left out: got %v, want the attributes unchanged", got)
	}
	got := WithSkipped([]any{"k", 1}, 3)
	if len(got) != 4 || got[2] != SkippedKey || got[3] != 3 {
		t.Errorf("3 left out: got %v", got)
	}
}
