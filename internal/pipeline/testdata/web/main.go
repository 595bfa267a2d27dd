// Command web is the app the pipeline's tests build and deploy. It
// answers / with "version <contents of version.txt> <GREETING>", reading
// version.txt from its working directory (the release directory), and
// /health with 200. It shuts down gracefully on SIGTERM. While the file
// $BREAK_DIR/<version> exists, / answers 500 (the stage conditions'
// bake-time test breaks one version with it).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	v, err := os.ReadFile("version.txt")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	version := strings.TrimSpace(string(v))
	greeting := os.Getenv("GREETING")
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	breakFile := ""
	if dir := os.Getenv("BREAK_DIR"); dir != "" {
		breakFile = filepath.Join(dir, version)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(breakFile); breakFile != "" && err == nil {
			http.Error(w, "version "+version+" is broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "version %s %s\n", version, greeting)
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
