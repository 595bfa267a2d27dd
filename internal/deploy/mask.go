package deploy

import (
	"bytes"
	"io"
	"slices"
)

// maskedValue replaces a secret value in a one-off task's output.
const maskedValue = "********"

// minMasked is the shortest secret value masked in output: shorter ones
// would mask ordinary text (a secret "1" every digit 1), so they are not.
const minMasked = 4

// masker writes to w with every secret value replaced by maskedValue,
// also one split across writes: it holds back the end of a write that
// may begin a secret until the next write or Close shows it does not.
type masker struct {
	w       io.Writer
	secrets [][]byte // longest first
	held    []byte
}

func newMasker(w io.Writer, secrets []string) *masker {
	m := &masker{w: w}
	for _, s := range secrets {
		if len(s) >= minMasked {
			m.secrets = append(m.secrets, []byte(s))
		}
	}
	slices.SortFunc(m.secrets, func(a, b []byte) int { return len(b) - len(a) })
	return m
}

func (m *masker) Write(p []byte) (int, error) {
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	buf := append(m.held, p...)
	for _, s := range m.secrets {
		buf = bytes.ReplaceAll(buf, s, []byte(maskedValue))
	}
	keep := m.prefixAtEnd(buf)
	m.held = append([]byte(nil), buf[len(buf)-keep:]...)
	if _, err := m.w.Write(buf[:len(buf)-keep]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// prefixAtEnd returns the length of the longest end of b that is the
// start of a secret.
func (m *masker) prefixAtEnd(b []byte) int {
	longest := 0
	for _, s := range m.secrets {
		for n := min(len(s)-1, len(b)); n > longest; n-- {
			if bytes.HasSuffix(b, s[:n]) {
				longest = n
				break
			}
		}
	}
	return longest
}

// Close writes what was held back.
func (m *masker) Close() error {
	if len(m.held) == 0 {
		return nil
	}
	_, err := m.w.Write(m.held)
	m.held = nil
	return err
}
