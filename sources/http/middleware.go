package httpsrc

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
)

// RequestIDHeader carries a fresh UUID on every response, as AWS services
// do; the SDKs surface it in errors and logs, and routerd's debug log has it.
const RequestIDHeader = "X-Amzn-Requestid"

type ctxKey struct{}

// requestID returns the id withRequestID gave the request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// withRequestID gives every request an id, set on the response before any
// handler runs so that even a 404 or a recovered panic carries it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// recorder remembers the status and size of a response for the log, and
// whether headers went out, so a recovered panic knows if it may answer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection underneath.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests logs one debug line per request: routine traffic is only
// worth seeing when debugging, and the metrics count it anyway.
func logRequests(log *slog.Logger, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", now().Sub(start)),
			slog.String("remote", r.RemoteAddr),
			slog.String("request_id", requestID(r.Context())),
		}
		if t := r.Header.Get("X-Amz-Target"); t != "" {
			attrs = append(attrs, slog.String("target", t))
		}
		log.LogAttrs(r.Context(), slog.LevelDebug, "http request", attrs...)
	})
}

// recoverPanics turns a panic into a logged stack and a 500: a panic is a
// bug in routerd, never the client's fault, and must not kill the process.
// http.ErrAbortHandler is re-panicked: it is how a handler asks net/http to
// drop the connection, not a bug.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("http: panic serving request", "method", r.Method, "path", r.URL.Path,
				"request_id", requestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
			if rec, ok := w.(*recorder); ok && rec.status != 0 {
				// Headers are out: all that is left is to cut the response short.
				panic(http.ErrAbortHandler)
			}
			writeError(w, r, &apiError{status: http.StatusInternalServerError, typ: "InternalFailure",
				msg: "internal error; the request id is in the x-amzn-RequestId header and routerd's log"})
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies over max bytes with 413: at once when
// Content-Length says so, else when reading crosses the limit (readBody).
// It also decodes a gzip body (the limit holds before and after
// decompression) and refuses other content codings with 415.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeError(w, r, errTooLarge(max))
			return
		}
		gz, aerr := requestGzipped(r.Header)
		if aerr != nil {
			w.Header().Set("Accept-Encoding", acceptEncoding)
			writeError(w, r, aerr)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		if gz {
			r.Body = &gunzipBody{src: r.Body, max: max}
		}
		next.ServeHTTP(w, r)
	})
}
