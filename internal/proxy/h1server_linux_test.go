package proxy

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// A cancelled request aborts the target connection it waits on, and only
// that one: a late cancel of a request that has ended leaves the next
// request's connection alone, and a connection watched after its request
// was cancelled is aborted at once.
func TestCancelAbortsTheTargetConnectionOfTheRequestInFlightOnly(t *testing.T) {
	s := &h1conn{}
	s.watchTarget, s.unwatchTarget = s.watch, s.unwatch
	start := func() (context.Context, context.CancelCauseFunc) {
		ctx, cancel := context.WithCancelCause(context.Background())
		s.mu.Lock()
		s.ctx, s.cancel = ctx, cancel
		s.mu.Unlock()
		return ctx, cancel
	}
	// aborted reports whether a read of c, which has nothing to read,
	// fails at once with the deadline an abort sets.
	aborted := func(c net.Conn) bool {
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1))
			done <- err
		}()
		select {
		case err := <-done:
			return errors.Is(err, os.ErrDeadlineExceeded)
		case <-time.After(time.Second):
			c.Close()
			<-done
			return false
		}
	}

	// Request A: watched, answered, unwatched.
	ctxA, cancelA := start()
	a, _ := net.Pipe()
	stop := s.watchTarget(a)
	if !stop() {
		t.Fatal("stop reported an abort, with no cancel")
	}

	// Request B waits on b; A's late cancel must not touch it.
	ctxB, cancelB := start()
	b, peer := net.Pipe()
	stop = s.watchTarget(b)
	s.cancelRequest(ctxA, cancelA, errors.New("late"))
	if ctxB.Err() != nil {
		t.Fatal("a late cancel of request A cancelled request B")
	}
	go peer.Write([]byte("x"))
	if _, err := b.Read(make([]byte, 1)); err != nil {
		t.Fatalf("B's target connection after A's late cancel: %v", err)
	}

	// B's own cancel aborts b, and stop says so: b is not reused.
	s.cancelRequest(ctxB, cancelB, nil)
	if !aborted(b) {
		t.Error("B's cancel did not abort its target connection")
	}
	if stop() {
		t.Error("stop after the cancel reported no abort")
	}

	// A connection watched after its request was cancelled is aborted at once.
	_, cancelC := start()
	cancelC(nil)
	c, _ := net.Pipe()
	stop = s.watchTarget(c)
	if stop() {
		t.Error("stop reported no abort for a connection watched after the cancel")
	}
	if !aborted(c) {
		t.Error("a connection watched after its request was cancelled was not aborted")
	}
}
