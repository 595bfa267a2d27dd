// Command httpapp is a task for the process driver's tests: an HTTP server
// on 127.0.0.1:$PORT that shuts down gracefully on SIGTERM.
//
//	GET /          answers "hello from <task id> on port <port>"
//	GET /slow      answers after 1s ("slow done"), to test graceful stop
//	GET /log?line= prints line to stdout
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	child := flag.Bool("child", false, "start a child process that ignores SIGTERM")
	sleeper := flag.Bool("sleeper", false, "be that child: ignore SIGTERM and sleep")
	flag.Parse()

	if *sleeper {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("child ignoring SIGTERM")
		time.Sleep(time.Hour)
		return
	}
	if *child {
		cmd := exec.Command(os.Args[0], "-sleeper")
		cmd.Stdout = os.Stdout
		if err := cmd.Start(); err != nil {
			fmt.Println("starting child:", err)
			os.Exit(1)
		}
		fmt.Printf("child pid %d\n", cmd.Process.Pid)
	}

	port := os.Getenv("PORT")
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s on port %s\n", os.Getenv("CUTOVER_TASK_ID"), port)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("slow request started")
		time.Sleep(time.Second)
		fmt.Fprintln(w, "slow done")
	})
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Query().Get("line"))
	})
	srv := &http.Server{Handler: mux}

	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
		fmt.Printf("listening on %s (pid %d), ignoring SIGTERM\n", port, os.Getpid())
		srv.Serve(ln)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go srv.Serve(ln)
	fmt.Printf("listening on %s (pid %d)\n", port, os.Getpid())

	<-ctx.Done()
	fmt.Println("received SIGTERM")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Println("shutdown:", err)
		os.Exit(1)
	}
	fmt.Println("graceful shutdown")
}
