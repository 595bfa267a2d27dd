// Command app is the program the docker and swarm drivers' tests run in containers
// (FROM scratch, built with CGO_ENABLED=0). Environment:
//
//	PORT            port to listen on (default 8080)
//	TASK            name it says hello with
//	LOG_LINES       lines "line 1".."line N" printed at start
//	EXIT_NOW        exit at once with this code
//	IGNORE_SIGTERM  "1": ignore SIGTERM (to be SIGKILLed)
//
// Paths: / says hello; /crash?code=N exits with code N; /alloc?mb=N
// allocates and touches N MiB. Every request is logged to stdout.
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
)

func main() {
	task := os.Getenv("TASK")
	fmt.Printf("starting task %s\n", task)
	fmt.Fprintf(os.Stderr, "stderr: hello from %s\n", task)
	if code := os.Getenv("EXIT_NOW"); code != "" {
		fmt.Fprintln(os.Stderr, "fatal: EXIT_NOW is set")
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	lines, _ := strconv.Atoi(os.Getenv("LOG_LINES"))
	for i := 1; i <= lines; i++ {
		fmt.Printf("line %d\n", i)
	}

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s\n", r.URL.Path)
		fmt.Fprintf(w, "hello from %s\n", task)
	})
	mux.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Printf("crashing with code %d\n", code)
		fmt.Fprintln(w, "crashing")
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(code)
		}()
	})
	var hog [][]byte
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		for range mb {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hog = append(hog, b)
		}
		fmt.Fprintf(w, "allocated %d MiB\n", len(hog))
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for sig := range sigs {
			name := "SIGINT"
			if sig == syscall.SIGTERM {
				name = "SIGTERM"
			}
			if os.Getenv("IGNORE_SIGTERM") == "1" {
				fmt.Printf("ignoring %s\n", name)
				continue
			}
			fmt.Printf("received %s, shutting down\n", name)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			srv.Shutdown(ctx)
			cancel()
			fmt.Println("bye")
			os.Exit(0)
		}
	}()
	fmt.Printf("listening on :%s\n", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	select {} // the signal handler exits
}
