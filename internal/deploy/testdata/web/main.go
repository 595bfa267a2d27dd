// Command web is the app the deploy package's integration tests deploy.
// Environment:
//
//	PORT        port to listen on (set by the process runtime)
//	VERSION     what / answers ("version <VERSION>")
//	HEALTH      "fail": /health answers 500
//	ERROR_RATE  share of requests to / answered 500, e.g. 0.3
//
// It shuts down gracefully on SIGTERM: in-flight requests finish.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	version := os.Getenv("VERSION")
	errorRate, _ := strconv.ParseFloat(os.Getenv("ERROR_RATE"), 64)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("HEALTH") == "fail" {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", version)
		if errorRate > 0 && rand.Float64() < errorRate {
			http.Error(w, "injected error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "version %s\n", version)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
