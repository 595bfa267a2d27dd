package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pebble is Let's Encrypt's test ACME server, run as processes: pebble
// itself and pebble-challtestsrv, which answers DNS for every name with
// 127.0.0.1, so that pebble validates challenges against cutover's
// listeners. Both are built from the module in go.mod (a tool
// dependency) on first use.
type pebble struct {
	dir      string // its config and certificates
	addr     string // the ACME server, host:port
	mgmt     string // its management interface
	dns      string // challtestsrv's DNS server
	minica   string // the root of pebble's own HTTPS certificate (PEM file)
	config   pebbleConfig
	proc     *exec.Cmd
	procDone chan struct{}
	out      *process // its output
}

type pebbleConfig struct {
	HTTPPort, TLSPort int
	Validity          time.Duration // of the certificates it issues
	Blocked           []string      // names it refuses to issue for
}

var (
	pebbleBuild    sync.Once
	pebbleBinDir   string
	pebbleBuildErr error
	pebbleModDir   string
)

// buildPebble builds pebble and pebble-challtestsrv next to cutover.
func buildPebble(t *testing.T) {
	t.Helper()
	pebbleBuild.Do(func() {
		pebbleBinDir = filepath.Dir(cutoverBin)
		out, err := exec.Command("go", "build", "-o", pebbleBinDir+"/",
			"github.com/letsencrypt/pebble/v2/cmd/pebble",
			"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv").CombinedOutput()
		if err != nil {
			pebbleBuildErr = fmt.Errorf("building pebble: %v\n%s", err, out)
			return
		}
		dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
		if err != nil {
			pebbleBuildErr = fmt.Errorf("finding pebble's module: %v", err)
			return
		}
		pebbleModDir = strings.TrimSpace(string(dir))
	})
	if pebbleBuildErr != nil {
		t.Fatal(pebbleBuildErr)
	}
}

// newPebble prepares a pebble on free ports; start runs it.
func newPebble(t *testing.T, cfg pebbleConfig) *pebble {
	t.Helper()
	buildPebble(t)
	p := &pebble{
		dir:    t.TempDir(),
		addr:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		mgmt:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		dns:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		minica: filepath.Join(pebbleModDir, "test/certs/pebble.minica.pem"),
		config: cfg,
	}
	validity := int64(cfg.Validity / time.Second)
	if validity == 0 {
		validity = 7776000
	}
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  p.addr,
		"managementListenAddress":        p.mgmt,
		"certificate":                    filepath.Join(pebbleModDir, "test/certs/localhost/cert.pem"),
		"privateKey":                     filepath.Join(pebbleModDir, "test/certs/localhost/key.pem"),
		"httpPort":                       cfg.HTTPPort,
		"tlsPort":                        cfg.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"domainBlocklist":                append([]string{"blocked-domain.example"}, cfg.Blocked...),
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{
			"default": map[string]any{"description": "e2e", "validityPeriod": validity},
		},
	}}
	b, _ := json.Marshal(conf)
	writeFile(t, filepath.Join(p.dir, "pebble.json"), string(b))
	p.startDNS(t)
	return p
}

// directory is the ACME directory URL.
func (p *pebble) directory() string { return "https://" + p.addr + "/dir" }

// startDNS runs pebble-challtestsrv with only its DNS server, answering
// 127.0.0.1 for every A query and nothing for AAAA.
func (p *pebble) startDNS(t *testing.T) {
	t.Helper()
	cmd := exec.Command(filepath.Join(pebbleBinDir, "pebble-challtestsrv"),
		"-dnsserver", p.dns, "-management", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	out := &process{done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { stopProc(cmd, done) })
}

// start runs pebble and waits until its directory answers.
func (p *pebble) start(t *testing.T) {
	t.Helper()
	p.out = &process{done: make(chan struct{})}
	p.proc = exec.Command(filepath.Join(pebbleBinDir, "pebble"), "-config", filepath.Join(p.dir, "pebble.json"), "-dnsserver", p.dns)
	p.proc.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	p.proc.Stdout, p.proc.Stderr = p.out, p.out
	if err := p.proc.Start(); err != nil {
		t.Fatal(err)
	}
	p.procDone = make(chan struct{})
	proc, done := p.proc, p.procDone
	go func() { proc.Wait(); close(done) }()
	t.Cleanup(func() {
		stopProc(proc, done)
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.out.output())
		}
	})
	client := p.client(t)
	waitFor(t, "pebble to serve its directory", 30*time.Second, func() bool {
		code, _ := get(client, p.directory())
		return code == 200
	})
}

func stopProc(cmd *exec.Cmd, done chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// client trusts pebble's own HTTPS certificate.
func (p *pebble) client(t *testing.T) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, p.minica))) {
		t.Fatal("no certificate in pebble's minica.pem")
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// roots returns the roots pebble issues certificates under (it makes a
// new one at each start).
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client(t).Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if resp.StatusCode != 200 || !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble's root: %d %s", resp.StatusCode, b)
	}
	return pool
}
