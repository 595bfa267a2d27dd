package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsEchoProxy is a proxy with one plain listener in front of a WebSocket
// echo target, and that listener.
func wsEchoProxy(t *testing.T) (*Proxy, *listener) {
	t.Helper()
	echo := newWSEchoBackend(t)
	p := startProxy(t, oneListener(forward("app", 1), group("app", echo.addr)))
	l := p.listeners["web"]
	if l.relays == nil {
		t.Fatal("the plain listener does not relay upgraded connections itself")
	}
	return p, l
}

func TestIdleWebSocketHoldsNoGoroutine(t *testing.T) {
	p, l := wsEchoProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+p.Addr("web").String()+"/ws", nil)
	if err != nil {
		t.Fatalf("dialing a WebSocket through the proxy: %v", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(-1)
	echo := func(msg []byte) {
		t.Helper()
		if err := conn.Write(ctx, websocket.MessageBinary, msg); err != nil {
			t.Fatalf("writing: %v", err)
		}
		_, got, err := conn.Read(ctx)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
	echo([]byte("hello"))
	// Both directions wait in the poller: no goroutine copies for it.
	eventually(t, "both halves of the relay parked", func() bool { return l.relays.poll.count() == 2 })
	if n := l.inFlight.Load(); n != 1 {
		t.Errorf("the listener counts %d upgraded connections or requests, want 1", n)
	}
	if s := onlyTarget(t, p); s.InFlight != 1 {
		t.Errorf("the target counts %d in flight while the WebSocket is open, want 1", s.InFlight)
	}
	big := make([]byte, 1<<20) // many reads and writes of the relay's buffer
	rand.Read(big)
	echo(big)
	echo([]byte("after"))
	eventually(t, "both halves of the relay parked again", func() bool { return l.relays.poll.count() == 2 })

	conn.Close(websocket.StatusNormalClosure, "")
	eventually(t, "the relay to end", func() bool {
		return l.relays.poll.count() == 0 && l.inFlight.Load() == 0 && onlyTarget(t, p).InFlight == 0
	})
}

func onlyTarget(t *testing.T, p *Proxy) TargetState {
	t.Helper()
	ts := p.Targets()
	if len(ts) != 1 {
		t.Fatalf("targets: %+v", ts)
	}
	return ts[0]
}

// upgradeTarget is a raw target that answers an upgrade request with a
// 101 to protocol proto, followed at once by greeting, then echoes.
func upgradeTarget(t *testing.T, proto, greeting string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "+proto+"\r\nConnection: Upgrade\r\n\r\n"+greeting)
				io.Copy(c, br)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestUpgradeCarriesEarlyBytesBothWays(t *testing.T) {
	target := upgradeTarget(t, "echo", "hello from the target;")
	p := startProxy(t, oneListener(forward("app", 1), group("app", target)))
	upgradeToEcho(dialRaw(t, p), "hello from the target;")
}

// upgradeToEcho upgrades rc to an upgradeTarget's echo protocol, sending
// its first bytes in the same write as its request, and checks that they
// come back after the target's greeting, and that the echo still works
// after a pause long enough to park the connection.
func upgradeToEcho(rc *rawClient, greeting string) {
	rc.t.Helper()
	rc.send("GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nping;")
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		rc.fatalf("upgrade answer: %v %v", resp, err)
	}
	want := greeting + "ping;"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(rc.br, got); err != nil || string(got) != want {
		rc.fatalf("after the 101: %q, %v; want %q", got, err, want)
	}
	time.Sleep(3 * parkAfter)
	rc.send("pong")
	if _, err := io.ReadFull(rc.br, got[:4]); err != nil || string(got[:4]) != "pong" {
		rc.fatalf("echo after a pause: %q, %v", got[:4], err)
	}
}

func TestUpgradeToAnotherProtocolIsRefused(t *testing.T) {
	target := upgradeTarget(t, "something-else", "")
	p := startProxy(t, oneListener(forward("app", 1), group("app", target)))
	rc := dialRaw(t, p)
	rc.send("GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	code, body := rc.response("GET")
	if code != http.StatusBadGateway || !strings.Contains(body, "switched to something-else") {
		t.Fatalf("got %d %q, want 502", code, body)
	}
}

func TestUpgradeRefusedByTheTargetIsAnsweredAsIs(t *testing.T) {
	p, _ := parkingProxy(t) // its target does not upgrade
	rc := dialRaw(t, p)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	rc.expect("GET", "blue")
	rc.send(getRoot) // the connection serves on
	rc.expect("GET", "blue")
}

func TestShutdownEndsRelays(t *testing.T) {
	p, l := wsEchoProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+p.Addr("web").String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	eventually(t, "the relay parked", func() bool { return l.relays.poll.count() == 2 })
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelClose()
	p.Close(closeCtx) // the WebSocket outlasts the grace period
	if _, _, err := conn.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("the WebSocket is still open after the proxy closed (read: %v)", err)
	}
}

// A side that ends its stream half-closes the relay: the other
// direction goes on, as a tunnel whose target answers only after the
// client's end needs.
func TestUpgradeKeepsAHalfClosedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: tunnel\r\nConnection: Upgrade\r\n\r\n")
		got, _ := io.ReadAll(br) // until the client's end
		io.WriteString(c, "got:"+string(got))
	}()
	p := startProxy(t, oneListener(forward("app", 1), group("app", ln.Addr().String())))
	rc := dialRaw(t, p)
	rc.send("GET /t HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: tunnel\r\n\r\n")
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answer: %v %v", resp, err)
	}
	rc.send("hello")
	time.Sleep(3 * parkAfter)
	if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc.br)
	if err != nil || string(rest) != "got:hello" {
		t.Fatalf("after the client's end: %q, %v; want the target's answer", rest, err)
	}
}
