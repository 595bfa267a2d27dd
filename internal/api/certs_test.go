package api

import (
	"context"
	"testing"
	"time"
)

// Certificates makes recordingSystem report one certificate, so that
// GET /api/v1/certificates is covered by the route tests.
func (recordingSystem) Certificates(context.Context) ([]Certificate, error) {
	exp := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	return []Certificate{{Host: "app.example.com", State: "valid", NotAfter: &exp, Issuer: "Test CA"}}, nil
}

func TestCertificatesListsHostsAndExpiry(t *testing.T) {
	f := newFixture(t)
	certs, err := f.local.Certificates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || certs[0].Host != "app.example.com" || certs[0].State != "valid" ||
		certs[0].NotAfter == nil || certs[0].NotAfter.Year() != 2027 {
		t.Errorf("certificates: %+v", certs)
	}
}
