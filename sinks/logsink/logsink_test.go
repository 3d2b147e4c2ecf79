package logsink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/event"
	"github.com/eventrouter/eventrouter/internal/testkit"
	"github.com/eventrouter/eventrouter/sinks"
	"github.com/eventrouter/eventrouter/sinks/sinktest"
)

// record is one line of the JSON handler's output.
type record struct {
	Level    string          `json:"level"`
	Msg      string          `json:"msg"`
	Consumer string          `json:"consumer"`
	Rule     string          `json:"rule"`
	EventID  string          `json:"event_id"`
	Attempt  int             `json:"attempt"`
	Event    json.RawMessage `json:"event"`
}

func records(t *testing.T, out *testkit.Buffer) []record {
	t.Helper()
	var recs []record
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("log line is not JSON: %v: %s", err, sc.Bytes())
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

func newSink(t *testing.T, out *testkit.Buffer, level slog.Level) sinks.Sink {
	t.Helper()
	l := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}))
	s, err := New("audit", nil, sinks.Deps{Logger: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) (sinks.Sink, sinktest.Received) {
		out := &testkit.Buffer{}
		s := newSink(t, out, slog.LevelInfo)
		return s, func() []event.Delivery {
			var got []event.Delivery
			for _, r := range records(t, out) {
				if r.Msg != Message {
					continue
				}
				got = append(got, event.Delivery{Event: r.Event, ID: r.EventID, Rule: r.Rule, Consumer: r.Consumer, Attempt: r.Attempt})
			}
			return got
		}
	})
}

func TestRecord(t *testing.T) {
	out := &testkit.Buffer{}
	s := newSink(t, out, slog.LevelInfo)
	d := sinktest.Delivery(3)
	if err := s.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	recs := records(t, out)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1:\n%s", len(recs), out.String())
	}
	r := recs[0]
	if r.Level != "INFO" || r.Msg != "event delivered" || r.Consumer != d.Consumer || r.Rule != d.Rule || r.EventID != d.ID || r.Attempt != d.Attempt {
		t.Errorf("record = %+v", r)
	}
	if !bytes.Equal(r.Event, d.Event) {
		t.Errorf("event = %s, want %s (embedded as an object, unescaped)", r.Event, d.Event)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("record spans more than one line:\n%s", out.String())
	}
}

func TestTextHandler(t *testing.T) {
	out := &testkit.Buffer{}
	s, err := New("audit", nil, sinks.Deps{Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), sinktest.Delivery(1)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, `event="{\"version\":\"0\"`) {
		t.Errorf("text output does not quote the envelope: %s", got)
	}
}

func TestWarnsWhenInfoIsHidden(t *testing.T) {
	out := &testkit.Buffer{}
	newSink(t, out, slog.LevelWarn)
	recs := records(t, out)
	if len(recs) != 1 || recs[0].Level != "WARN" || recs[0].Consumer != "audit" {
		t.Fatalf("want one warning naming the consumer, got %s", out.String())
	}
}

func TestInvalidEventIsPermanent(t *testing.T) {
	out := &testkit.Buffer{}
	s := newSink(t, out, slog.LevelInfo)
	err := s.Send(context.Background(), event.Delivery{Event: []byte("{"), ID: "x"})
	if !sinks.IsPermanent(err) || sinks.CodeOf(err) != "INVALID_EVENT" {
		t.Fatalf("err = %v, want permanent INVALID_EVENT", err)
	}
}

func TestConfig(t *testing.T) {
	if err := Validate(sinks.Spec{}); err != nil {
		t.Errorf("Validate({}) = %v", err)
	}
	err := Validate(sinks.Spec{"level": "debug"})
	if err == nil || !strings.Contains(err.Error(), `unknown key "level"`) {
		t.Errorf("Validate with a key = %v, want it to name the key", err)
	}
	if _, err := New("c", sinks.Spec{"path": "x"}, sinks.Deps{}); err == nil {
		t.Error("New accepted a key")
	}
}
