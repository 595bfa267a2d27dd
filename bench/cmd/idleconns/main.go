// Command idleconns opens N keep-alive connections to an HTTP address,
// sends one request on each so the proxy has a real client connection,
// then holds them idle until it gets a signal. It prints "ready N" once
// all are open, for bench/proxy.sh to measure the proxy's memory.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18103", "address to connect to")
	n := flag.Int("n", 10000, "connections to open")
	flag.Parse()
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			log.Fatalf("connection %d: reading response: %v", i, err)
		}
		resp.Body.Close()
		conns = append(conns, c)
	}
	fmt.Printf("ready %d\n", len(conns))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}
