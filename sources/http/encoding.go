package httpsrc

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// acceptEncoding lists the request content codings routerd decodes, for
// the Accept-Encoding header of a 415 (RFC 9110, section 12.5.3).
const acceptEncoding = "gzip, identity"

// requestGzipped reads Content-Encoding: true for gzip (once; x-gzip is its
// old name), false for none or identity. Any other coding, brotli and
// deflate included, is refused with 415 rather than read as if the bytes
// were JSON.
func requestGzipped(h http.Header) (bool, *apiError) {
	gz := false
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			switch c = strings.ToLower(strings.TrimSpace(c)); {
			case c == "" || c == "identity":
			case (c == "gzip" || c == "x-gzip") && !gz:
				gz = true
			default:
				return false, &apiError{status: http.StatusUnsupportedMediaType, typ: "UnsupportedMediaTypeException",
					msg: fmt.Sprintf("Content-Encoding %s is not supported: send the body as is (identity) or compressed once with gzip", clip(c))}
			}
		}
	}
	return gz, nil
}

// gunzipBody is a gzip request body read decompressed, at most max bytes
// of it: the body limit holds for what the handlers read, so that a small
// compressed body cannot inflate into a huge one.
type gunzipBody struct {
	src  io.ReadCloser // the compressed body, under the body limit itself
	zr   *gzip.Reader  // nil until the first Read
	max  int64
	read int64 // decompressed bytes read so far
	err  error // sticky
}

// errInflatedTooLarge is the decompressed body crossing the body limit.
type errInflatedTooLarge struct{ limit int64 }

func (e *errInflatedTooLarge) Error() string {
	return fmt.Sprintf("request body, decompressed (gzip), is larger than the limit of %d bytes", e.limit)
}

func (g *gunzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.src)
		if err != nil {
			g.err = notGzip(err)
			return 0, g.err
		}
		g.zr = zr
	}
	if rest := g.max - g.read; int64(len(p)) > rest {
		p = p[:rest+1] // one byte past the limit tells whether there is more
	}
	n, err := g.zr.Read(p)
	if g.read += int64(n); g.read > g.max {
		g.err = &errInflatedTooLarge{g.max}
		return 0, g.err
	}
	if err != nil && err != io.EOF {
		g.err = notGzip(err)
		err = g.err
	}
	return n, err
}

func (g *gunzipBody) Close() error { return g.src.Close() }

// notGzip words a decompression error; the compressed body crossing the
// body limit stays an *http.MaxBytesError.
func notGzip(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("Content-Encoding is gzip, but the body is not valid gzip: %w", err)
}
