package dataplane

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cutover/cutover/internal/acme"
)

// CertDirName is the directory under the data directory where ACME
// certificates, their keys and the ACME account are kept (0700, files
// 0600). Every data plane on the data directory uses it: a successor
// serves the certificates its predecessor got.
const CertDirName = "acme"

func certDir(dataDir string) string { return filepath.Join(dataDir, CertDirName) }

// handleCertificates answers GET /v1/certificates: every ACME host's
// certificate, its expiry and its last error.
func (s *Server) handleCertificates(w http.ResponseWriter, r *http.Request) {
	certs := s.proxy.Certificates()
	if certs == nil {
		certs = []acme.Status{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(certs)
}

// handleMetrics serves the proxy's metrics followed by the certificates'.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.proxy.Metrics().Handler().ServeHTTP(w, r)
	writeCertMetrics(w, s.proxy.Certificates())
}

// writeCertMetrics writes the certificate families in Prometheus text.
func writeCertMetrics(w http.ResponseWriter, certs []acme.Status) {
	if len(certs) == 0 {
		return
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintln(bw, "# HELP cutover_certificate_expiry_timestamp_seconds When the certificate served for a host expires (Unix time); 0 while it has none.")
	fmt.Fprintln(bw, "# TYPE cutover_certificate_expiry_timestamp_seconds gauge")
	for _, c := range certs {
		exp := int64(0)
		if !c.NotAfter.IsZero() {
			exp = c.NotAfter.Unix()
		}
		fmt.Fprintf(bw, "cutover_certificate_expiry_timestamp_seconds{host=%s} %d\n", quote(c.Host), exp)
	}
	fmt.Fprintln(bw, "# HELP cutover_certificate_failures Failed attempts in a row to obtain or renew a host's certificate.")
	fmt.Fprintln(bw, "# TYPE cutover_certificate_failures gauge")
	for _, c := range certs {
		fmt.Fprintf(bw, "cutover_certificate_failures{host=%s} %d\n", quote(c.Host), c.Failures)
	}
}

// quote is a Prometheus label value; host names need no escaping, but
// nothing here relies on that.
func quote(s string) string {
	return strconv.Quote(strings.ToValidUTF8(s, "?"))
}

// Certificates returns every ACME host's certificate as the data plane
// reports it.
func (c *Client) Certificates(ctx context.Context) ([]acme.Status, error) {
	var certs []acme.Status
	code, err := c.do(ctx, http.MethodGet, "/v1/certificates", nil, &certs)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("data plane certificates: %d", code)
	}
	return certs, err
}
