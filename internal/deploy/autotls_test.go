package deploy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/proxy"
)

// TestAutoTLSListeners: two apps with tls: auto share :443 and :80 by
// host; the HTTPS listener gets both apps' ACME hosts and the HSTS of the
// one that asks for it, the plain one each app's rules and a redirect
// per app; an app without tls on its own address is left alone.
func TestAutoTLSListeners(t *testing.T) {
	app := func(name string, l config.Listeners) *appState {
		return &appState{name: name, cfg: config.App{Name: name, Listeners: l}, routed: l, prod: map[string]int{colorBlue: 100}}
	}
	apps := map[string]*appState{
		"shop": app("shop", config.Listeners{Production: ":443", HTTP: ":80", Hosts: []string{"shop.example.com"}, TLS: config.TLSAuto, HSTS: time.Hour}),
		"blog": app("blog", config.Listeners{Production: ":443", HTTP: ":80", Hosts: []string{"blog.example.com"}, TLS: config.TLSAuto}),
		"api":  app("api", config.Listeners{Production: ":8080"}),
	}
	cfg := buildProxyConfig(apps)
	byAddr := map[string]proxy.ListenerConfig{}
	for _, l := range cfg.Listeners {
		byAddr[l.Address] = l
	}
	https, plain, other := byAddr[":443"], byAddr[":80"], byAddr[":8080"]
	if https.TLS == nil || !reflect.DeepEqual(https.TLS.ACMEHosts, []string{"blog.example.com", "shop.example.com"}) {
		t.Errorf(":443 TLS = %+v, want both apps' hosts", https.TLS)
	}
	if want := []proxy.HSTSConfig{{Hosts: []string{"shop.example.com"}, MaxAge: time.Hour}}; https.TLS == nil || !reflect.DeepEqual(https.TLS.HSTS, want) {
		t.Errorf(":443 HSTS = %+v, want %+v", https.TLS, want)
	}
	if plain.TLS != nil || len(plain.Rules) != 2 || !reflect.DeepEqual(plain.Rules[0].Forward, https.Rules[0].Forward) {
		t.Errorf(":80 = %+v, want the production rules of both apps, plain", plain)
	}
	wantRedirects := []proxy.HTTPSRedirect{{Hosts: []string{"blog.example.com"}, Port: 443}, {Hosts: []string{"shop.example.com"}, Port: 443}}
	if !reflect.DeepEqual(plain.HTTPSRedirects, wantRedirects) {
		t.Errorf(":80 redirects = %+v, want %+v", plain.HTTPSRedirects, wantRedirects)
	}
	if other.TLS != nil || len(other.HTTPSRedirects) != 0 {
		t.Errorf(":8080 = %+v, want plain", other)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the configuration is invalid: %v", err)
	}
}

func TestSchemeConflict(t *testing.T) {
	app := func(name string, l config.Listeners) config.App { return config.App{Name: name, Listeners: l} }
	auto := func(prod, http string, hosts ...string) config.Listeners {
		return config.Listeners{Production: prod, HTTP: http, Hosts: hosts, TLS: config.TLSAuto}
	}
	for _, tc := range []struct {
		name        string
		mine, other config.App
		want        string
	}{
		{"both https", app("a", auto(":443", ":80", "a.example.com")), app("b", auto(":443", ":80", "b.example.com")), ""},
		{"https on a plain app's listener", app("a", auto(":443", "", "a.example.com")), app("b", config.Listeners{Production: ":443", Hosts: []string{"b.example.com"}}),
			"listener :443 would be HTTPS (tls: auto) for app a but is plain HTTP for app b"},
		{"plain on an https listener", app("a", config.Listeners{Production: ":443"}), app("b", auto(":443", "", "b.example.com")),
			"listener :443 would be plain HTTP for app a but is HTTPS (tls: auto) for app b"},
		{"http on a plain production", app("a", auto(":443", ":80", "a.example.com")), app("b", config.Listeners{Production: ":80", Hosts: []string{"b.example.com"}}), ""},
		{"http on an https production", app("a", auto(":443", ":8443", "a.example.com")), app("b", auto(":8443", "", "b.example.com")),
			"listener :8443 would be plain HTTP for app a"},
		{"test on an https production", app("a", config.Listeners{Production: ":8080", Test: ":443"}), app("b", auto(":443", "", "b.example.com")),
			"listener :443 would be plain HTTP for app a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := schemeConflict(tc.mine, tc.other)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("schemeConflict: %v, want %q", err, tc.want)
			}
		})
	}
}
