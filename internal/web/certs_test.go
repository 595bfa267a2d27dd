package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/api"
)

type fakeCerts struct {
	certs []api.Certificate
	err   error
}

func (f fakeCerts) Certificates(context.Context) ([]api.Certificate, error) { return f.certs, f.err }

func TestCertificatesPage(t *testing.T) {
	exp := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	next := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		certs Certificates
		want  []string
	}{
		{"listed", fakeCerts{certs: []api.Certificate{
			{Host: "a.example.com", State: "valid", NotAfter: &exp, Issuer: "R11"},
			{Host: "b.example.com", State: "failed", Error: "connection refused", Failures: 3, NextAttempt: &next},
		}}, []string{"a.example.com", "valid", "R11", "b.example.com", "failed", "connection refused", "3 failed"}},
		{"none", fakeCerts{}, []string{"No listener has"}},
		{"data plane away", fakeCerts{err: errors.New("data plane unavailable")}, []string{"Cannot list them: data plane unavailable"}},
		{"not reported", nil, []string{"does not report certificates"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := New(Options{Store: f.store, Deployer: f.deployer, Certificates: tc.certs})
			t.Cleanup(h.CloseStreams)
			f.srv = httptest.NewServer(h)
			t.Cleanup(f.srv.Close)
			c := f.browser(t)
			f.signIn(t, c, f.token(t, "reader", "read"))
			resp, body := get(t, c, f.srv.URL, "/certificates")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /certificates: %s", resp.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page has no %q:\n%s", w, body)
				}
			}
		})
	}
}
