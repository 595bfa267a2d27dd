package acme

import (
	"strings"
	"testing"
	"time"
)

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Settings
		err  string
	}{
		{"zero is Let's Encrypt", Settings{}, ""},
		{"staging", Settings{CA: LetsEncryptStaging, Email: "ops@example.com"}, ""},
		{"plain http CA", Settings{CA: "http://ca.example.com/dir"}, "acme ca: \"http://ca.example.com/dir\" is not an ACME directory URL"},
		{"no host", Settings{CA: "https:///dir"}, "acme ca"},
		{"email", Settings{Email: "ops at example.com"}, "acme email"},
		{"email with name", Settings{Email: "Ops <ops@example.com>"}, "acme email"},
		{"root not PEM", Settings{CARoots: "not a certificate"}, "acme ca root: no PEM certificate"},
		{"no challenge", Settings{NoHTTP01: true, NoTLSALPN01: true}, "acme challenges: none left"},
		{"renew check", Settings{RenewCheck: 48 * time.Hour}, "acme renew check: 48h0m0s is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.err == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Validate: %v, want an error with %q", err, tc.err)
			}
		})
	}
}

func TestValidHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		err  string
	}{
		{"app.example.com", ""},
		{"a-b.c9.example", ""},
		{"*.example.com", "DNS-01"},
		{"127.0.0.1", "IP address"},
		{"[::1]", "IP address"},
		{"localhost", "not a host name"},
		{"App.example.com", "not a host name"},
		{"-a.example.com", "not a host name"},
		{"a..example.com", "not a host name"},
		{"a_b.example.com", "not a host name"},
	} {
		err := ValidHost(tc.host)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ValidHost(%q) = %v, want %q", tc.host, err, tc.err)
		}
	}
}
