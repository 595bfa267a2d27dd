package proxy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestH2CListener(t *testing.T) {
	b := newBackend(t, "b", nil)
	p := startProxy(t, oneListener(forward("app", 1), group("app", b.addr)))
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	resp, err := c.Get(baseURL(p, "web") + "/")
	if err != nil {
		t.Fatalf("h2c request: %v", err)
	}
	if body := readAll(t, resp); resp.ProtoMajor != 2 || body != "b" {
		t.Errorf("got %s %q, want HTTP/2.0 \"b\"", resp.Proto, body)
	}
}

func TestTLSListenerSpeaksHTTP2(t *testing.T) {
	b := newBackend(t, "b", nil)
	certFile, keyFile, pool := selfSignedCert(t)
	cfg := oneListener(forward("app", 1), group("app", b.addr))
	cfg.Listeners[0].TLS = &TLSConfig{CertFile: certFile, KeyFile: keyFile}
	p := startProxy(t, cfg)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	resp, err := c.Get("https://" + p.Addr("web").String() + "/")
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	if body := readAll(t, resp); resp.ProtoMajor != 2 || body != "b" {
		t.Errorf("got %s %q, want HTTP/2.0 \"b\"", resp.Proto, body)
	}
}

func TestServerSentEventsFlushAtOnce(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, "sse", func(mux *http.ServeMux) {
		mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: first\n\n")
			http.NewResponseController(w).Flush()
			select { // the handler does not finish until the test has the event
			case <-release:
			case <-time.After(10 * time.Second):
			}
			io.WriteString(w, "data: second\n\n")
		})
	})
	p := startProxy(t, oneListener(forward("app", 1), group("app", b.addr)))
	resp, err := newClient().Get(baseURL(p, "web") + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(release)
	if err != nil || first != "data: first\n" {
		t.Fatalf("first event: %q %v", first, err)
	}
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	b := newBackend(t, "echo", func(mux *http.ServeMux) {
		mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(map[string]string{
				"host":  r.Host,
				"xff":   r.Header.Get("X-Forwarded-For"),
				"proto": r.Header.Get("X-Forwarded-Proto"),
				"xfh":   r.Header.Get("X-Forwarded-Host"),
				"id":    r.Header.Get("X-Request-Id"),
			})
		})
	})
	p := startProxy(t, oneListener(forward("app", 1), group("app", b.addr)))
	c := newClient()
	do := func(headers map[string]string) map[string]string {
		req, _ := http.NewRequest(http.MethodGet, baseURL(p, "web")+"/headers", nil)
		req.Host = "app.example.com"
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(readAll(t, resp)), &got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	got := do(map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Request-Id": "abc-123"})
	want := map[string]string{"host": "app.example.com", "xff": "203.0.113.7, 127.0.0.1", "proto": "http", "xfh": "app.example.com", "id": "abc-123"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	gen1 := do(nil)["id"]
	gen2 := do(map[string]string{"X-Request-Id": "has spaces <script>"})["id"]
	if gen1 == "" || gen2 == "" || gen1 == gen2 || gen2 == "has spaces <script>" {
		t.Errorf("generated ids %q and %q: want two different, sane ids", gen1, gen2)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key to files
// and returns them with a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cutover test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
