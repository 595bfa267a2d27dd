// Package config reads the files a cutover user writes (lb.yaml today) into
// the typed configurations of the other packages.
//
// Every error names the file, line, column and field, and says what would
// be valid, e.g.
//
//	lb.yaml:12:7: listeners[0].adress: unknown field; valid fields: name, address, tls, rules, forward
//
// A file is checked whole before anything uses it: parsing collects every
// error it finds instead of stopping at the first, so a user fixes a file
// in one pass. Parsing never touches the running system.
package config

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file.
type Error struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int
	Field  string // dotted path, e.g. "listeners[0].address"
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds how many errors one parse reports.
const maxErrors = 20

// walker walks a YAML node tree and collects errors with positions.
type walker struct {
	file string
	errs []*Error
}

func (w *walker) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: w.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	w.errs = append(w.errs, e)
}

// err returns the collected errors, ordered by position, or nil.
func (w *walker) err() error {
	if len(w.errs) == 0 {
		return nil
	}
	sort.SliceStable(w.errs, func(i, j int) bool {
		a, b := w.errs[i], w.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	errs := make([]error, 0, min(len(w.errs), maxErrors))
	for _, e := range w.errs[:min(len(w.errs), maxErrors)] {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// parseDocument parses data into the root mapping node of a one-document
// YAML file. An empty file is reported as such.
func (w *walker) parseDocument(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		w.errs = append(w.errs, yamlSyntaxError(w.file, err))
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		w.errorf(nil, "", "file is empty")
		return nil
	}
	return doc.Content[0]
}

// yamlSyntaxError turns yaml.v3's "yaml: line 3: ..." into an Error.
func yamlSyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file, Msg: "invalid YAML: " + msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if line, convErr := strconv.Atoi(num); convErr == nil {
				e.Line, e.Column = line, 1
				e.Msg = "invalid YAML:" + tail
			}
		}
	}
	return e
}

// fields checks that n is a mapping whose keys are all in allowed, and
// returns its values by key. Unknown and repeated keys are reported.
func (w *walker) fields(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, "must be a mapping with fields %s, not %s", strings.Join(allowed, ", "), kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := join(path, k.Value)
		switch {
		case !slices.Contains(allowed, k.Value):
			w.errorf(k, field, "unknown field; valid fields: %s", strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			w.errorf(k, field, "repeated field")
		default:
			out[k.Value] = v
		}
	}
	return out
}

// required reports a missing field of mapping parent.
func (w *walker) required(m map[string]*yaml.Node, parent *yaml.Node, path, key, what string) *yaml.Node {
	if v := m[key]; v != nil {
		return v
	}
	w.errorf(parent, join(path, key), "missing; %s", what)
	return nil
}

func (w *walker) str(n *yaml.Node, path string) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		w.errorf(n, path, "must be a string, not %s", kindName(n))
		return ""
	}
	return n.Value
}

func (w *walker) boolean(n *yaml.Node, path string) bool {
	n = resolve(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		w.errorf(n, path, "must be true or false, not %q", n.Value)
	}
	return b
}

// integer reads an integer in [lo, hi].
func (w *walker) integer(n *yaml.Node, path string, lo, hi int) int {
	n = resolve(n)
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		w.errorf(n, path, "must be a whole number from %d to %d, not %q", lo, hi, n.Value)
		return 0
	}
	if v < lo || v > hi {
		w.errorf(n, path, "%d is out of range; valid: %d-%d", v, lo, hi)
	}
	return v
}

// duration reads a Go duration such as "30s" or "5m" in [lo, hi].
func (w *walker) duration(n *yaml.Node, path string, lo, hi time.Duration) time.Duration {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		w.errorf(n, path, "must be a duration such as 30s or 5m, not %s", kindName(n))
		return 0
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		if _, numErr := strconv.ParseFloat(n.Value, 64); numErr == nil {
			w.errorf(n, path, "%q has no unit; write e.g. %ss", n.Value, n.Value)
		} else {
			w.errorf(n, path, "%q is not a duration; write e.g. 500ms, 30s or 5m", n.Value)
		}
		return 0
	}
	if d < lo || d > hi {
		w.errorf(n, path, "%s is out of range; valid: %s-%s", d, fmtDuration(lo), fmtDuration(hi))
	}
	return d
}

// list returns the items of a sequence node.
func (w *walker) list(n *yaml.Node, path string) []*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		w.errorf(n, path, "must be a list, not %s", kindName(n))
		return nil
	}
	return n.Content
}

// strList reads a list of strings; a single string is a list of one.
func (w *walker) strList(n *yaml.Node, path string) []string {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		return []string{w.str(n, path)}
	}
	var out []string
	for i, item := range w.list(n, path) {
		out = append(out, w.str(item, index(path, i)))
	}
	return out
}

// resolve follows aliases, so that YAML anchors work everywhere.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "this"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
