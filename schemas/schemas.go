// Package schemas checks an event's detail against the JSON Schema that the
// config attaches to its source and detail-type, so that a producer sending
// a malformed order hears about it at ingest, with every violation named,
// instead of a consumer failing on it later.
//
// Schemas are compiled once (Compile) into an immutable Set; validating is a
// map lookup when no schema applies, and one JSON decode plus a walk of the
// compiled schema when one does. Draft 2020-12 is assumed unless a schema's
// $schema names draft-04, -06, -07 or 2019-09. Formats (uuid, email,
// date-time, uri, ...) are asserted, as producers expect of a schema that
// says "format": "uuid"; unknown formats are ignored, as the spec allows.
//
// The validator is github.com/santhosh-tekuri/jsonschema/v6: it passes the
// official JSON-Schema-Test-Suite for every draft we accept, reports each
// violation with its instance location and a typed kind (which lets us word
// messages ourselves), compiles to a tree that is safe to share between
// goroutines, and depends on nothing but golang.org/x/text.
package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/eventrouter/eventrouter/config"
	"github.com/eventrouter/eventrouter/event"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxViolations bounds Error.Violations: a detail with thousands of bad
// array items should not make an answer of thousands of lines.
const MaxViolations = 100

// maxMessage bounds Error.Error's text, below the 1 KiB that the HTTP doors
// allow a per-entry message (with room for their "entry 12: detail: "), so
// that the list is cut here, saying how much was left off, rather than
// mid-word there.
const maxMessage = 960

// Set is the compiled schemas of one config, by source and detail-type. It
// is immutable and safe for concurrent use. The nil *Set has no schemas.
type Set struct {
	byKey map[key]*entry
}

type key struct{ source, detailType string }

type entry struct {
	name   string // for messages: the schema's title, else the file's base name or the detail-type
	schema *jsonschema.Schema
}

// Violation is one way a detail fails its schema.
type Violation struct {
	// Path is where in detail, written as in JavaScript (items[0].quantity,
	// meta["content-type"]); "" is detail itself.
	Path string `json:"path"`
	// Message says what is wrong there, e.g. "must be a UUID", "required".
	Message string `json:"message"`
}

// Error is a detail that does not satisfy its schema: every violation, in
// path order.
type Error struct {
	// Schema names the schema: its title, else its file's base name (the
	// detail-type for an inline schema).
	Schema string `json:"schema"`
	// Violations are at most MaxViolations; Omitted counts the rest.
	Violations []Violation `json:"violations"`
	Omitted    int         `json:"omitted,omitempty"`
}

// Error words the violations as zod does, one "path: message" after
// another, following a field name: "does not match schema order-created:
// customerId: must be a UUID; items: must have at least 1 item".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("does not match schema ")
	b.WriteString(e.Schema)
	b.WriteString(": ")
	head := b.Len()
	for i, v := range e.Violations {
		part := v.Message
		if v.Path != "" {
			part = v.Path + ": " + v.Message
		}
		more := len(e.Violations) - i + e.Omitted
		if b.Len()+len(part)+2 > maxMessage && i > 0 {
			fmt.Fprintf(&b, "; and %d more", more)
			return b.String()
		}
		if b.Len() > head {
			b.WriteString("; ")
		}
		b.WriteString(part)
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

// Compile compiles the config's schemas. baseDir is the directory relative
// schema_file paths (and inline schemas' relative $refs) are resolved
// against: the config file's directory, so that a config and its schemas
// move together. A schema may $ref parts of itself and other local files;
// remote $refs are refused, so startup never depends on the network. Every
// entry that fails is reported, as config.Errors at its config entry's path.
func Compile(list []config.Schema, baseDir string) (*Set, error) {
	set := &Set{byKey: make(map[key]*entry, len(list))}
	if len(list) == 0 {
		return set, nil
	}
	if baseDir == "" {
		baseDir = "."
	}
	base, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("schemas: base directory %s: %w", baseDir, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(fileLoader{})
	var errs config.Errors
	for i := range list {
		s := &list[i]
		path := fmt.Sprintf("schemas[%d]", i)
		e, where, err := compileOne(c, s, i, base)
		if err != nil {
			errs = append(errs, &config.Error{Path: path + where, Reason: err.Error(), Err: err})
			continue
		}
		k := key{s.Source, s.DetailType}
		if _, dup := set.byKey[k]; dup {
			errs = append(errs, &config.Error{Path: path, Reason: fmt.Sprintf("another entry already has a schema for source %q and detail-type %q", s.Source, s.DetailType)})
			continue
		}
		set.byKey[k] = e
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

// compileOne compiles one config entry; where is the key inside the entry
// that failed, ".schema" or "", and the error names the schema file.
func compileOne(c *jsonschema.Compiler, s *config.Schema, i int, base string) (*entry, string, error) {
	where := ""
	if s.Source == "" || s.DetailType == "" {
		return nil, where, errors.New("source and detail-type are required")
	}
	var loc, name string
	switch {
	case s.SchemaFile != "" && s.Schema != nil:
		return nil, where, errors.New("set schema_file or schema, not both")
	case s.SchemaFile != "":
		loc = s.SchemaFile
		if !filepath.IsAbs(loc) {
			loc = filepath.Join(base, loc)
		}
		name = strings.TrimSuffix(filepath.Base(loc), filepath.Ext(loc))
	case s.Schema != nil:
		where = ".schema"
		js, err := s.InlineJSON()
		if err != nil {
			return nil, where, fmt.Errorf("cannot be written as JSON: %v", err)
		}
		doc, err := parseJSON(js)
		if err != nil {
			return nil, where, err
		}
		// A unique place beside the config, so relative $refs find files
		// next to it and two inline schemas never collide.
		loc = filepath.Join(base, fmt.Sprintf("schemas-%d-inline.json", i))
		if err := c.AddResource(loc, doc); err != nil {
			return nil, where, err
		}
		name = s.DetailType
	default:
		return nil, where, errors.New("set schema_file or schema")
	}
	sch, err := c.Compile(loc)
	if err != nil {
		err = compileError(err, loc, base)
		if s.SchemaFile != "" {
			err = fmt.Errorf("schema_file %s: %w", s.SchemaFile, err)
		}
		return nil, where, err
	}
	if t := strings.TrimSpace(sch.Title); t != "" {
		name = t
	}
	return &entry{name: name, schema: sch}, where, nil
}

// Validate checks detail against the schema for source and detailType. It
// returns nil when no schema applies or detail satisfies it; otherwise an
// InvalidArgument error on field Detail whose message lists every
// violation (see Error), or MalformedDetail when detail is not JSON.
//
// InvalidArgument is the PutEvents code for "a parameter is not valid" and
// is what AWS SDKs treat as the caller's mistake, not to be retried;
// MalformedDetail means detail is not JSON at all, which a schema violation
// is not.
func (s *Set) Validate(source, detailType string, detail []byte) *event.EntryError {
	err := s.Check(source, detailType, detail)
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return &event.EntryError{Code: "InvalidArgument", Field: "Detail", Message: se.Error()}
	}
	return &event.EntryError{Code: "MalformedDetail", Field: "Detail", Message: err.Error()}
}

// Check is Validate for callers that want the violations as data: it
// returns nil, an *Error, or an error saying detail is not JSON.
func (s *Set) Check(source, detailType string, detail []byte) error {
	if s == nil || len(s.byKey) == 0 {
		return nil
	}
	e := s.byKey[key{source, detailType}]
	if e == nil {
		return nil
	}
	if len(bytes.TrimSpace(detail)) == 0 {
		detail = []byte("{}") // no detail: checked as the empty object
	}
	doc, err := decode(detail)
	if err != nil {
		return fmt.Errorf("is not valid JSON: %v", err)
	}
	verr := e.schema.Validate(doc)
	if verr == nil {
		return nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return &Error{Schema: e.name, Violations: []Violation{{Message: verr.Error()}}}
	}
	vs := violations(ve, doc, false)
	out := &Error{Schema: e.name, Violations: vs}
	if len(vs) > MaxViolations {
		out.Violations, out.Omitted = vs[:MaxViolations:MaxViolations], len(vs)-MaxViolations
	}
	return out
}

// Has reports whether a schema applies to events of source and detailType.
func (s *Set) Has(source, detailType string) bool {
	if s == nil {
		return false
	}
	_, ok := s.byKey[key{source, detailType}]
	return ok
}

// Len is the number of schemas.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byKey)
}

// Live holds the Set in force for an Ingester that outlives config
// reloads: Store swaps a newly compiled Set in whole, and entries being
// validated meanwhile finish against the old one. The zero Live validates
// nothing.
type Live struct {
	p atomic.Pointer[Set]
}

// Store makes s the Set in force.
func (l *Live) Store(s *Set) { l.p.Store(s) }

// Load returns the Set in force (nil before the first Store).
func (l *Live) Load() *Set { return l.p.Load() }

// Validate is the Set in force's Validate.
func (l *Live) Validate(source, detailType string, detail []byte) *event.EntryError {
	return l.p.Load().Validate(source, detailType, detail)
}

// fileLoader loads $ref'd local files; any other scheme is refused, so a
// schema cannot make routerd's start wait on, or fail with, the network.
type fileLoader struct{}

func (fileLoader) Load(url string) (any, error) {
	if !strings.HasPrefix(url, "file://") {
		return nil, errors.New("only local files can be referenced")
	}
	path, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseJSON(b)
}

// parseJSON decodes a schema, keeping numbers exact, and places a syntax
// error by line and column.
func parseJSON(b []byte) (any, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err == nil {
		return doc, nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(b, se.Offset)
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := position(b, te.Offset)
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: %v", line, col, te)
	}
	return nil, fmt.Errorf("invalid JSON: %v", err)
}

func position(b []byte, offset int64) (line, col int) {
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	line, col = 1, 1
	for _, c := range b[:offset] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// compileError words a compiler error for a config file's reader: paths
// relative to the config's directory, the place in the schema as a JSON
// pointer.
func compileError(err error, root, base string) error {
	short := func(s string) string { return shorten(s, base) }
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		if strings.HasPrefix(le.URL, "http://json-schema.org/") || strings.HasPrefix(le.URL, "https://json-schema.org/") {
			return fmt.Errorf("$schema %s is not a draft we support (draft-04, -06, -07, 2019-09, 2020-12)", le.URL)
		}
		what := ""
		if p, perr := (jsonschema.FileLoader{}).ToFile(le.URL); perr != nil || p != root {
			what = "$ref " + short(le.URL) + ": "
		}
		var pe *fs.PathError
		if errors.As(le.Err, &pe) {
			return fmt.Errorf("%scannot read %s: %v", what, pe.Path, pe.Err)
		}
		return fmt.Errorf("%s%v", what, le.Err)
	}
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var ve *jsonschema.ValidationError
		if !errors.As(sve.Err, &ve) {
			return fmt.Errorf("not a valid schema: %s", short(sve.Err.Error()))
		}
		what := ""
		if u, _, _ := strings.Cut(sve.URL, "#"); !strings.HasSuffix(u, filepath.ToSlash(root)) {
			what = " (in " + short(u) + ")"
		}
		var parts []string
		for _, v := range violations(ve, nil, true) {
			parts = append(parts, "at "+v.Path+": "+v.Message)
		}
		return fmt.Errorf("not a valid schema%s: %s", what, strings.Join(parts, "; "))
	}
	var pe *jsonschema.JSONPointerNotFoundError
	if errors.As(err, &pe) {
		return fmt.Errorf("$ref target %s does not exist", short(pe.URL))
	}
	var ae *jsonschema.AnchorNotFoundError
	if errors.As(err, &ae) {
		return fmt.Errorf("$ref target %s does not exist", short(ae.Reference))
	}
	var ue *jsonschema.UnsupportedDraftError
	if errors.As(err, &ue) {
		return fmt.Errorf("$schema %s is not a draft we support (draft-04, -06, -07, 2019-09, 2020-12)", ue.URL)
	}
	return errors.New(short(err.Error()))
}

// shorten writes file URLs under base as paths relative to it.
func shorten(s, base string) string {
	prefix := "file://" + filepath.ToSlash(base) + "/"
	return strings.ReplaceAll(s, prefix, "")
}
