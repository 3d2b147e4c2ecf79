// Package jsontext holds small helpers for raw JSON text shared by the
// ingest parsers.
package jsontext

// Kind names the JSON type of a raw value for error messages: "an object",
// "an array", "a string", "a boolean", "null", "a number", or "nothing".
func Kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
