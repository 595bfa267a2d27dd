package dataplane

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestPushRestartsAGoneDataPlane: a push that finds no data plane starts
// one itself instead of waiting out its retries for the watch, which
// needs the push lock to restart it (before, a data plane that died
// during a push stayed down for 30 seconds and the push failed). The
// watch is not running here, so only the push can restart it.
func TestPushRestartsAGoneDataPlane(t *testing.T) {
	dir := t.TempDir()
	p := &InProcess{DataDir: dir, Logger: slog.New(slog.DiscardHandler)}
	t.Cleanup(p.Shutdown)
	if _, err := p.Start(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
	c := &Conn{
		client: NewClient(filepath.Join(dir, SocketName)), launcher: p, dataDir: dir,
		log: slog.New(slog.DiscardHandler), done: make(chan struct{}), changes: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	t.Cleanup(c.cancel)
	listen := freeAddr(t)
	if err := c.Apply(t.Context(), config(listen, backend(t, "one"))); err != nil {
		t.Fatal(err)
	}

	p.Shutdown() // the data plane is gone
	// The copies of its sockets Conn holds would keep the port: a new
	// process gets them, but InProcess binds its own.
	c.dropSockets()
	waitFree(t, listen)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Apply(ctx, config(listen, backend(t, "two"))); err != nil {
		t.Fatalf("push after the data plane died: %v", err)
	}
	if got := body(t, "http://"+listen+"/"); got != "two" {
		t.Errorf("the restarted data plane answers %q, want two", got)
	}

	c.cancel() // closed: a push restarts nothing
	p.Shutdown()
	ctx, cancel = context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := c.Apply(ctx, config(listen, backend(t, "three"))); err == nil {
		t.Error("a push after Close restarted the data plane")
	}
}

// waitFree waits until addr can be bound again, as it can once a data
// plane process has exited; one that ran in this process may close its
// listener a moment after it stopped.
func waitFree(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still in use after the data plane stopped: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
