package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer words kinds we do not word ourselves (none that a schema we
// compile can produce today, but the library may add some).
var printer = message.NewPrinter(language.English)

// leaf is one violation before its path is written out.
type leaf struct {
	loc []string // instance location, as the validator's tokens
	msg string
}

// violations flattens the validator's tree of errors into one violation per
// problem, sorted by path, duplicates removed. doc is the instance, used to
// tell an array index from an object key that looks like one; pointer
// writes paths as JSON pointers (for errors in schemas) instead.
func violations(ve *jsonschema.ValidationError, doc any, pointer bool) []Violation {
	var leaves []leaf
	collect(ve, &leaves)
	slices.SortStableFunc(leaves, func(a, b leaf) int {
		if c := compareLoc(a.loc, b.loc); c != 0 {
			return c
		}
		return strings.Compare(a.msg, b.msg)
	})
	out := make([]Violation, 0, len(leaves))
	for i, l := range leaves {
		if i > 0 && slices.Equal(l.loc, leaves[i-1].loc) && l.msg == leaves[i-1].msg {
			continue
		}
		var path string
		if pointer {
			path = jsonPointer(l.loc)
		} else {
			path = jsPath(doc, l.loc)
		}
		out = append(out, Violation{Path: path, Message: l.msg})
	}
	return out
}

// compareLoc orders locations token by token, indexes numerically, so that
// items[2] comes before items[10].
func compareLoc(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		x, errx := strconv.Atoi(a[i])
		y, erry := strconv.Atoi(b[i])
		if errx == nil && erry == nil {
			return x - y
		}
		return strings.Compare(a[i], b[i])
	}
	return len(a) - len(b)
}

// collect walks the error tree down to the violations a person acts on.
// Grouping nodes ($ref, allOf, several errors at one place) are looked
// through; anyOf and oneOf are summarised at their own place, since listing
// every alternative's failures would bury the point.
func collect(e *jsonschema.ValidationError, out *[]leaf) {
	at := func(msg string, extra ...string) {
		loc := e.InstanceLocation
		if len(extra) > 0 {
			loc = append(slices.Clip(loc), extra...)
		}
		*out = append(*out, leaf{loc: loc, msg: msg})
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		if len(e.Causes) == 0 {
			at("is not valid")
		}
		for _, c := range e.Causes {
			collect(c, out)
		}
	case *kind.AnyOf:
		at(alternatives(e))
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			at(alternatives(e))
		} else {
			at(fmt.Sprintf("must match exactly one alternative, but matches %d and %d", k.Subschemas[0], k.Subschemas[1]))
		}
	case *kind.Required:
		for _, m := range k.Missing {
			at("required", m)
		}
	case *kind.DependentRequired:
		for _, m := range k.Missing {
			at(fmt.Sprintf("required when %s is present", k.Prop), m)
		}
	case *kind.Dependency:
		for _, m := range k.Missing {
			at(fmt.Sprintf("required when %s is present", k.Prop), m)
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			at("unknown property", p)
		}
	case *kind.PropertyNames:
		at("is not an allowed property name", k.Property)
	default:
		at(wording(e.ErrorKind))
	}
}

// alternatives words a failed anyOf/oneOf. When every alternative fails
// for a single reason at the same place (the common "string or null"
// shapes), those reasons are joined; otherwise it says no alternative
// matched.
func alternatives(e *jsonschema.ValidationError) string {
	var types []string
	var reasons []string
	simple := len(e.Causes) > 0
	for _, c := range e.Causes {
		var ls []leaf
		collect(c, &ls)
		if len(ls) != 1 || !slices.Equal(ls[0].loc, e.InstanceLocation) {
			simple = false
			break
		}
		if t, ok := leafKind(c).(*kind.Type); ok {
			types = append(types, t.Want...)
		} else {
			reasons = append(reasons, ls[0].msg)
		}
	}
	if !simple {
		return "does not match any of the allowed alternatives"
	}
	if len(reasons) == 0 {
		return typeMessage(&kind.Type{Got: gotType(e), Want: types})
	}
	slices.Sort(reasons)
	reasons = slices.Compact(reasons)
	if len(types) > 0 {
		reasons = append([]string{typeMessage(&kind.Type{Want: types})}, reasons...)
	}
	return strings.Join(reasons, ", or ")
}

// leafKind is the kind of the single leaf under e, looking through groups.
func leafKind(e *jsonschema.ValidationError) jsonschema.ErrorKind {
	for len(e.Causes) == 1 {
		e = e.Causes[0]
	}
	return e.ErrorKind
}

// gotType is the JSON type of the value at e, when an alternative's type
// error recorded it.
func gotType(e *jsonschema.ValidationError) string {
	for _, c := range e.Causes {
		if t, ok := leafKind(c).(*kind.Type); ok {
			return t.Got
		}
	}
	return ""
}

// wording is a short message for one kind, in the words of a form's
// validation rather than the specification's.
func wording(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return typeMessage(k)
	case *kind.Format:
		return "must be " + formatName(k.Want)
	case *kind.Enum:
		return "must be one of " + values(k.Want)
	case *kind.Const:
		if s := compact(k.Want); len(s) <= 64 {
			return "must be " + s
		}
		return "must equal the value the schema gives"
	case *kind.MinItems:
		return "must have at least " + plural(k.Want, "item")
	case *kind.MaxItems:
		return "must have at most " + plural(k.Want, "item")
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return "must be at least " + plural(k.Want, "character") + " long"
	case *kind.MaxLength:
		return "must be at most " + plural(k.Want, "character") + " long"
	case *kind.MinProperties:
		return "must have at least " + plural(k.Want, "property")
	case *kind.MaxProperties:
		return "must have at most " + plural(k.Want, "property")
	case *kind.Minimum:
		return "must be >= " + rat(k.Want)
	case *kind.Maximum:
		return "must be <= " + rat(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + rat(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + rat(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + rat(k.Want)
	case *kind.Pattern:
		return "must match the pattern " + k.Want
	case *kind.UniqueItems:
		return fmt.Sprintf("must not contain duplicates (items %d and %d are equal)", k.Duplicates[0], k.Duplicates[1])
	case *kind.Contains:
		return "must contain a matching item"
	case *kind.MinContains:
		return "must contain at least " + plural(k.Want, "matching item")
	case *kind.MaxContains:
		return "must contain at most " + plural(k.Want, "matching item")
	case *kind.AdditionalItems:
		return "has " + plural(k.Count, "item") + " too many"
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "must not match the schema under \"not\""
	case *kind.RefCycle:
		return "cannot be checked: the schema's $refs form a cycle"
	}
	return k.LocalizedString(printer)
}

var typeNames = map[string]string{
	"string": "a string", "number": "a number", "integer": "an integer", "boolean": "a boolean",
	"object": "an object", "array": "an array", "null": "null",
}

func typeName(t string) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return t
}

// typeMessage: "must be a string, not a number"; "must be an integer" for
// 1.5 (saying "not a number" of a number would puzzle).
func typeMessage(k *kind.Type) string {
	var want []string
	for _, w := range k.Want {
		if n := typeName(w); !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	// "a string or null" reads better than "null or a string".
	if i := slices.Index(want, "null"); i >= 0 && i < len(want)-1 {
		want = append(slices.Delete(want, i, i+1), "null")
	}
	msg := "must be " + strings.Join(want, " or ")
	if k.Got == "" || (k.Got == "number" && slices.Contains(k.Want, "integer")) {
		return msg
	}
	return msg + ", not " + typeName(k.Got)
}

var formatNames = map[string]string{
	"uuid":                  "a UUID",
	"email":                 "an email address",
	"idn-email":             "an email address",
	"date-time":             "an RFC 3339 date-time",
	"date":                  "a date (YYYY-MM-DD)",
	"time":                  "an RFC 3339 time",
	"duration":              "an ISO 8601 duration",
	"period":                "an ISO 8601 period",
	"uri":                   "an absolute URI",
	"iri":                   "an absolute IRI",
	"uri-reference":         "a URI reference",
	"iri-reference":         "an IRI reference",
	"uri-template":          "a URI template",
	"hostname":              "a host name",
	"ipv4":                  "an IPv4 address",
	"ipv6":                  "an IPv6 address",
	"json-pointer":          "a JSON pointer",
	"relative-json-pointer": "a relative JSON pointer",
	"regex":                 "a regular expression",
	"semver":                "a semantic version",
}

func formatName(f string) string {
	if n, ok := formatNames[f]; ok {
		return n
	}
	return "a valid " + f
}

// values lists enum values as JSON, the first ten.
func values(vs []any) string {
	var parts []string
	for i, v := range vs {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("... (%d in all)", len(vs)))
			break
		}
		parts = append(parts, compact(v))
	}
	return strings.Join(parts, ", ")
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// identRE is a key written after a dot; others are written ["like this"].
var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// jsPath writes a location as in JavaScript: items[0].quantity,
// headers["content-type"]. Walking doc tells an array index from an
// object key of digits.
func jsPath(doc any, loc []string) string {
	var b strings.Builder
	cur := doc
	for _, tok := range loc {
		if arr, ok := cur.([]any); ok {
			b.WriteString("[" + tok + "]")
			cur = nil
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(arr) {
				cur = arr[i]
			}
			continue
		}
		if obj, ok := cur.(map[string]any); ok {
			cur = obj[tok]
		} else {
			cur = nil
		}
		switch {
		case !identRE.MatchString(tok):
			b.WriteString("[" + compact(tok) + "]")
		case b.Len() > 0:
			b.WriteString("." + tok)
		default:
			b.WriteString(tok)
		}
	}
	return b.String()
}

// jsonPointer writes a location in a schema as a JSON pointer (RFC 6901),
// "(root)" for the schema itself.
func jsonPointer(loc []string) string {
	if len(loc) == 0 {
		return "(root)"
	}
	var b strings.Builder
	for _, tok := range loc {
		b.WriteString("/")
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
