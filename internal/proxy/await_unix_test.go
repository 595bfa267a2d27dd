//go:build unix

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// answerPair returns a connection with an answerWriter on its socket,
// and the peer it talks to.
func answerPair(t *testing.T) (c net.Conn, w *answerWriter, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	w = new(answerWriter)
	w.setRaw(raw)
	return c, w, peer
}

type writeResult struct {
	n   int
	err error
}

func writeAsync(w *answerWriter, c net.Conn, p []byte) <-chan writeResult {
	done := make(chan writeResult, 1)
	go func() {
		n, err := w.write(c, p)
		done <- writeResult{n, err}
	}()
	return done
}

func TestAnswerWriterReturnsOnceTheAnswerCanBeRead(t *testing.T) {
	c, w, peer := answerPair(t)
	for i := range 3 { // the same writer, request after request
		done := writeAsync(w, c, []byte("ping"))
		if got := readN(t, peer, 4); got != "ping" {
			t.Fatalf("peer got %q", got)
		}
		select {
		case r := <-done:
			t.Fatalf("round %d: write returned (%d, %v) before the peer answered", i, r.n, r.err)
		case <-time.After(50 * time.Millisecond):
		}
		peer.Write([]byte("pong"))
		if r := <-done; r.n != 4 || r.err != nil {
			t.Fatalf("round %d: write = (%d, %v), want (4, nil)", i, r.n, r.err)
		}
		if got := readN(t, c, 4); got != "pong" {
			t.Fatalf("round %d: read %q after the wait, want the answer", i, got)
		}
	}
}

func TestAnswerWriterEndsItsWaitAtTheReadDeadline(t *testing.T) {
	c, w, peer := answerPair(t)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := w.write(c, []byte("ping")); n != 4 || err != nil {
		t.Fatalf("write = (%d, %v), want (4, nil): the wait's end is the read's to report", n, err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the deadline: %v, want a timeout", err)
	}
	if got := readN(t, peer, 4); got != "ping" {
		t.Fatalf("peer got %q", got)
	}

	// With the deadline passed before it begins, it writes all the same.
	if n, err := w.write(c, []byte("again")); n != 5 || err != nil {
		t.Fatalf("write past the deadline = (%d, %v), want (5, nil)", n, err)
	}
	if got := readN(t, peer, 5); got != "again" {
		t.Fatalf("peer got %q", got)
	}
}

func TestAnswerWriterWritesWhatTheSocketCannotTakeAtOnce(t *testing.T) {
	c, w, peer := answerPair(t)
	p := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB, beyond any socket buffer
	done := writeAsync(w, c, p)
	if got := readN(t, peer, len(p)); got != string(p) {
		t.Fatal("the peer got other bytes than written")
	}
	peer.Write([]byte("ok"))
	if r := <-done; r.n != len(p) || r.err != nil {
		t.Fatalf("write = (%d, %v), want (%d, nil)", r.n, r.err, len(p))
	}
	if got := readN(t, c, 2); got != "ok" {
		t.Fatalf("read %q, want the answer", got)
	}
}

func TestAnswerWriterWakesWhenThePeerCloses(t *testing.T) {
	c, w, peer := answerPair(t)
	done := writeAsync(w, c, []byte("ping"))
	readN(t, peer, 4)
	peer.Close()
	if r := <-done; r.n != 4 || r.err != nil {
		t.Fatalf("write = (%d, %v), want (4, nil)", r.n, r.err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
}

func TestAnswerWriterReportsAConnectionClosedUnderIt(t *testing.T) {
	c, w, _ := answerPair(t)
	c.Close()
	if _, err := w.write(c, []byte("ping")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed connection: %v, want net.ErrClosed", err)
	}
}
