package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cutover/cutover/internal/testcert"
)

// readN reads exactly n bytes from c.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return string(b)
}

func TestBatchConnSendsWhatQueuedWhileWritingInOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		near, far := net.Pipe()
		defer far.Close()
		b := newBatchConn(near, targetMaxBatch, targetSpare)
		defer b.Close()

		b.Write([]byte("HEADERS"))
		synctest.Wait() // the writer is blocked writing HEADERS: net.Pipe has no buffer
		for _, frame := range []string{"DATA", "END"} {
			if n, err := b.Write([]byte(frame)); n != len(frame) || err != nil {
				t.Fatalf("Write(%q) = %d, %v while the writer is busy; want it queued", frame, n, err)
			}
		}
		if got := readN(t, far, 7); got != "HEADERS" {
			t.Fatalf("first write = %q, want HEADERS", got)
		}
		// One pipe write carries everything queued meanwhile: a read with
		// room for more returns both frames at once.
		buf := make([]byte, 64)
		n, err := far.Read(buf)
		if got := string(buf[:n]); err != nil || got != "DATAEND" {
			t.Fatalf("second write = %q, %v; want DATAEND in one write", got, err)
		}
	})
}

func TestBatchConnKeepsOrderAcrossWriters(t *testing.T) {
	near, far := net.Pipe()
	b := newBatchConn(near, targetMaxBatch, targetSpare)
	var want bytes.Buffer
	for i := range 1000 {
		frame := []byte{byte(i), byte(i >> 8), 'x'}
		want.Write(frame)
		if _, err := b.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(far)
		got <- b
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want.Bytes()) {
		t.Fatalf("read %d bytes, want the %d written, in order", len(g), want.Len())
	}
}

func TestBatchConnCloseSendsWhatIsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		near, far := net.Pipe()
		b := newBatchConn(near, targetMaxBatch, targetSpare)
		b.Write([]byte("one"))
		synctest.Wait()
		b.Write([]byte("GOAWAY")) // queued while "one" is being written
		closed := make(chan error)
		go func() { closed <- b.Close() }()
		got, _ := io.ReadAll(far)
		if string(got) != "oneGOAWAY" {
			t.Errorf("the peer read %q before the close, want oneGOAWAY", got)
		}
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := b.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v, want net.ErrClosed", err)
		}
	})
}

func TestBatchConnWriteFailsAfterAFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		near, far := net.Pipe()
		b := newBatchConn(near, targetMaxBatch, targetSpare)
		defer b.Close()
		far.Close() // the target went away
		b.Write([]byte("HEADERS"))
		synctest.Wait() // the writer tried and failed
		if _, err := b.Write([]byte("DATA")); err == nil {
			t.Fatal("Write after the connection failed succeeded")
		}
		if _, err := near.Read(make([]byte, 1)); err == nil {
			t.Fatal("the connection is still open for reading after a failed write; the HTTP/2 client would wait for a response")
		}
	})
}

func TestBatchConnWriteWaitsWhenTheQueueIsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		near, far := net.Pipe()
		defer far.Close()
		b := newBatchConn(near, targetMaxBatch, targetSpare)
		defer b.Close()
		b.Write([]byte("x"))
		synctest.Wait() // the writer is blocked: nobody reads far
		b.Write(make([]byte, targetMaxBatch))
		done := make(chan struct{})
		go func() {
			b.Write([]byte("y"))
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatalf("Write returned with %d bytes queued and a peer that reads nothing", targetMaxBatch)
		default:
		}
		go io.Copy(io.Discard, far)
		<-done
	})
}

// bufferParker is the part of a parker a fresh parkConn uses: buffers. It
// never parks.
type bufferParker struct{}

func (bufferParker) park(*parkConn) error { return errors.New("not parking") }
func (bufferParker) forget(*parkConn)     {}
func (bufferParker) hand(*parkConn)       {}
func (bufferParker) getBuffer() *[]byte {
	b := make([]byte, parkBufferSize)
	return &b
}
func (bufferParker) putBuffer(*[]byte) {}

// TestH2cConnectionWritesAreBatched: a client connection whose first
// bytes are h2c's preface has its writes batched from then on (a Write
// returns before the peer reads); an HTTP/1.1 connection writes straight
// to the socket.
func TestH2cConnectionWritesAreBatched(t *testing.T) {
	tests := []struct {
		name    string
		first   string // what the client sends first
		batched bool
	}{
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", true},
		{"plain request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"request with a body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", false},
		{"HTTP/1.1 with PRI as method", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				near, far := net.Pipe()
				var open atomic.Int64
				c := newParkConn(near, bufferParker{}, -1, &open)
				go far.Write([]byte(tt.first))
				if _, err := c.Read(make([]byte, 64)); err != nil {
					t.Fatalf("reading the first bytes: %v", err)
				}
				wrote := make(chan struct{})
				go func() {
					c.Write([]byte("SETTINGS"))
					close(wrote)
				}()
				synctest.Wait() // nobody reads far: an unbatched Write blocks on net.Pipe
				select {
				case <-wrote:
					if !tt.batched {
						t.Error("Write returned before the peer read: batched")
					}
				default:
					if tt.batched {
						t.Error("Write waits for the peer to read: not batched")
					}
				}
				if got := readN(t, far, len("SETTINGS")); got != "SETTINGS" {
					t.Errorf("the peer read %q, want SETTINGS", got)
				}
				<-wrote
				c.Close()
				far.Close()
			})
		})
	}
}

// TestBatchConnCloseDoesNotWaitForAStuckWriter: Close returns at once;
// the writer that a peer reading nothing holds up is cut batchCloseWait
// later.
func TestBatchConnCloseDoesNotWaitForAStuckWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		near, far := net.Pipe()
		defer far.Close()
		b := newBatchConn(near, clientMaxBatch, clientSpare)
		b.Write([]byte("stuck"))
		synctest.Wait() // the writer is blocked: nobody reads far
		start := time.Now()
		b.Close()
		if waited := time.Since(start); waited != 0 {
			t.Errorf("Close waited %v for the stuck writer", waited)
		}
		// A pipe's SetReadDeadline fails once it is closed.
		synctest.Wait()
		if err := near.SetReadDeadline(time.Time{}); err != nil {
			t.Fatalf("the connection was closed under the writer at once: %v", err)
		}
		time.Sleep(batchCloseWait)
		synctest.Wait()
		if err := near.SetReadDeadline(time.Time{}); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("after batchCloseWait: the connection is open (%v)", err)
		}
	})
}

// TestClosedBatchConnStaysCountedUntilItsSocketIsClosed: a hand-over
// waits on the listener's count of open connections, so a connection
// whose last bytes are still queued after Close counts until they are
// written, or until batchCloseWait cuts it.
func TestClosedBatchConnStaysCountedUntilItsSocketIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var open atomic.Int64
		for _, peerReads := range []bool{true, false} {
			near, far := net.Pipe()
			var s batchSwitch
			s.start(near, &open)
			s.write(near, []byte("GOAWAY"))
			synctest.Wait() // the writer is blocked: nobody reads far yet
			s.close(near)
			if n := open.Load(); n != 1 {
				t.Fatalf("peer reads %v: open = %d after Close with bytes queued, want 1", peerReads, n)
			}
			if peerReads {
				if got := readN(t, far, len("GOAWAY")); got != "GOAWAY" {
					t.Fatalf("the peer read %q", got)
				}
			} else {
				time.Sleep(batchCloseWait)
			}
			synctest.Wait()
			if n := open.Load(); n != 0 {
				t.Fatalf("peer reads %v: open = %d once the socket is closed, want 0", peerReads, n)
			}
			far.Close()
		}
		// Nothing queued: Close closes at once and counts nothing.
		near, far := net.Pipe()
		defer far.Close()
		var s batchSwitch
		s.start(near, &open)
		s.close(near)
		if n := open.Load(); n != 0 {
			t.Fatalf("open = %d after closing an idle connection, want 0", n)
		}
	})
}

// TestTLSCloseSendsWhatWasQueued: a batched TLS connection's last records
// and its close_notify reach the client: crypto/tls's Close sets a write
// deadline of now after queueing the alert, which must not cut the
// writer.
func TestTLSCloseSendsWhatWasQueued(t *testing.T) {
	cert, pool := testcert.Pair(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 20 {
		served := make(chan error, 1)
		go func() {
			raw, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			under := &underTLS{Conn: raw}
			tc := tls.Server(under, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
			if err := tc.Handshake(); err != nil {
				served <- err
				return
			}
			under.start(raw, new(atomic.Int64))
			tc.Write([]byte("last frames"))
			served <- tc.Close()
		}()
		cc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(cc) // nil at a close_notify; an error at a cut
		cc.Close()
		if serr := <-served; serr != nil {
			t.Fatalf("server: %v", serr)
		}
		if string(got) != "last frames" || err != nil {
			t.Fatalf("the client read %q, %v; want \"last frames\" and a clean close", got, err)
		}
	}
}
