// Command idlews opens N WebSocket connections to an address (RFC 6455's
// opening handshake, checking Sec-WebSocket-Accept), sends one small
// masked text frame on each and reads its echo from bench/cmd/wsbackend,
// so the path through the proxy is really used, then holds them idle
// until it gets a signal. It prints "ready N" once all are open, for
// bench/websocket.sh to measure the proxy's memory. Connections are
// closed with a reset when it exits, so that no sockets are left in
// TIME_WAIT for the next measurement.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// acceptGUID is the key suffix of RFC 6455, section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var message = []byte("hello")

func main() {
	addr := flag.String("addr", "127.0.0.1:18303", "address to connect to")
	n := flag.Int("n", 5000, "connections to open")
	parallel := flag.Int("parallel", 32, "connections being opened at once")
	flag.Parse()
	if *parallel < 1 {
		log.Fatalf("-parallel %d: must be at least 1", *parallel)
	}
	conns, err := openAll(*addr, *n, *parallel)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ready %d\n", len(conns))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	for _, c := range conns {
		c.(*net.TCPConn).SetLinger(0) // close with a reset: no TIME_WAIT
		c.Close()
	}
}

// openAll opens n WebSocket connections, parallel at a time.
func openAll(addr string, n, parallel int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	next := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := open(addr)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return conns, err
}

// open connects, upgrades to WebSocket and exchanges one frame each way.
func open(addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := handshake(c); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func handshake(c net.Conn) error {
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("reading the handshake response: %w", err)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if want := base64.StdEncoding.EncodeToString(sum[:]); resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-WebSocket-Accept") != want {
		return fmt.Errorf("handshake answered %s with Sec-WebSocket-Accept %q, want 101 with %q",
			resp.Status, resp.Header.Get("Sec-WebSocket-Accept"), want)
	}
	// One masked text frame (FIN, opcode 1), echoed unmasked.
	var mask [4]byte
	rand.Read(mask[:])
	frame := append([]byte{0x81, 0x80 | byte(len(message))}, mask[:]...)
	for i, b := range message {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("sending a frame: %w", err)
	}
	echo := make([]byte, 2+len(message))
	if _, err := io.ReadFull(br, echo); err != nil {
		return fmt.Errorf("reading the echoed frame: %w", err)
	}
	if echo[0] != 0x81 || int(echo[1]) != len(message) || !bytes.Equal(echo[2:], message) {
		return fmt.Errorf("echoed frame %q, want a text frame with %q", echo, message)
	}
	return nil
}
