package e2ebench

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/config"
)

// BenchmarkPipelineAllocs counts the heap allocations of the whole process
// per event sent through routerd in process: PutEvents over loopback HTTP
// (schema check, bus publish), the router, the four file consumers, until
// every event is in every file its rules name. One op is one event. The
// counts include the benchmark's own HTTP client and file tailer, a fixed
// share; judge changes by allocs/event and B/event, not by time:
//
//	go test ./internal/e2ebench -run '^$' -bench PipelineAllocs -benchtime 20000x -count 3
func BenchmarkPipelineAllocs(b *testing.B) {
	for _, busType := range []string{config.BusMemory, config.BusNATSEmbedded} {
		b.Run("bus="+busType, func(b *testing.B) { benchAllocs(b, busType) })
	}
}

func benchAllocs(b *testing.B, busType string) {
	const senders, batch, backlog = 4, 10, 400
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, _, files, err := startRouterd(ctx, b.TempDir(), busType, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	client := newHTTPClient(senders)
	url := "http://" + a.Addr() + "/"
	tr := newTracker(files, routerdConsumers, expectRouterd)
	tr.start()
	defer func() {
		client.CloseIdleConnections()
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		if err := a.Stop(sctx); err != nil {
			b.Error(err)
		}
		if err := tr.close(); err != nil {
			b.Error(err)
		}
		if tr.dups > 0 || tr.strange > 0 {
			b.Errorf("%d duplicate and %d unexpected lines", tr.dups, tr.strange)
		}
	}()

	var seqs atomic.Int64
	// run sends n events, at most backlog of them undelivered, and waits
	// until every one is delivered everywhere; it returns how many.
	run := func(n int) int64 {
		p := tr.beginPhase(seqs.Load())
		res := runLoad(ctx, loadSpec{senders: senders, batch: batch, window: time.Hour, maxEvents: int64(n), backlog: backlog},
			&seqs, tr, p, func() sendFunc { return httpSender(client, url) })
		if res.failed > 0 {
			b.Fatalf("%d events refused: %s", res.failed, res.firstError)
		}
		if got := tr.waitDelivered(ctx, p, res.accepted, time.Minute); got != res.accepted {
			b.Fatalf("%d of %d events delivered", got, res.accepted)
		}
		return res.accepted
	}
	run(2000) // warm up: files open, pools and connections filled

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	events := run(b.N)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(events), "B/event")
}
