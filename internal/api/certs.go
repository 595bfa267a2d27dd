package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Certificates is the part of the daemon that knows the ACME
// certificates the data plane keeps. The System given to New may
// implement it; when it does not, GET /api/v1/certificates answers 501.
type Certificates interface {
	Certificates(ctx context.Context) ([]Certificate, error)
}

// Certificate is one host's ACME certificate (listeners.tls: auto).
type Certificate struct {
	Host string `json:"host"`
	// State is obtaining, failed (no certificate; retried at
	// next_attempt), valid or expired.
	State     string     `json:"state"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	Issuer    string     `json:"issuer,omitempty"`
	// Error is the last failure to obtain or renew; Failures counts them
	// in a row.
	Error       string     `json:"error,omitempty"`
	Failures    int        `json:"failures,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

var errNoCertificates = errors.New("this server does not report certificates")

func (h *Handler) listCertificates(w http.ResponseWriter, r *http.Request) {
	c, ok := h.system.(Certificates)
	if !ok {
		problem(w, http.StatusNotImplemented, errNoCertificates.Error())
		return
	}
	certs, err := c.Certificates(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	if certs == nil {
		certs = []Certificate{}
	}
	writeJSON(w, http.StatusOK, certs)
}

// Certificates lists the ACME certificates.
func (c *Client) Certificates(ctx context.Context) ([]Certificate, error) {
	var out []Certificate
	err := c.do(ctx, http.MethodGet, "/api/v1/certificates", nil, &out)
	return out, err
}
