package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/sandbox"
	"github.com/cutover/cutover/internal/store"
)

// HookPayload is the JSON body an HTTP hook receives with POST.
type HookPayload struct {
	DeploymentID   string `json:"deploymentId"`
	LifecycleEvent string `json:"lifecycleEvent"`
	App            string `json:"app"`
	Revision       string `json:"revision"`
	TestURL        string `json:"testUrl,omitempty"`
	ProductionURL  string `json:"productionUrl,omitempty"`
}

// hookStep runs the hooks of a lifecycle event, in order; the first that
// fails fails the event.
func (c *Controller) hookStep(event string) stepFunc {
	return func(ctx context.Context, r *run, _ time.Time) (string, string, error) {
		hooks := r.cfg.Deploy.Hooks[event]
		if len(hooks) == 0 {
			return store.LifecycleSkipped, "no hooks", nil
		}
		for i, h := range hooks {
			if err := c.runHook(ctx, r, event, h); err != nil {
				return "", "", fmt.Errorf("hook %d (%s): %w", i+1, describeHook(h), err)
			}
		}
		if len(hooks) == 1 {
			return store.LifecycleSucceeded, "1 hook succeeded", nil
		}
		return store.LifecycleSucceeded, fmt.Sprintf("%d hooks succeeded", len(hooks)), nil
	}
}

func describeHook(h config.Hook) string {
	if h.URL != "" {
		return h.URL
	}
	return strings.Join(h.Command, " ")
}

// runHook runs one hook within its timeout, with its output appended to
// the deployment's hook log.
func (c *Controller) runHook(ctx context.Context, r *run, event string, h config.Hook) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = config.DefaultHookTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ls := c.listeners(r.app)
	p := HookPayload{
		DeploymentID: r.d.ID, LifecycleEvent: event, App: r.app.name, Revision: r.rev.ID,
		TestURL: c.listenerURL(ls.Test), ProductionURL: c.listenerURL(ls.Production),
	}
	logw, closeLog := c.hookLog(r.d.ID)
	defer closeLog()
	fmt.Fprintf(logw, "=== %s %s: %s\n", time.Now().UTC().Format(time.RFC3339), event, describeHook(h))

	var err error
	if h.URL != "" {
		err = callHook(ctx, h.URL, p, logw)
	} else {
		err = execHook(ctx, c.sandbox, r.cfg.Dir, h.Command, p, logw)
	}
	switch {
	case parent.Err() != nil:
		err = fmt.Errorf("ended: %w", parent.Err()) // deadline, stop or rollback of the deployment
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %s", timeout)
	}
	result := "Succeeded"
	if err != nil {
		result = "Failed: " + err.Error()
	}
	fmt.Fprintf(logw, "=== %s\n", result)
	return err
}

// execHook runs a command hook in dir, in its own process group, which
// is killed when ctx ends. In sb the hook sees dir read-only, a /tmp of
// its own (also its HOME) and the system directories, as sb's user; the
// log says when it runs with less.
func execHook(ctx context.Context, sb *sandbox.Sandbox, dir string, command []string, p HookPayload, out io.Writer) error {
	if len(command) == 0 {
		return errors.New("no command")
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Dir = dir
	base := runtime.InheritedEnv(os.Environ())
	if sb.Mode() != sandbox.ModeOff {
		base = sandbox.Environ(base, "/tmp")
	}
	// Only the variables that locate tools and the locale, never
	// cutover's credentials: a hook is the app's code.
	cmd.Env = append(base,
		"CUTOVER_DEPLOYMENT_ID="+p.DeploymentID,
		"CUTOVER_APP="+p.App,
		"CUTOVER_REVISION="+p.Revision,
		"CUTOVER_LIFECYCLE_EVENT="+p.LifecycleEvent,
		"CUTOVER_TEST_URL="+p.TestURL,
		"CUTOVER_PRODUCTION_URL="+p.ProductionURL,
	)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, killed as a whole at the timeout; and it dies
	// with cutover, which runs it again when it resumes the deployment.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if w := sb.Warning(); w != "" {
		fmt.Fprintln(out, w)
	}
	var binds []sandbox.Bind
	if dir != "" {
		binds = append(binds, sandbox.Bind{Host: dir})
	}
	if err := sb.Wrap(cmd, sandbox.Spec{Binds: binds, Dir: dir}); err != nil {
		return fmt.Errorf("sandboxing the hook: %w", err)
	}
	if err := cmd.Run(); err != nil {
		return err
	}
	return nil
}

// callHook POSTs the payload to url; a 2xx answer is success.
func callHook(ctx context.Context, url string, p HookPayload, out io.Writer) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	fmt.Fprintf(out, "%s\n", resp.Status)
	io.Copy(out, io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintln(out)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// hookLog opens the deployment's hook log for appending; without a data
// dir, output is discarded.
func (c *Controller) hookLog(deploymentID string) (io.Writer, func()) {
	if c.dataDir == "" {
		return io.Discard, func() {}
	}
	path := HookLogPath(c.dataDir, deploymentID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		c.log.Warn("creating hook log", "err", err)
		return io.Discard, func() {}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		c.log.Warn("opening hook log", "err", err)
		return io.Discard, func() {}
	}
	return f, func() { f.Close() }
}

// HookLogPath is where the output of a deployment's hooks is kept.
func HookLogPath(dataDir, deploymentID string) string {
	return filepath.Join(dataDir, "deployments", deploymentID, "hooks.log")
}

// listenerURL is the http:// URL clients on this machine reach a
// listener at; "" when there is no such listener.
func (c *Controller) listenerURL(addr string) string {
	if addr == "" {
		return ""
	}
	if a := c.router.Addr(addr); a != nil {
		addr = a.String()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
