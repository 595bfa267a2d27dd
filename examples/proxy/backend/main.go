// Command backend is a tiny HTTP app for trying cutover's load balancer:
// it listens on $PORT, answers / with its $NAME and /status with 200.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	name := os.Getenv("NAME")
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("PORT is not set")
	}
	http.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s (port %s)\n", name, port)
	})
	log.Printf("%s listening on 127.0.0.1:%s", name, port)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
