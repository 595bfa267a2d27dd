package build

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// logger writes CodeBuild-style container lines
// ("[Container] 2026/11/24 05:00:00 Entering phase BUILD") and the
// commands' output to one writer, with secret values masked. Both are
// written a whole line at a time, so a secret is never split between two
// writes. The shell's output reader and the build write concurrently,
// hence the lock.
type logger struct {
	mu   sync.Mutex
	w    io.Writer
	mask *strings.Replacer // nil when there are no secrets
}

func (l *logger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mask == nil {
		return l.w.Write(p)
	}
	if _, err := l.mask.WriteString(l.w, string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// printf writes one "[Container] <time> ..." line.
func (l *logger) printf(format string, args ...any) {
	line := "[Container] " + time.Now().Format("2006/01/02 15:04:05") + " " + fmt.Sprintf(format, args...) + "\n"
	io.WriteString(l, line)
}
