package config

import (
	"strings"
	"testing"
	"time"
)

func TestListenersAutoTLS(t *testing.T) {
	const base = "name: hello\nservice: {command: [node, app.js], port: 3000}\n"
	for _, tc := range []struct {
		name, listeners string
		want            Listeners
		err             string
	}{
		{name: "auto with http and hsts", listeners: `{production: ":443", http: ":80", hosts: [a.example.com], tls: auto, hsts: 1h}`,
			want: Listeners{Production: ":443", HTTP: ":80", Hosts: []string{"a.example.com"}, TLS: TLSAuto, HSTS: time.Hour}},
		{name: "hsts true is a year", listeners: `{production: ":443", hosts: [a.example.com], tls: auto, hsts: true}`,
			want: Listeners{Production: ":443", Hosts: []string{"a.example.com"}, TLS: TLSAuto, HSTS: DefaultHSTS}},
		{name: "hsts false", listeners: `{production: ":443", hosts: [a.example.com], tls: auto, hsts: false}`,
			want: Listeners{Production: ":443", Hosts: []string{"a.example.com"}, TLS: TLSAuto}},
		{name: "no hosts", listeners: `{production: ":443", tls: auto}`, err: "listeners.tls: auto needs listeners.hosts"},
		{name: "wildcard", listeners: `{production: ":443", hosts: ["*.example.com"], tls: auto}`, err: "listeners.hosts[0]: with tls: auto: \"*.example.com\": a wildcard needs the DNS-01 challenge"},
		{name: "files", listeners: `{production: ":443", hosts: [a.example.com], tls: {cert: c.pem}}`, err: "listeners.tls: must be a string"},
		{name: "other value", listeners: `{production: ":443", hosts: [a.example.com], tls: manual}`, err: `listeners.tls: "manual" is not valid; valid: auto`},
		{name: "http without tls", listeners: `{production: ":8080", http: ":80"}`, err: "listeners.http: needs tls: auto"},
		{name: "http on production", listeners: `{production: ":443", http: ":443", hosts: [a.example.com], tls: auto}`, err: "listeners.http: must differ"},
		{name: "bad http address", listeners: `{production: ":443", http: "80", hosts: [a.example.com], tls: auto}`, err: "listeners.http"},
		{name: "hsts without tls", listeners: `{production: ":8080", hsts: 1h}`, err: "listeners.hsts: needs tls: auto"},
		{name: "hsts too long", listeners: `{production: ":443", hosts: [a.example.com], tls: auto, hsts: 30000h}`, err: "listeners.hsts: 30000h0m0s is out of range"},
		{name: "hsts no unit", listeners: `{production: ":443", hosts: [a.example.com], tls: auto, hsts: 3600}`, err: "listeners.hsts: \"3600\" has no unit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, err := ParseApp("cutover.yaml", []byte(base+"listeners: "+tc.listeners+"\n"))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseApp: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			l := app.Listeners
			if l.Production != tc.want.Production || l.HTTP != tc.want.HTTP || l.TLS != tc.want.TLS || l.HSTS != tc.want.HSTS ||
				strings.Join(l.Hosts, ",") != strings.Join(tc.want.Hosts, ",") {
				t.Errorf("listeners = %+v, want %+v", l, tc.want)
			}
		})
	}
}
