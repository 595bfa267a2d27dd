// Command selfcert writes a self-signed P-256 certificate for 127.0.0.1
// and localhost, and its key, as PEM files, for the HTTPS benchmarks
// (bench/tls.sh): the proxies compared all load the same pair. The key
// file is written with mode 0600.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/cutover/cutover/internal/testcert"
)

func main() {
	certFile := flag.String("cert", "cert.pem", "certificate file to write")
	keyFile := flag.String("key", "key.pem", "key file to write")
	flag.Parse()
	certPEM, keyPEM, _, err := testcert.Generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*certFile, certPEM, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*keyFile, keyPEM, 0o600); err != nil {
		log.Fatal(err)
	}
}
