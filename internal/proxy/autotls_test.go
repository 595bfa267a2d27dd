package proxy

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/acme"
)

func TestAutoTLSConfigErrors(t *testing.T) {
	plain := func(mod func(*ListenerConfig)) Config {
		cfg := oneListener(ForwardConfig{})
		mod(&cfg.Listeners[0])
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"wildcard", plain(func(l *ListenerConfig) { l.TLS = &TLSConfig{ACMEHosts: []string{"*.example.com"}} }), "DNS-01"},
		{"ip", plain(func(l *ListenerConfig) { l.TLS = &TLSConfig{ACMEHosts: []string{"10.0.0.1"}} }), "IP address"},
		{"upper case", plain(func(l *ListenerConfig) { l.TLS = &TLSConfig{ACMEHosts: []string{"App.example.com"}} }), "not a host name"},
		{"files and acme", plain(func(l *ListenerConfig) {
			l.TLS = &TLSConfig{CertFile: "c.pem", KeyFile: "k.pem", ACMEHosts: []string{"a.example.com"}}
		}), "both set"},
		{"hsts too short", plain(func(l *ListenerConfig) {
			l.TLS = &TLSConfig{ACMEHosts: []string{"a.example.com"}, HSTS: []HSTSConfig{{MaxAge: time.Millisecond}}}
		}), "hsts"},
		{"redirect port", plain(func(l *ListenerConfig) { l.HTTPSRedirects = []HTTPSRedirect{{Port: 70000}} }), "1-65535"},
		{"redirect on https", plain(func(l *ListenerConfig) {
			l.TLS = &TLSConfig{ACMEHosts: []string{"a.example.com"}}
			l.HTTPSRedirects = []HTTPSRedirect{{Port: 443}}
		}), "HTTPS already"},
		{"acme ca", func() Config {
			c := oneListener(ForwardConfig{})
			c.ACME.CA = "http://ca.example.com/dir"
			return c
		}(), "acme ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A proxy without a certificate directory refuses ACME hosts and keeps
// serving what it served.
func TestAutoTLSNeedsACertificateDirectory(t *testing.T) {
	b := newBackend(t, "app", nil)
	cfg := oneListener(forward("g", 1), group("g", b.addr))
	p := startProxy(t, cfg)
	url := baseURL(p, "web")
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Name: "https", Address: "127.0.0.1:0",
		TLS: &TLSConfig{ACMEHosts: []string{"a.example.com"}}, Default: forward("g", 1)})
	err := p.Apply(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Fatalf("Apply: %v, want refused", err)
	}
	if code, body := get(t, newClient(), url); code != 200 || body != "app" {
		t.Errorf("after the refused Apply: %d %q", code, body)
	}
}

// A host of a tls: auto listener is served on HTTP until it has a
// certificate; a host with a file certificate is redirected at once; the
// HTTPS listener answers a host without a certificate with the
// unrecognized_name alert.
func TestAutoTLSRedirectOnlyOnceACertificateIsServed(t *testing.T) {
	b := newBackend(t, "app", nil)
	p := New(Options{Logger: testLogger(t), CertDir: t.TempDir()})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	cfg := Config{
		Listeners: []ListenerConfig{
			{Name: "http", Address: "127.0.0.1:0", Default: forward("g", 1), HTTPSRedirects: []HTTPSRedirect{
				{Hosts: []string{"auto.example.com"}, Port: 443},
				{Hosts: []string{"*.files.example.com"}, Port: 8443},
			}},
			{Name: "https", Address: "127.0.0.1:0", Default: forward("g", 1), TLS: &TLSConfig{
				ACMEHosts: []string{"auto.example.com"},
				HSTS:      []HSTSConfig{{Hosts: []string{"auto.example.com"}, MaxAge: time.Hour}},
			}},
		},
		TargetGroups: []TargetGroupConfig{group("g", b.addr)},
		// Nothing listens here: the certificate cannot be had.
		ACME: acmeUnreachable(t),
	}
	mustApply(t, p, cfg)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		host     string
		code     int
		location string
	}{
		{"auto.example.com", 200, ""},
		{"www.files.example.com:80", 308, "https://www.files.example.com:8443/p?q=1"},
		{"other.example.com", 200, ""},
		{"x!$&'()*+,;=.files.example.com", 200, ""}, // a Host net/http lets through: not put in a Location
	} {
		req, _ := http.NewRequest("GET", baseURL(p, "http")+"/p?q=1", nil)
		req.Host = tc.host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s: %d to %q, want %d to %q", tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
		}
	}
	conn, err := tls.Dial("tcp", p.Addr("https").String(), &tls.Config{ServerName: "auto.example.com", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("a handshake for a host without a certificate succeeded")
	}
	if !strings.Contains(err.Error(), "unrecognized name") {
		t.Errorf("handshake: %v, want the unrecognized_name alert", err)
	}
	certs := p.Certificates()
	if len(certs) != 1 || certs[0].Host != "auto.example.com" || certs[0].NotAfter != (time.Time{}) {
		t.Errorf("certificates: %+v", certs)
	}
}

// acmeUnreachable are ACME settings of a CA nothing answers for.
func acmeUnreachable(t *testing.T) acme.Settings {
	return acme.Settings{CA: "https://" + closedAddr(t) + "/dir", RetryMin: time.Hour}
}
