package e2ebench

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is what the numbers were measured on.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	OS         string `json:"os"`
}

func machine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// LoadAvg is the system load average (/proc/loadavg). The machine may be
// shared, so every phase records it: a high load explains a low number.
type LoadAvg struct {
	One     float64 `json:"1m"`
	Five    float64 `json:"5m"`
	Fifteen float64 `json:"15m"`
}

func (l LoadAvg) String() string { return fmt.Sprintf("%.2f %.2f %.2f", l.One, l.Five, l.Fifteen) }

func loadavg() LoadAvg {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return LoadAvg{}
	}
	f := strings.Fields(string(b))
	var l LoadAvg
	if len(f) >= 3 {
		l.One, _ = strconv.ParseFloat(f[0], 64)
		l.Five, _ = strconv.ParseFloat(f[1], 64)
		l.Fifteen, _ = strconv.ParseFloat(f[2], 64)
	}
	return l
}

// speedProbe times a fixed single-threaded piece of work, a scan of the
// benchmark's own events (256 KiB of them, in the L2 cache of most
// machines) that branches on their bytes as JSON parsers do, and returns
// the best of five runs in nanoseconds per KiB. The load average does not
// show a shared machine's slow spells, when the same code runs up to twice
// as slow for minutes; this does, so a phase can be read against the speed
// it ran at.
func speedProbe() float64 {
	var buf []byte
	now := time.Unix(1_800_000_000, 0)
	for seq := int64(0); len(buf) < 256<<10; seq++ {
		buf = append(buf, envelope(seq, now)...)
	}
	best := time.Duration(math.MaxInt64)
	sink := 0
	for range 5 {
		start := time.Now()
		n := 0
		for _, c := range buf {
			switch {
			case c == '"':
				n += 3
			case c == ',' || c == ':':
				n++
			case c >= '0' && c <= '9':
				n += int(c - '0')
			}
		}
		sink += n
		best = min(best, time.Since(start))
	}
	if sink < 0 { // keeps the loop from being optimised away
		fmt.Fprint(os.Stderr, "")
	}
	return float64(best.Nanoseconds()) / float64(len(buf)>>10)
}

// MemSample is the process's memory at one moment of the soak: the Go heap
// in use right after a forced GC (what is live, routerd and the embedded
// NATS server together) and the resident set the kernel sees.
type MemSample struct {
	Seconds     float64 `json:"t_seconds"`
	HeapInuseMB float64 `json:"heap_inuse_mb"`
	HeapAllocMB float64 `json:"heap_alloc_mb"`
	RSSMB       float64 `json:"rss_mb"`
	Goroutines  int     `json:"goroutines"`
}

func sampleMemory(since time.Time) MemSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return MemSample{
		Seconds:     time.Since(since).Seconds(),
		HeapInuseMB: float64(ms.HeapInuse) / (1 << 20),
		HeapAllocMB: float64(ms.HeapAlloc) / (1 << 20),
		RSSMB:       float64(rssBytes()) / (1 << 20),
		Goroutines:  runtime.NumGoroutine(),
	}
}

// rssBytes reads VmRSS from /proc/self/status; 0 where there is none.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// minFlatSamples is the fewest memory samples flatness judges.
const minFlatSamples = 3

// flatness judges one memory series: flat when the mean of its last third
// is within tolerance of the mean of its first third and, given six
// samples or more (fewer grow at every step by chance too often), it did
// not grow at every step. It needs at least three samples.
func flatness(series []float64, tolerance float64) (flat bool, change float64, why string) {
	n := len(series)
	if n < minFlatSamples {
		return false, 0, fmt.Sprintf("%d samples: too few to judge (need %d)", n, minFlatSamples)
	}
	third := max(n/3, 1)
	mean := func(s []float64) float64 {
		var t float64
		for _, v := range s {
			t += v
		}
		return t / float64(len(s))
	}
	first, last := mean(series[:third]), mean(series[n-third:])
	if first > 0 {
		change = (last - first) / first
	}
	monotonic := n >= 6
	for i := 1; i < n && monotonic; i++ {
		if series[i] <= series[i-1] {
			monotonic = false
		}
	}
	switch {
	case change > tolerance || change < -tolerance:
		return false, change, fmt.Sprintf("last third %.1f vs first third %.1f: %+.0f%%, beyond ±%.0f%%", last, first, 100*change, 100*tolerance)
	case monotonic:
		return false, change, "grew at every sample"
	}
	return true, change, fmt.Sprintf("last third %.1f vs first third %.1f: %+.1f%%, no steady growth", last, first, 100*change)
}

// cpuTime is the CPU time (user + system) this process has used: routerd
// or the raw pipeline, the embedded server, the senders and the tailer.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs returns the bytes the process has allocated on the heap and
// the garbage collections it has run so far. Both are read without
// stopping the world: the GC's work follows the allocation rate, and each
// cycle's marking takes CPU from the pipeline, which shows in its tail.
func heapAllocs() (bytes, cycles uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		bytes = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		cycles = s[1].Value.Uint64()
	}
	return bytes, cycles
}

// slopePerMinute fits a line through the last third of a series sampled
// at times ts (seconds) and returns its slope per minute: near zero once a
// series has levelled off, whatever it did before.
func slopePerMinute(ts, series []float64) float64 {
	n := len(series)
	if n < 3 {
		return 0
	}
	from := n - max(n/3, 2)
	var sx, sy, sxx, sxy float64
	for i := from; i < n; i++ {
		x, y := ts[i]/60, series[i]
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	k := float64(n - from)
	den := k*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (k*sxy - sx*sy) / den
}
