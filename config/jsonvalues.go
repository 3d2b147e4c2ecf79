package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Patterns and inline schemas are JSON documents written in YAML. Decoded
// the YAML way, their scalars change type and value silently: 2026-01-01
// becomes a timestamp, 01234 the octal 668, 0x1F 31. So fields of type any
// (Rule.Pattern, Schema.Schema) are read from the YAML nodes instead, each
// scalar as JSON would read what is written: a date stays a string, and a
// number must be spelt as JSON spells it. The other keys are routerd's own
// settings, whose types the Config structs fix.

// jsonNumberRE is a number as JSON writes it (RFC 8259).
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// jsonFields walks the YAML node n alongside tree, its decoded value, as
// the fields of type t hold it, and replaces the value of every field of
// type any with jsonValue's reading of its node.
func jsonFields(t reflect.Type, n *yaml.Node, tree any, path string) Errors {
	n = resolveAlias(n)
	var errs Errors
	switch t.Kind() {
	case reflect.Struct:
		m, ok := tree.(map[string]any)
		if !ok || n.Kind != yaml.MappingNode {
			return nil // a type error, which decoding reports
		}
		fields, _ := fieldTypes(t)
		for _, kv := range mappingPairs(n) {
			k, v := kv[0].Value, kv[1]
			ft, ok := fields[strings.ToLower(k)]
			if _, inTree := m[k]; !ok || !inTree {
				continue
			}
			if ft.Kind() == reflect.Interface {
				val, verrs := jsonValue(v, joinPath(path, k))
				m[k] = val
				errs = append(errs, verrs...)
				continue
			}
			errs = append(errs, jsonFields(ft, v, m[k], joinPath(path, k))...)
		}
	case reflect.Map:
		m, ok := tree.(map[string]any)
		if !ok || n.Kind != yaml.MappingNode {
			return nil
		}
		for _, kv := range mappingPairs(n) {
			if e, ok := m[kv[0].Value]; ok {
				errs = append(errs, jsonFields(t.Elem(), kv[1], e, joinPath(path, kv[0].Value))...)
			}
		}
	case reflect.Slice:
		s, ok := tree.([]any)
		if !ok || n.Kind != yaml.SequenceNode || len(s) != len(n.Content) {
			return nil
		}
		for i, e := range n.Content {
			errs = append(errs, jsonFields(t.Elem(), e, s[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return errs
}

// jsonValue reads a YAML node as the JSON value it spells: mappings,
// sequences, strings, json.Number (the literal as written), bools and nil.
// A number YAML accepts but JSON does not (01234, 0x1F, 1_000, .5, .inf)
// is refused at its key path rather than guessed at.
func jsonValue(n *yaml.Node, path string) (any, Errors) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		var errs Errors
		for _, kv := range mappingPairs(n) {
			k := kv[0]
			if k.Kind != yaml.ScalarNode {
				errs = append(errs, &Error{Path: path, Reason: fmt.Sprintf("line %d: a key must be a plain string, not a list or mapping", k.Line)})
				continue
			}
			v, verrs := jsonValue(kv[1], joinPath(path, k.Value))
			m[k.Value] = v
			errs = append(errs, verrs...)
		}
		return m, errs
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		var errs Errors
		for i, e := range n.Content {
			v, verrs := jsonValue(e, fmt.Sprintf("%s[%d]", path, i))
			s[i] = v
			errs = append(errs, verrs...)
		}
		return s, errs
	}
	fail := func(format string, args ...any) (any, Errors) {
		return nil, Errors{{Path: path, Reason: fmt.Sprintf(format, args...)}}
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fail("%v", err)
		}
		return b, nil
	case "!!int", "!!float":
		if jsonNumberRE.MatchString(n.Value) {
			return json.Number(n.Value), nil
		}
		var yamlValue any
		n.Decode(&yamlValue)
		return fail("%s is not a number as JSON writes it (YAML reads it as %v); quote it (%q) to mean the string, or write the number as JSON does",
			n.Value, yamlValue, n.Value)
	case "!!str":
		if n.Style == 0 && jsonNumberRE.MatchString(n.Value) {
			return json.Number(n.Value), nil // a number YAML cannot hold, e.g. 1e400: JSON's to judge
		}
		return n.Value, nil
	case "!!timestamp":
		return n.Value, nil // 2026-01-01 as written, not a time
	}
	return fail("line %d: YAML tag %s has no meaning in JSON", n.Line, n.Tag)
}

// mappingPairs returns the key and value nodes of a mapping, with the
// entries of merge keys (<<: *base) for the keys it does not set itself.
func mappingPairs(n *yaml.Node) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	set := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() != "!!merge" {
			own = append(own, [2]*yaml.Node{k, v})
			set[k.Value] = true
			continue
		}
		v = resolveAlias(v)
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src = resolveAlias(src); src.Kind == yaml.MappingNode {
				merged = append(merged, mappingPairs(src)...)
			}
		}
	}
	for _, kv := range merged {
		if !set[kv[0].Value] {
			own = append(own, kv)
			set[kv[0].Value] = true
		}
	}
	return own
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
