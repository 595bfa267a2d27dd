package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// Glob is a compiled trigger-filter pattern with CodePipeline's glob
// rules (those of Java's PathMatcher, which CodePipeline documents):
//
//   - *  zero or more characters within a path component (not /)
//   - ** zero or more characters across components (/ too)
//   - ?  one character, not /
//   - [abc], [a-z], [!a-z]  one character of (or not of) a set, never /;
//     inside brackets *, ? and \ are themselves, and - first (or first
//     after !) is itself
//   - {a,b}  any of the comma-separated subpatterns; groups do not nest
//   - \x  the character x itself
//
// A pattern matches the whole name or path: "feature/*" matches
// "feature/x" but not "feature/x/y" ("feature/**" does), and
// "**/README.md" needs a / before README.md, so it does not match the
// root's README.md ("{README.md,**/README.md}" matches both).
type Glob struct {
	pattern string
	re      *regexp.Regexp
}

// CompileGlob compiles a pattern, or says what is wrong with it.
func CompileGlob(pattern string) (Glob, error) {
	if pattern == "" {
		return Glob{}, fmt.Errorf("empty pattern")
	}
	var b strings.Builder
	b.WriteString(`\A`)
	inGroup := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(`.*`)
				i++
			} else {
				b.WriteString(`[^/]*`)
			}
		case '?':
			b.WriteString(`[^/]`)
		case '\\':
			if i+1 == len(pattern) {
				return Glob{}, fmt.Errorf("pattern %q: \\ at the end escapes nothing", pattern)
			}
			i++
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		case '[':
			end, class, err := bracket(pattern, i)
			if err != nil {
				return Glob{}, err
			}
			b.WriteString(class)
			i = end
		case '{':
			if inGroup {
				return Glob{}, fmt.Errorf("pattern %q: groups {...} cannot be nested", pattern)
			}
			inGroup = true
			b.WriteString(`(?:`)
		case '}':
			if !inGroup {
				return Glob{}, fmt.Errorf("pattern %q: } without {", pattern)
			}
			inGroup = false
			b.WriteString(`)`)
		case ',':
			if inGroup {
				b.WriteString(`|`)
			} else {
				b.WriteString(`,`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	if inGroup {
		return Glob{}, fmt.Errorf("pattern %q: { without }", pattern)
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Glob{}, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return Glob{pattern: pattern, re: re}, nil
}

// bracket translates the bracket expression starting at pattern[start]
// ('[') into a regexp class that never matches /, and returns the index
// of its closing ']'. A ] right after [ or [! is itself.
func bracket(pattern string, start int) (end int, class string, err error) {
	var b strings.Builder
	b.WriteString(`[`)
	i := start + 1
	if i < len(pattern) && pattern[i] == '!' {
		b.WriteString(`^/`)
		i++
	}
	first := i
	for ; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == ']' && i > first:
			return i, b.String() + `]`, nil
		case c == '/':
			return 0, "", fmt.Errorf("pattern %q: / cannot be in a bracket expression", pattern)
		case c >= 0x80:
			return 0, "", fmt.Errorf("pattern %q: a bracket expression holds ASCII characters only", pattern)
		case c == '-' && i > first && i+1 < len(pattern) && pattern[i+1] != ']':
			// A range: its ends are the characters either side.
			if lo, hi := pattern[i-1], pattern[i+1]; lo <= '/' && '/' <= hi || hi < lo {
				return 0, "", fmt.Errorf("pattern %q: range %c-%c is empty or spans /", pattern, lo, hi)
			}
			b.WriteByte('-')
		default:
			b.WriteString(`\x{` + fmt.Sprintf("%x", c) + `}`)
		}
	}
	return 0, "", fmt.Errorf("pattern %q: [ without ]", pattern)
}

// Match reports whether name (a branch, a tag, or a file's path relative
// to the repository's root) matches the whole pattern.
func (g Glob) Match(name string) bool { return g.re != nil && g.re.MatchString(name) }

// String returns the pattern as written.
func (g Glob) String() string { return g.pattern }
