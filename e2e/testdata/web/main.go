// Command web is a tiny app for the end-to-end tests: it answers / with
// its VERSION and /status with 200, /stream with a line every 100ms for a
// minute, /ws with a WebSocket echo and /say?line=X by printing X (on
// stderr with &stream=err), on $PORT (default 8080), and shuts down
// gracefully on SIGTERM. `web release` is a release command: it prints
// the VERSION it sees and exits with $RELEASE_EXIT (default 0).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "release" {
		fmt.Printf("releasing version %s\n", os.Getenv("VERSION"))
		code, _ := strconv.Atoi(os.Getenv("RELEASE_EXIT"))
		os.Exit(code)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	version := os.Getenv("VERSION")
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "version %s\n", version) })
	mux.HandleFunc("/stream", stream)
	mux.HandleFunc("/ws", echo)
	mux.HandleFunc("/say", func(w http.ResponseWriter, r *http.Request) {
		out := os.Stdout
		if r.URL.Query().Get("stream") == "err" {
			out = os.Stderr
		}
		fmt.Fprintln(out, r.URL.Query().Get("line"))
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// stream sends a numbered line every 100ms for a minute.
func stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := range 600 {
		if _, err := fmt.Fprintf(w, "tick %d\n", i); err != nil {
			return
		}
		rc.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// echo answers each WebSocket message with itself.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			return
		}
	}
}
