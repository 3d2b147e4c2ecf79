package patterntest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/eventrouter/eventrouter/rules"
	"github.com/tidwall/gjson"
)

// Batch tests cases read as JSON Lines from r and writes one result line per
// case to w, in input order. A case is an object with "pattern" and "event",
// each a JSON object or a string holding one (as the AWS API passes them).
// Every other field is copied to the output in input order and raw, so ids
// and numbers keep their spelling; then comes "Result": bool, or "Error":
// "..." when the line, pattern or event is unusable. With explain, a
// non-match also gets an "Explanation" array. Fields named Result, Error or
// Explanation are dropped from the input, so output can be fed back in.
//
// A bad line never stops the batch: Batch fails only when reading r (an
// *InputError) or writing w fails. Blank lines are skipped.
func Batch(r io.Reader, w io.Writer, explain bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	t := tester{explain: explain, cache: map[string]compiled{}}
	var out []byte
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n') // no length limit: events may be big
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = t.appendCase(out[:0], n, line)
			if _, err := bw.Write(out); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			return &InputError{What: fmt.Sprintf("reading cases at line %d", n), Err: rerr}
		}
	}
	return bw.Flush()
}

// cacheSize bounds the compiled-pattern cache; a batch of all-distinct
// patterns then costs memory for this many, not for the whole file.
const cacheSize = 1024

// compiled is the outcome of compiling one pattern text.
type compiled struct {
	p   *rules.Pattern
	err error
}

// tester holds what lasts across lines: the compiled patterns, keyed by
// their text, since batches repeat one pattern over many events.
type tester struct {
	explain bool
	cache   map[string]compiled
}

func (t *tester) compile(src []byte) (*rules.Pattern, error) {
	if c, ok := t.cache[string(src)]; ok {
		return c.p, c.err
	}
	if len(t.cache) >= cacheSize {
		clear(t.cache)
	}
	p, err := rules.Compile(src)
	t.cache[string(src)] = compiled{p, err}
	return p, err
}

// appendCase appends the output line for input line n.
func (t *tester) appendCase(dst []byte, n int, line []byte) []byte {
	if err := rules.ValidateEvent(line); err != nil { // "one JSON object", whatever it holds
		return appendError(append(dst, '{'), fmt.Sprintf("line %d: %v", n, err))
	}
	dst = append(dst, '{')
	var pattern, event gjson.Result
	gjson.ParseBytes(line).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "pattern":
			pattern = v
		case "event":
			event = v
		case "Result", "Error", "Explanation":
		default:
			dst = append(dst, k.Raw...)
			dst = append(dst, ':')
			dst = append(dst, v.Raw...)
			dst = append(dst, ',')
		}
		return true
	})
	switch {
	case !pattern.Exists():
		return appendError(dst, fmt.Sprintf(`line %d: no "pattern" field`, n))
	case !event.Exists():
		return appendError(dst, fmt.Sprintf(`line %d: no "event" field`, n))
	}
	src, err := jsonArg("pattern", pattern)
	if err != nil {
		return appendError(dst, err.Error())
	}
	p, err := t.compile(src)
	if err != nil {
		return appendError(dst, "pattern: "+err.Error())
	}
	ev, err := jsonArg("event", event)
	if err != nil {
		return appendError(dst, err.Error())
	}
	if err := rules.ValidateEvent(ev); err != nil {
		return appendError(dst, "event: "+err.Error())
	}
	if !t.explain {
		return fmt.Appendf(dst, `"Result":%t}`+"\n", p.Match(ev))
	}
	ex := p.Explain(ev)
	dst = fmt.Appendf(dst, `"Result":%t`, ex.Matched)
	if !ex.Matched {
		dst = appendFailures(append(dst, `,"Explanation":`...), ex.Failures)
	}
	return append(dst, "}\n"...)
}

// jsonArg returns the JSON text of a case's pattern or event: the object
// itself, or the contents of a string holding it, the AWS API's form.
func jsonArg(name string, v gjson.Result) ([]byte, error) {
	switch {
	case v.Type == gjson.String:
		return []byte(v.Str), nil
	case v.IsObject():
		return []byte(v.Raw), nil
	}
	return nil, fmt.Errorf("%s: must be a JSON object or a string holding one, not %s", name, kind(v))
}

// kind names the JSON type of a value for messages.
func kind(v gjson.Result) string {
	switch v.Type {
	case gjson.Number:
		return "a number"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.Null:
		return "null"
	}
	return "an array"
}

// appendError closes an output line with "Error": msg.
func appendError(dst []byte, msg string) []byte {
	dst = append(dst, `"Error":`...)
	dst = appendJSON(dst, msg)
	return append(dst, "}\n"...)
}
