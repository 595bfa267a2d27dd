// Command wsbackend is the WebSocket benchmark's upstream: it accepts
// WebSocket upgrades on any path (RFC 6455's opening handshake, nothing
// more), echoes the first frame a client sends and then holds the
// connection until the client closes it. Requests without an upgrade,
// the proxies' health checks among them, get 200 "ok". It is a load
// target for bench/websocket.sh, not a WebSocket server: it handles one
// small unfragmented frame and no control frames.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
)

// acceptGUID is the key suffix of RFC 6455, section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18201", "listen address")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(serve)))
}

func serve(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		w.Write([]byte("ok\n"))
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		log.Printf("hijacking %s: %v", r.RemoteAddr, err)
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acceptKey(key))
	if err := rw.Flush(); err != nil {
		return
	}
	if err := echoFrame(rw.Reader, conn); err != nil {
		log.Printf("echoing the first frame of %s: %v", r.RemoteAddr, err)
		return
	}
	io.Copy(io.Discard, rw.Reader) // hold the connection until the client closes it
}

// echoFrame reads one masked client frame with a payload below 126 bytes
// and writes its payload back in an unmasked frame of the same opcode.
func echoFrame(r *bufio.Reader, w net.Conn) error {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return err
	}
	n := int(head[1] & 0x7f)
	if head[1]&0x80 == 0 || n >= 126 {
		return fmt.Errorf("frame header %x: want a masked frame with a payload below 126 bytes", head)
	}
	buf := make([]byte, 4+n) // masking key, then payload
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	mask, payload := buf[:4], buf[4:]
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	_, err := w.Write(append([]byte{head[0], byte(n)}, payload...))
	return err
}
