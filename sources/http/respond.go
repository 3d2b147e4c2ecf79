package httpsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/eventrouter/eventrouter/sources"
)

// Content types of answers: AWS JSON 1.1 for the AWS protocol on "/",
// plain JSON elsewhere.
const (
	contentTypeAmzJSON = "application/x-amz-json-1.1"
	contentTypeJSON    = "application/json"
)

// apiError is a whole-request failure in AWS's JSON error shape. The SDKs
// read the type from "__type" (or the X-Amzn-ErrorType header) and map it
// to their typed exceptions, e.g. *types.InvalidEventPatternException.
type apiError struct {
	status     int
	typ        string
	msg        string
	retryAfter string // Retry-After header value, if any
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func validationError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func serializationError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "SerializationException", msg: fmt.Sprintf(format, args...)}
}

func errTooLarge(max int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, typ: "RequestEntityTooLargeException",
		msg: fmt.Sprintf("request body is larger than the limit of %d bytes", max)}
}

// errUnavailable answers a request the bus did not take (err, from the
// Ingester): 503, which clients and the AWS SDKs retry. It names the cause
// when the bus's storage is full, and leaves other bus errors to the log:
// they may name internal addresses, and the client can only retry anyway.
func errUnavailable(err error) *apiError {
	if errors.Is(err, sources.ErrStorageFull) {
		// Room comes back as consumers deliver: seconds, not at once.
		return &apiError{status: http.StatusServiceUnavailable, typ: "ServiceUnavailableException",
			msg: "the event bus's storage is full and nothing was accepted; retry later", retryAfter: "5"}
	}
	return &apiError{status: http.StatusServiceUnavailable, typ: "ServiceUnavailableException",
		msg: "the event bus is unavailable and nothing was accepted; retry later", retryAfter: "1"}
}

func errNotFound(r *http.Request) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "NotFoundException",
		msg: fmt.Sprintf("no such endpoint: %s %s", clip(r.Method), clip(r.URL.Path))}
}

func errMethod(r *http.Request) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, typ: "MethodNotAllowedException",
		msg: fmt.Sprintf("method %s is not allowed on %s", clip(r.Method), r.URL.Path)}
}

// responseContentType answers AWS-protocol requests (they carry
// X-Amz-Target) in AWS JSON 1.1, everything else in plain JSON.
func responseContentType(r *http.Request) string {
	if r.Header.Get("X-Amz-Target") != "" {
		return contentTypeAmzJSON
	}
	return contentTypeJSON
}

// writeError answers with e in AWS's JSON error shape. The type also goes in
// X-Amzn-ErrorType, which the SDKs read first.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	w.Header().Set("X-Amzn-Errortype", e.typ)
	writeJSON(w, responseContentType(r), e.status, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.typ, e.msg})
}

// writeJSON answers with v encoded as JSON. <, > and & are left as they
// are: messages quote patterns and values (">=", "a&b"), and \u003e helps
// no client of a JSON API.
func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the JSON with a newline
		// Only our own response types get here; they always encode.
		panic(fmt.Sprintf("httpsrc: encode response: %v", err))
	}
	b := buf.Bytes()
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonMediaType reports whether a Content-Type names JSON. Requiring it
// keeps browsers from posting events cross-site with a form or text/plain,
// which they may do without asking the server first.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/x-amz-json-1.1", "application/x-amz-json-1.0":
		return true
	}
	return strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// readBody checks the Content-Type and reads the whole body, mapping the
// body limit to 413.
func readBody(r *http.Request) ([]byte, *apiError) {
	if ct := r.Header.Get("Content-Type"); !jsonMediaType(ct) {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, typ: "UnsupportedMediaTypeException",
			msg: fmt.Sprintf("Content-Type must be application/json or application/x-amz-json-1.1, got %s", clip(ct))}
	}
	return readAll(r)
}

// presizeMax bounds the buffer readAll allocates before reading.
const presizeMax = 64 << 10

// readAll reads the whole body whatever its Content-Type, mapping the body
// limit to 413: for doors that take other media types, such as CloudEvents
// in binary mode.
func readAll(r *http.Request) ([]byte, *apiError) {
	// Sized by Content-Length, up to presizeMax so that a false one costs
	// little: io.ReadAll's doublings allocated about twice the body.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), presizeMax)+bytes.MinRead))
	_, err := buf.ReadFrom(r.Body)
	b := buf.Bytes()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge(tooLarge.Limit)
		}
		var inflated *errInflatedTooLarge
		if errors.As(err, &inflated) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, typ: "RequestEntityTooLargeException", msg: inflated.Error()}
		}
		return nil, serializationError("reading the request body: %v", err)
	}
	return b, nil
}
