// Command idleconns opens N keep-alive connections to an HTTP address,
// sends one request on each so the proxy has a real client connection,
// then holds them idle until it gets a signal. It prints "ready N" once
// all are open, for bench/proxy.sh to measure the proxy's memory.
//
// One source address has about 28,000 ephemeral ports towards one
// listener, so -sources spreads the connections over 127.0.0.1,
// 127.0.0.2, ... (all of 127.0.0.0/8 is loopback on Linux). Connections
// are closed with a reset when it exits, so that neither side keeps
// 100,000 sockets in TIME_WAIT for the next measurement. With -tls it
// speaks HTTPS (HTTP/1.1 by ALPN), with -h2 HTTP/2 over TLS (h2 by ALPN,
// as browsers do), and does not check the certificate: it is a load
// generator for a local benchmark, nothing else.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
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

	"golang.org/x/net/http2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18103", "address to connect to")
	n := flag.Int("n", 10000, "connections to open")
	sources := flag.Int("sources", 1, "source addresses to spread the connections over: 127.0.0.1 up to 127.0.0.<sources>")
	parallel := flag.Int("parallel", 32, "connections being opened at once")
	useTLS := flag.Bool("tls", false, "speak HTTPS (HTTP/1.1), without checking the certificate")
	useH2 := flag.Bool("h2", false, "speak HTTP/2 over TLS (as browsers do), without checking the certificate")
	flag.Parse()
	if *sources < 1 || *sources > 254 {
		log.Fatalf("-sources %d: must be between 1 and 254", *sources)
	}
	if *parallel < 1 {
		log.Fatalf("-parallel %d: must be at least 1", *parallel)
	}
	proto := "http/1.1"
	switch {
	case *useH2:
		proto = "h2"
	case *useTLS:
		proto = "https"
	}
	conns, err := openAll(*addr, *n, *sources, *parallel, proto)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ready %d\n", len(conns))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	for _, c := range conns {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		c.(*net.TCPConn).SetLinger(0) // close with a reset: no TIME_WAIT
		c.Close()
	}
}

// openAll opens n connections, parallel at a time, each from source
// address 127.0.0.<1 + i%sources>, and sends one request on each.
func openAll(addr string, n, sources, parallel int, proto string) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	next := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := open(addr, net.IPv4(127, 0, 0, byte(1+i%sources)), proto)
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

// open connects from source, speaking proto (http/1.1, https or h2), and
// reads the response to one GET.
func open(addr string, source net.IP, proto string) (net.Conn, error) {
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: source},
		Timeout:   30 * time.Second,
		Control:   bindAddressNoPort,
	}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	switch proto {
	case "https":
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	case "h2":
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		err = getH2(c)
	}
	if proto != "h2" {
		err = getH1(c)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading response: %w", err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func getH1(c net.Conn) error {
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// getH2 sends one GET over HTTP/2 on c; the connection stays open, its
// client reading it in the background.
func getH2(c net.Conn) error {
	cc, err := (&http2.Transport{}).NewClientConn(c)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, "https://bench/", nil)
	if err != nil {
		return err
	}
	resp, err := cc.RoundTrip(req)
	if err != nil {
		return err
	}
	if tc, ok := c.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol != "h2" {
		return fmt.Errorf("the server did not agree on HTTP/2")
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
