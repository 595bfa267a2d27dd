package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostApp is one of several copies of examples/hello-node that share one
// production listener by host name, under one cutover started without an
// app directory.
type hostApp struct {
	name, host, dir string
	test            int
}

// TestThreeAppsShareAListenerByHost: one `cutover up` with no directory,
// three apps on one HTTPS listener by host, each with its own certificate
// from an ACME CA (pebble). A successful deployment, a rolled-back
// deployment, a crash-looping deployment and the destruction of app b
// under constant HTTPS load on all three fail no request of a and c (nor
// of b until it is destroyed); a fourth app claiming b's host is refused
// naming b, and gets the host once b is destroyed.
func TestThreeAppsShareAListenerByHost(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { checkNoTasksLeft(t, data) })
	prod, plain := freePort(t), freePort(t)
	pb := newPebble(t, pebbleConfig{TLSPort: prod, HTTPPort: plain})
	pb.start(t)
	start(t, "up", "--data", data, "--api-addr", "", "--acme-ca", pb.directory(), "--acme-ca-root", pb.minica,
		"--acme-email", "ops@cutover.test", "--acme-retry", "1s", "--acme-challenges", "http-01")
	waitFor(t, "cutover to answer", 30*time.Second, func() bool {
		_, code := run(t, "apps", "--data", data)
		return code == 0
	})
	s := &sharedListener{addr: fmt.Sprintf("127.0.0.1:%d", prod), plain: plain, roots: pb.roots(t), data: data}

	apps := map[string]*hostApp{}
	for _, name := range []string{"a", "b", "c"} {
		apps[name] = s.newApp(t, name, name+".cutover.test", "")
		deployHostApp(t, data, apps[name], "Succeeded", "--env", "APP_VERSION="+name+"-1")
	}
	for _, a := range apps {
		s.waitCert(t, a.host)
		s.waitVersion(t, a.host, a.name+"-1")
	}
	if out, _ := run(t, "status", "--data", data); !regexp.MustCompile(`(?m)^b\.cutover\.test\s+valid\s`).MatchString(out) {
		t.Errorf("cutover status does not show b.cutover.test's certificate as valid:\n%s", out)
	}

	thief := s.newApp(t, "thief", "b.cutover.test", "")
	out, code := run(t, "deploy", thief.dir, "--data", data)
	if code == 0 || !strings.Contains(out, "already claimed by app b") {
		t.Fatalf("an app claiming b's host: exit %d, want refused naming b:\n%s", code, out)
	}

	loads := map[string]*strictLoad{}
	for name, a := range apps {
		loads[name] = startHostLoad(s.addr, a.host, &tls.Config{ServerName: a.host, RootCAs: s.roots}, 2)
	}
	b := apps["b"]
	deployHostApp(t, data, b, "Succeeded", "--env", "APP_VERSION=b-2")
	s.waitVersion(t, b.host, "b-2")
	deployHostApp(t, data, b, "RolledBack", "--env", "APP_VERSION=b-3", "--env", "BROKEN=1")
	crashing := s.newApp(t, "b", b.host, `[node, -e, "process.exit(1)"]`)
	deployHostApp(t, data, crashing, "", "--env", "APP_VERSION=b-4")
	s.waitVersion(t, b.host, "b-2")
	loads["b"].finish(t)

	out, code = run(t, "apps", "destroy", "b", "--confirm", "b", "--data", data)
	if code != 0 {
		t.Fatalf("cutover apps destroy b: exit %d\n%s", code, out)
	}
	for _, name := range []string{"a", "c"} {
		loads[name].finish(t)
	}
	if out, _ := run(t, "apps", "--data", data); strings.Contains(out, "\nb ") {
		t.Errorf("b is still listed after destroy:\n%s", out)
	}
	deployHostApp(t, data, thief, "Succeeded", "--env", "APP_VERSION=thief-1")
	s.waitVersion(t, b.host, "thief-1")
	for _, name := range []string{"a", "c"} {
		s.waitVersion(t, apps[name].host, name+"-1")
	}

	out, code = run(t, "apps", "destroy", "a", "--data", data)
	if code == 0 || !strings.Contains(out, "--confirm a") {
		t.Errorf("destroy without --confirm: exit %d, want refused asking for it:\n%s", code, out)
	}
	if out, code := run(t, "apps", "destroy", "nope", "--confirm", "nope", "--data", data); code == 0 {
		t.Errorf("destroying an unknown app exited 0:\n%s", out)
	}
}

// sharedListener is the HTTPS listener (tls: auto) and its plain
// listener that the apps of TestThreeAppsShareAListenerByHost share.
type sharedListener struct {
	addr  string // the HTTPS listener
	plain int    // the plain listener's port (HTTP-01, redirects)
	roots *x509.CertPool
	data  string
}

// newApp is newHostApp on the shared HTTPS listener with tls: auto.
func (s *sharedListener) newApp(t *testing.T, name, host, command string) *hostApp {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	prod, _ := strconv.Atoi(port)
	a := newHostApp(t, name, host, prod, command)
	cfg := filepath.Join(a.dir, "cutover.yaml")
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "  hosts: ["+host+"]",
		fmt.Sprintf("  hosts: [%s]\n  tls: auto\n  http: \"127.0.0.1:%d\"", host, s.plain), 1))
	return a
}

// waitCert waits until cutover certs says host's certificate is valid.
func (s *sharedListener) waitCert(t *testing.T, host string) {
	t.Helper()
	waitFor(t, "a certificate for "+host, 90*time.Second, func() bool {
		out, code := run(t, "certs", "--data", s.data, "--json")
		var list []struct{ Host, State string }
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			return false
		}
		return slices.Contains(list, struct{ Host, State string }{host, "valid"})
	})
}

// waitVersion waits until host answers over HTTPS, with a certificate
// for its name, with version.
func (s *sharedListener) waitVersion(t *testing.T, host, version string) {
	t.Helper()
	var d net.Dialer
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:     func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", s.addr) },
		TLSClientConfig: &tls.Config{RootCAs: s.roots},
	}}
	defer client.CloseIdleConnections()
	waitFor(t, host+" to answer with "+version, 60*time.Second, func() bool {
		code, body := get(client, "https://"+host+"/")
		return code == http.StatusOK && strings.Contains(body, `"version":"`+version+`"`)
	})
}

// newHostApp copies hello-node as app name serving host on the shared
// production port, with its own test listener; command, when set,
// replaces the service's command.
func newHostApp(t *testing.T, name, host string, prod int, command string) *hostApp {
	t.Helper()
	a := &hostApp{name: name, host: host, dir: filepath.Join(t.TempDir(), name), test: freePort(t)}
	copyDir(t, "../examples/hello-node", a.dir)
	cfg := readFile(t, filepath.Join(a.dir, "cutover.yaml"))
	for _, r := range [][2]string{
		{"name: hello", "name: " + name},
		{"count: 3", "count: 2"},
		{`production: "127.0.0.1:8080"`, fmt.Sprintf("production: \"127.0.0.1:%d\"\n  hosts: [%s]", prod, host)},
		{`test: "127.0.0.1:8090"`, fmt.Sprintf(`test: "127.0.0.1:%d"`, a.test)},
		{"interval: 5s", "interval: 1s"},
		{"termination_wait: 30s", "termination_wait: 1s\n  progress_deadline: 20s"},
		{"deregistration_delay: 5s", "deregistration_delay: 1s"},
	} {
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	if command != "" {
		cfg = strings.Replace(cfg, "command: [node, app.js]", "command: "+command, 1)
	}
	writeFile(t, filepath.Join(a.dir, "cutover.yaml"), cfg)
	return a
}

// deployHostApp deploys a and checks how the deployment ended ("" for
// any end other than Succeeded).
func deployHostApp(t *testing.T, data string, a *hostApp, want string, args ...string) {
	t.Helper()
	out, code := run(t, append([]string{"deploy", a.dir, "--data", data}, args...)...)
	switch {
	case want == "Succeeded" && code != 0, want != "" && !strings.Contains(out, want):
		t.Fatalf("deploying %s: exit %d, want %s:\n%s", a.name, code, want, out)
	case want == "" && (code == 0 || strings.Contains(out, "Succeeded")):
		t.Fatalf("deploying %s: exit %d, want it to fail:\n%s", a.name, code, out)
	}
}
