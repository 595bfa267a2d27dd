// Command load sends HTTP requests to a URL from a fixed number of
// keep-alive workers until it gets SIGINT or SIGTERM, then prints what it
// saw: requests sent, non-2xx answers, socket errors. bench scripts use it
// as the "constant load" during deployments.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Totals is what load prints as JSON on its last line.
type Totals struct {
	Requests     int64            `json:"requests"`
	Non2xx       int64            `json:"non_2xx"`
	SocketErrors int64            `json:"socket_errors"`
	ByStatus     map[string]int64 `json:"by_status"`
	FirstError   string           `json:"first_error,omitempty"`
	Seconds      float64          `json:"seconds"`
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/", "URL to request")
	workers := flag.Int("c", 16, "concurrent keep-alive workers")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var requests, non2xx, sockErrs atomic.Int64
	var mu sync.Mutex
	byStatus := map[string]int64{}
	firstErr := ""
	record := func(status string, msg string) {
		mu.Lock()
		byStatus[status]++
		if firstErr == "" && msg != "" {
			firstErr = msg
		}
		mu.Unlock()
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *workers, MaxIdleConns: *workers}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	started := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := client.Get(*url)
				if ctx.Err() != nil {
					return // interrupted by the stop itself: not counted
				}
				requests.Add(1)
				if err != nil {
					sockErrs.Add(1)
					record("error", err.Error())
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					sockErrs.Add(1)
					record("error", "reading body: "+err.Error())
					continue
				}
				if resp.StatusCode/100 != 2 {
					non2xx.Add(1)
					record(fmt.Sprint(resp.StatusCode), fmt.Sprintf("status %d", resp.StatusCode))
					continue
				}
				record(fmt.Sprint(resp.StatusCode), "")
			}
		})
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(Totals{
		Requests: requests.Load(), Non2xx: non2xx.Load(), SocketErrors: sockErrs.Load(),
		ByStatus: byStatus, FirstError: firstErr, Seconds: time.Since(started).Seconds(),
	})
}
