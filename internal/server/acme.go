package server

import (
	"context"
	"time"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/proxy"
)

// acmeRouter is the data plane as the controller drives it, with the
// server-wide ACME settings (`cutover up --acme-*`) in every
// configuration pushed. They travel with the configuration, so a data
// plane restarted without a control plane keeps them.
type acmeRouter struct {
	deploy.Router
	settings acme.Settings
}

func (r acmeRouter) Apply(ctx context.Context, cfg proxy.Config) error {
	cfg.ACME = r.settings
	return r.Router.Apply(ctx, cfg)
}

// Certificates reports the ACME certificates the data plane keeps, for
// GET /api/v1/certificates.
func (s *Server) Certificates(ctx context.Context) ([]api.Certificate, error) {
	certs, err := s.dp.Client().Certificates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Certificate, len(certs))
	for i, c := range certs {
		out[i] = api.Certificate{
			Host: c.Host, State: c.State, Issuer: c.Issuer, Error: c.Error, Failures: c.Failures,
			NotBefore: timePtr(c.NotBefore), NotAfter: timePtr(c.NotAfter), NextAttempt: timePtr(c.NextAttempt),
		}
	}
	return out, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
