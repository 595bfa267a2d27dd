package proxy

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The transport may read a request body after the exchange is over (an
// HTTP/2 target answered before the body ended). The client connection's
// read deadline must then be left alone: the ResponseWriter it is set
// through is gone, and net/http's HTTP/2 server panics on it (seen with
// 20,000-byte gRPC calls from 200 workers, which took the proxy down).
func TestCountingBodySetsNoDeadlineAfterTheExchange(t *testing.T) {
	var deadlines int
	b := &countingBody{
		rc:          io.NopCloser(strings.NewReader("0123456789")),
		timeout:     time.Minute,
		setDeadline: func(time.Time) error { deadlines++; return nil },
	}
	buf := make([]byte, 4)
	if n, err := b.Read(buf); n != 4 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if deadlines != 1 {
		t.Fatalf("%d deadlines set by a Read during the exchange, want 1", deadlines)
	}
	b.end()
	for {
		if _, err := b.Read(buf); err != nil {
			break
		}
	}
	if deadlines != 1 {
		t.Errorf("%d deadlines set in all, want none after the exchange ended", deadlines)
	}
	if got := b.n.Load(); got != 10 {
		t.Errorf("%d body bytes counted, want 10: reading goes on after the exchange", got)
	}
}
