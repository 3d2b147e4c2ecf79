package rules

import (
	"errors"
	"fmt"
	"strings"
)

// wildcard is a compiled wildcard expression: literal parts that were
// separated by unescaped '*'. parts[0] must start the string, the last part
// must end it, the ones between must appear in order.
type wildcard struct {
	parts []string
}

// compileWildcard parses a wildcard expression: '*' matches any run of
// characters, "\*" is a literal star and "\\" a literal backslash.
func compileWildcard(expr string) (*wildcard, error) {
	var parts []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch c {
		case '\\':
			if i+1 == len(expr) {
				return nil, errors.New("expression must not end with a lone backslash")
			}
			i++
			if expr[i] != '*' && expr[i] != '\\' {
				return nil, fmt.Errorf("invalid escape \\%c at offset %d (only \\* and \\\\)", expr[i], i-1)
			}
			cur.WriteByte(expr[i])
			prevStar = false
		case '*':
			if prevStar {
				return nil, fmt.Errorf("consecutive wildcard characters at offset %d", i)
			}
			parts = append(parts, cur.String())
			cur.Reset()
			prevStar = true
		default:
			cur.WriteByte(c)
			prevStar = false
		}
	}
	parts = append(parts, cur.String())
	if len(parts)-1 > MaxWildcards {
		return nil, fmt.Errorf("more than %d wildcard characters", MaxWildcards)
	}
	return &wildcard{parts: parts}, nil
}

// match reports whether s matches the expression. Leftmost placement of each
// middle part is always a valid choice, so no backtracking is needed.
func (w *wildcard) match(s string) bool {
	p := w.parts
	if len(p) == 1 {
		return s == p[0]
	}
	if !strings.HasPrefix(s, p[0]) {
		return false
	}
	s = s[len(p[0]):]
	for _, mid := range p[1 : len(p)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, p[len(p)-1])
}

// literalPrefix is the part every match starts with.
func (w *wildcard) literalPrefix() string { return w.parts[0] }
