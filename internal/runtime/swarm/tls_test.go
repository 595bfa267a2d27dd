package swarm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cutover/cutover/internal/registry"
)

// certsDir is where every Engine on this machine looks for the CA of a
// registry, per host:port.
const certsDir = "/etc/docker/certs.d"

// startTLSRegistry serves cutover's registry over TLS on listenAddr, with
// a certificate for its IP signed by a test CA that the Engines trust for
// this host:port only (certsDir/<host:port>/ca.crt, removed at the end).
func startTLSRegistry(t *testing.T, listenAddr string) (string, *x509.CertPool) {
	t.Helper()
	h, err := registry.New(registry.Options{
		Dir: t.TempDir(),
		Authorize: func(r *http.Request, push bool) bool {
			user, pass, ok := r.BasicAuth()
			return ok && user == registryUser && pass == registryPassword
		},
	})
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	host, _, _ := net.SplitHostPort(addr)
	caPEM, cert, pool := testCerts(t, net.ParseIP(host))

	if _, err := os.Stat(certsDir); err != nil {
		t.Cleanup(func() { os.Remove(certsDir) }) // only if left empty
	}
	dir := filepath.Join(certsDir, addr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("trusting the test CA: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return addr, pool
}

// testCerts makes a CA and a server certificate for ip signed by it.
func testCerts(t *testing.T, ip net.IP) (caPEM []byte, cert tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cutover test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: ip.String()},
		IPAddresses:  []net.IP{ip},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, pool
}

// pushTLS writes img to ref on a TLS registry whose CA is in pool.
func pushTLS(t *testing.T, ref string, img v1.Image, pool *x509.CertPool) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	auth := remote.WithAuth(&authn.Basic{Username: registryUser, Password: registryPassword})
	if err := remote.Write(r, img, auth, remote.WithTransport(tr)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}
