package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/api"
)

func TestACMEFlags(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	both := []string{"http-01", "tls-alpn-01"}
	for _, tc := range []struct {
		name string
		f    acmeFlags
		ca   string
		err  string
	}{
		{"default", acmeFlags{ca: "letsencrypt", challenges: both}, acme.LetsEncrypt, ""},
		{"staging", acmeFlags{ca: "letsencrypt-staging", challenges: both}, acme.LetsEncryptStaging, ""},
		{"url", acmeFlags{ca: "https://ca.internal/dir", challenges: []string{"tls-alpn-01"}}, "https://ca.internal/dir", ""},
		{"http url", acmeFlags{ca: "http://ca.internal/dir", challenges: both}, "", "acme ca"},
		{"bad challenge", acmeFlags{ca: "letsencrypt", challenges: []string{"dns-01"}}, "", `--acme-challenges: "dns-01" is not a challenge type`},
		{"no challenge", acmeFlags{ca: "letsencrypt"}, "", "none left"},
		{"missing root", acmeFlags{ca: "letsencrypt", challenges: both, caRoot: filepath.Join(t.TempDir(), "none.pem")}, "", "--acme-ca-root"},
		{"root not PEM", acmeFlags{ca: "letsencrypt", challenges: both, caRoot: root}, "", "no PEM certificate"},
		{"email", acmeFlags{ca: "letsencrypt", challenges: both, email: "nobody"}, "", "acme email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.f.settings()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("settings: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || s.CA != tc.ca {
				t.Errorf("settings: %+v, %v; want CA %s", s, err, tc.ca)
			}
		})
	}
}

func TestPrintCerts(t *testing.T) {
	exp := time.Now().Add(48 * time.Hour)
	next := time.Now().Add(time.Minute)
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	printCerts(cmd, []api.Certificate{
		{Host: "a.example.com", State: "valid", NotAfter: &exp, Issuer: "R11"},
		{Host: "b.example.com", State: "failed", Error: "connection refused", Failures: 2, NextAttempt: &next},
	})
	for _, want := range []string{"HOST", "a.example.com", "valid", "R11", "(in 4", "b.example.com", "failed", "connection refused (2 failed, next try"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	out.Reset()
	printCerts(cmd, nil)
	if !strings.Contains(out.String(), "no listener has tls: auto") {
		t.Errorf("without certificates: %q", out.String())
	}
}
