package health

import (
	"fmt"
	"strconv"
	"strings"
)

// Codes a Matcher may name, as ALB's Matcher.HttpCode allows.
const (
	minMatchCode = 200
	maxMatchCode = 499
)

// Matcher is a set of HTTP status codes that count as a passed check,
// parsed from an ALB-style matcher string. The zero Matcher matches no
// code.
type Matcher struct {
	spans []codeSpan
}

// codeSpan is an inclusive range of status codes; a single code has
// lo == hi.
type codeSpan struct{ lo, hi int }

// ParseMatcher parses a single code ("200"), a list ("200,202"), a range
// ("200-299") or a list mixing both ("200,300-399"). Spaces around codes
// are ignored. Every code must lie in 200-499.
func ParseMatcher(s string) (Matcher, error) {
	return parseMatcher(s, minMatchCode, maxMatchCode)
}

// ParseGRPCMatcher parses a matcher of gRPC status codes, 0-99, as ALB's
// GrpcCode: "0", "0,5" or "0-99".
func ParseGRPCMatcher(s string) (Matcher, error) {
	return parseMatcher(s, minGRPCCode, maxGRPCCode)
}

// parseMatcher parses s with codes that must lie in lo-hi.
func parseMatcher(s string, lo, hi int) (Matcher, error) {
	var m Matcher
	for part := range strings.SplitSeq(s, ",") {
		span, err := parseSpan(strings.TrimSpace(part), lo, hi)
		if err != nil {
			return Matcher{}, fmt.Errorf("parsing matcher %q: %w", s, err)
		}
		m.spans = append(m.spans, span)
	}
	return m, nil
}

func parseSpan(s string, min, max int) (codeSpan, error) {
	if s == "" {
		return codeSpan{}, fmt.Errorf("empty code")
	}
	loText, hiText, isRange := strings.Cut(s, "-")
	lo, err := parseCode(loText, min, max)
	if err != nil {
		return codeSpan{}, err
	}
	if !isRange {
		return codeSpan{lo, lo}, nil
	}
	hi, err := parseCode(hiText, min, max)
	if err != nil {
		return codeSpan{}, err
	}
	if lo > hi {
		return codeSpan{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return codeSpan{lo, hi}, nil
}

func parseCode(s string, min, max int) (int, error) {
	s = strings.TrimSpace(s)
	code, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a status code", s)
	}
	if code < min || code > max {
		return 0, fmt.Errorf("code %d is out of range %d-%d", code, min, max)
	}
	return code, nil
}

// Match reports whether code is one of m's codes.
func (m Matcher) Match(code int) bool {
	for _, s := range m.spans {
		if code >= s.lo && code <= s.hi {
			return true
		}
	}
	return false
}
