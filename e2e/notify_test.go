package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// receiver is a webhook receiver: it records every request and answers
// 500 to the first fails of them, 200 to the rest.
type receiver struct {
	url   string
	mu    sync.Mutex
	fails int
	got   []delivery
}

type delivery struct {
	header http.Header
	body   []byte
	status int
}

func startReceiver(t *testing.T, fails int) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/hook", fails: fails}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	status := http.StatusOK
	if len(r.got) < r.fails {
		status = http.StatusInternalServerError
	}
	r.got = append(r.got, delivery{header: req.Header.Clone(), body: body, status: status})
	r.mu.Unlock()
	w.WriteHeader(status)
}

// taken returns the deliveries answered 200, by event.
func (r *receiver) taken() map[string]delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]delivery{}
	for _, d := range r.got {
		if d.status == http.StatusOK {
			out[d.header.Get("X-Cutover-Event")] = d
		}
	}
	return out
}

func (r *receiver) requests() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// signedBy checks X-Cutover-Signature as a receiver would: the hex
// HMAC-SHA256 of the body under secret.
func signedBy(d delivery, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(d.body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(d.header.Get("X-Cutover-Signature")), []byte(want))
}

type notifyBody struct {
	Delivery, Event, App, Deployment, Status, Text, URL string
	SentAt                                              time.Time `json:"sent_at"`
}

// TestNotificationsDelivered: cutover.yaml's webhook gets the first
// deployment's started and succeeded events, signed with the secret from
// cutover's environment; the receiver's first answer is 500, so the
// started delivery is retried, and cutover is stopped between the two
// attempts: the new cutover resumes it. A webhook added with `cutover
// notifications add` gets the next deployment's, signed with its own
// secret. Bad input changes nothing.
func TestNotificationsDelivered(t *testing.T) {
	const yamlSecret, cliSecret = "e2e-yaml-secret-4f1c", "e2e-cli-secret-9b2d"
	recv := startReceiver(t, 1)
	a := newHelloApp(t, func(cfg string) string {
		cfg = strings.Replace(cfg, "env: {NODE_ENV: production}", "env: {NODE_ENV: production, DB_PASSWORD: e2e-db-password-77}", 1)
		return cfg + fmt.Sprintf("notifications:\n  - url: %s\n    events: [deployment.started, deployment.succeeded]\n    secret_env: CUTOVER_E2E_HOOK_SECRET\n", recv.url)
	})
	t.Setenv("CUTOVER_E2E_HOOK_SECRET", yamlSecret)

	first := start(t, "up", a.dir, "--data", a.data, "--api-addr", "")
	waitFor(t, "the first attempt of deployment.started recorded", 60*time.Second, func() bool {
		out, _ := run(t, "notifications", "deliveries", "hello", "--data", a.data)
		return len(recv.requests()) >= 1 && strings.Contains(out, "500 Internal Server Error")
	})
	// Stop cutover (SIGTERM leaves the tasks for the next one to adopt)
	// while the delivery waits for its retry.
	first.cmd.Process.Signal(syscall.SIGTERM)
	<-first.done
	a.up(t, "1.0.0")

	waitFor(t, "deployment.started and .succeeded taken", 90*time.Second, func() bool { return len(recv.taken()) == 2 })
	reqs := recv.requests()
	if reqs[0].status != 500 || reqs[0].header.Get("X-Cutover-Event") != "deployment.started" {
		t.Fatalf("first request: %d %s, want the 500 answered to deployment.started", reqs[0].status, reqs[0].header.Get("X-Cutover-Event"))
	}
	taken := recv.taken()
	started, succeeded := taken["deployment.started"], taken["deployment.succeeded"]
	if id := reqs[0].header.Get("X-Cutover-Delivery"); id == "" || started.header.Get("X-Cutover-Delivery") != id {
		t.Errorf("the retry has delivery id %q, the first attempt %q: want the same", started.header.Get("X-Cutover-Delivery"), id)
	}
	for _, d := range []delivery{reqs[0], started, succeeded} {
		checkNotification(t, d, yamlSecret)
	}
	var body notifyBody
	json.Unmarshal(succeeded.body, &body)
	if body.App != "hello" || body.Deployment != "hello-d1" || body.Status != "Succeeded" || body.Text != "hello: deployment hello-d1 succeeded" {
		t.Errorf("deployment.succeeded body %s", succeeded.body)
	}

	// Both attempts are recorded; the second succeeded.
	var ds []struct {
		Event, Status string
		Attempts      int
		AttemptLog    []struct {
			StatusCode int `json:"status_code"`
		} `json:"attempt_log"`
	}
	out, code := run(t, "notifications", "deliveries", "hello", "--data", a.data, "--json")
	if code != 0 || json.Unmarshal([]byte(out), &ds) != nil || len(ds) != 2 {
		t.Fatalf("cutover notifications deliveries: exit %d\n%s", code, out)
	}
	for _, d := range ds {
		if d.Event == "deployment.started" && (d.Status != "succeeded" || d.Attempts != 2 || len(d.AttemptLog) != 2 ||
			d.AttemptLog[0].StatusCode != 500 || d.AttemptLog[1].StatusCode != 200) {
			t.Errorf("deployment.started delivery %+v, want succeeded at the second attempt after a 500", d)
		}
	}
	if text, _ := run(t, "notifications", "deliveries", "hello", "--data", a.data); !strings.Contains(text, "deployment.started") || !strings.Contains(text, "#2") {
		t.Errorf("cutover notifications deliveries does not show the attempts:\n%s", text)
	}

	// A webhook added with the CLI, with its own secret.
	cli := startReceiver(t, 0)
	out, code = runStdin(t, cliSecret+"\n", "notifications", "add", "hello", cli.url, "--events", "deployment.succeeded", "--secret-stdin", "--data", a.data)
	if code != 0 || !strings.Contains(out, "added webhook hello-n1") {
		t.Fatalf("cutover notifications add: exit %d\n%s", code, out)
	}
	if out, code := a.deploy(t, "--env", "APP_VERSION=2.0.0"); code != 0 {
		t.Fatalf("cutover deploy: exit %d\n%s", code, out)
	}
	waitFor(t, "the added webhook to get deployment.succeeded", 60*time.Second, func() bool { return len(cli.taken()) == 1 })
	got := cli.requests()
	if len(got) != 1 || got[0].header.Get("X-Cutover-Event") != "deployment.succeeded" {
		t.Errorf("the added webhook got %d requests, want deployment.succeeded only", len(got))
	}
	checkNotification(t, got[0], cliSecret)
	if signedBy(got[0], yamlSecret) {
		t.Error("the added webhook's body is signed with cutover.yaml's secret")
	}

	badInputChangesNothing(t, a, cli.url)
}

// checkNotification checks what a receiver would: the signature, the
// headers that match the body, and no secret in it.
func checkNotification(t *testing.T, d delivery, secret string) {
	t.Helper()
	if !signedBy(d, secret) {
		t.Errorf("%s: X-Cutover-Signature %q does not verify", d.header.Get("X-Cutover-Event"), d.header.Get("X-Cutover-Signature"))
	}
	var b notifyBody
	if err := json.Unmarshal(d.body, &b); err != nil {
		t.Fatalf("body %s: %v", d.body, err)
	}
	ts, _ := strconv.ParseInt(d.header.Get("X-Cutover-Timestamp"), 10, 64)
	if b.Delivery != d.header.Get("X-Cutover-Delivery") || b.Event != d.header.Get("X-Cutover-Event") || b.SentAt.Unix() != ts {
		t.Errorf("body %s does not match its headers %v", d.body, d.header)
	}
	if since := time.Since(b.SentAt); since < 0 || since > 5*time.Minute {
		t.Errorf("sent_at %s is not the time it was sent", b.SentAt)
	}
	for _, s := range []string{secret, "e2e-db-password-77"} {
		if strings.Contains(string(d.body), s) {
			t.Errorf("the body carries %q: %s", s, d.body)
		}
	}
}

func badInputChangesNothing(t *testing.T, a *helloApp, url string) {
	t.Helper()
	before, _ := run(t, "notifications", "list", "hello", "--data", a.data)
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "nope", "http://127.0.0.1:1/x"}, "not found"},
		{[]string{"add", "hello", "ftp://127.0.0.1/x"}, "is not an http or https URL"},
		{[]string{"add", "hello", "not a url"}, "is not an http or https URL"},
		{[]string{"add", "hello", "http://127.0.0.1:1/x", "--events", "deployment.exploded"}, `"deployment.exploded" is not a notification event`},
		{[]string{"add", "hello", url}, "already has a webhook"},
		{[]string{"remove", "hello", "hello-n7"}, "has no webhook hello-n7"},
		{[]string{"deliveries", "nope"}, "not found"},
	} {
		out, code := run(t, append(append([]string{"notifications"}, bad.args...), "--data", a.data)...)
		if code == 0 || !strings.Contains(out, bad.want) {
			t.Errorf("cutover notifications %s: exit %d, want an error with %q:\n%s", strings.Join(bad.args, " "), code, bad.want, out)
		}
	}
	if after, _ := run(t, "notifications", "list", "hello", "--data", a.data); after != before {
		t.Errorf("refused calls changed the webhooks:\n%s\n->\n%s", before, after)
	}
	cfg := readFile(t, a.dir+"/cutover.yaml")
	writeFile(t, a.dir+"/cutover.yaml", strings.Replace(cfg, "secret_env: CUTOVER_E2E_HOOK_SECRET", "secret: hunter2", 1))
	out, code := a.deploy(t)
	if code == 0 || !strings.Contains(out, "a secret is not written in cutover.yaml") || strings.Contains(out, "hunter2") {
		t.Errorf("deploying a cutover.yaml with a secret in clear: exit %d\n%s", code, out)
	}
}

// runStdin is run with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(cutoverBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}
