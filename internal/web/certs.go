package web

import (
	"context"
	"net/http"

	"github.com/cutover/cutover/internal/api"
)

// Certificates gives the ACME certificates of listeners with tls: auto;
// the server implements it.
type Certificates interface {
	Certificates(ctx context.Context) ([]api.Certificate, error)
}

type certsData struct {
	Certs []api.Certificate
	Error string // the data plane could not be asked
}

// certificates is the page of the ACME certificates: state, expiry, the
// last error and the next attempt.
func (h *Handler) certificates(w http.ResponseWriter, r *http.Request) {
	var data certsData
	if h.certs == nil {
		data.Error = "this server does not report certificates"
	} else if certs, err := h.certs.Certificates(r.Context()); err != nil {
		data.Error = err.Error()
	} else {
		data.Certs = certs
	}
	h.render(w, r, http.StatusOK, "certificates", "Certificates", data)
}
