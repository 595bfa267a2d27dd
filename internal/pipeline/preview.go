package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// Defaults of Preview.
const (
	DefaultPreviewLimit = 5
	DefaultPreviewIdle  = 72 * time.Hour
)

// Preview are an app's preview settings: with them, each pull request
// (opened, reopened, new commits) and each push to a branch matching
// Branches gets an app of its own, made from the same cutover.yaml, at a
// host under Domain; it is destroyed when the pull request closes, the
// branch is deleted, or it has been idle for Idle (previewops.go).
type Preview struct {
	// Domain is a wildcard, "*.hello.example.com": a preview's host is
	// pr-42.hello.example.com, or the branch's name as a DNS label.
	Domain string `json:"domain"`
	// Branches, when set, give pushes to matching branches (but the
	// pipeline's own) a preview too.
	Branches *Patterns `json:"branches,omitempty"`
	// Count is each preview's tasks; default 1.
	Count int `json:"count,omitempty"`
	// Env is added to (and overrides) the service's environment.
	Env map[string]string `json:"env,omitempty"`
	// TestListener is the previews' test listener address; "" gives them
	// none (the app's own cannot be shared).
	TestListener string `json:"test_listener,omitempty"`
	// Idle destroys a preview that no event has touched for this long;
	// default 72h, negative: never.
	Idle time.Duration `json:"idle,omitempty"`
	// Limit is how many previews of the app run at once; default 5. One
	// more is refused (preview.refused).
	Limit int `json:"limit,omitempty"`
}

const (
	maxPreviewLimit = 100
	maxPreviewEnv   = 100
)

var (
	appNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// withDefaults fills in Count, Idle and Limit.
func (pv Preview) withDefaults() Preview {
	if pv.Count <= 0 {
		pv.Count = 1
	}
	if pv.Idle == 0 {
		pv.Idle = DefaultPreviewIdle
	}
	if pv.Limit <= 0 {
		pv.Limit = DefaultPreviewLimit
	}
	return pv
}

// Check says, field by field, what is wrong with the settings.
func (pv *Preview) Check() error {
	if pv == nil {
		return nil
	}
	var errs []error
	if err := checkPreviewDomain(pv.Domain); err != nil {
		errs = append(errs, err)
	}
	if pv.Count < 0 || pv.Count > 100 {
		errs = append(errs, fmt.Errorf("preview.count %d: valid: 1-100 (0 is the default, 1)", pv.Count))
	}
	if pv.Limit < 0 || pv.Limit > maxPreviewLimit {
		errs = append(errs, fmt.Errorf("preview.limit %d: valid: 1-%d (0 is the default, %d)", pv.Limit, maxPreviewLimit, DefaultPreviewLimit))
	}
	if pv.Idle > 0 && pv.Idle < time.Minute {
		errs = append(errs, fmt.Errorf("preview.idle %s: valid: at least 1m, 0 (the default, %s) or negative (never)", pv.Idle, DefaultPreviewIdle))
	}
	if len(pv.Env) > maxPreviewEnv {
		errs = append(errs, fmt.Errorf("preview.env: at most %d variables", maxPreviewEnv))
	}
	for name := range pv.Env {
		if !envNameRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("preview.env: %q is not a variable name; valid: letters, digits and _, not starting with a digit", name))
		}
	}
	if pv.TestListener != "" {
		if _, port, err := net.SplitHostPort(pv.TestListener); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("preview.test_listener %q: valid: an address such as \":8091\"", pv.TestListener))
		}
	}
	errs = append(errs, pv.Branches.check("preview.branches"))
	return errors.Join(errs...)
}

func checkPreviewDomain(domain string) error {
	rest, ok := strings.CutPrefix(domain, "*.")
	labels := strings.Split(rest, ".")
	bad := !ok || len(labels) < 2 || len(domain) > 190
	for _, l := range labels {
		bad = bad || !dnsLabelRE.MatchString(l)
	}
	if bad {
		return fmt.Errorf("preview.domain %q: valid: a wildcard of lowercase DNS labels, e.g. \"*.hello.example.com\"", domain)
	}
	return nil
}

// previewKey names what a preview is for: "pr:42" or "branch:<name>".
func previewKey(t Trigger) string {
	if t.PR != nil {
		return "pr:" + strconv.Itoa(t.PR.Number)
	}
	return "branch:" + t.Name()
}

// previewLabel is the preview's DNS label: pr-42, or the branch's name
// in lowercase with every other character a '-', at most 63 characters.
func previewLabel(t Trigger) string {
	if t.PR != nil {
		return "pr-" + strconv.Itoa(t.PR.Number)
	}
	var b strings.Builder
	for _, c := range strings.ToLower(t.Name()) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	label := strings.Trim(collapseDashes(b.String()), "-")
	if label == "" {
		label = "branch"
	}
	return shorten(label, t.Name(), 63)
}

// PreviewName is the preview app's name: <parent>-<label>, shortened to a
// valid app name (63 characters) with a hash of the full name when it is
// longer, so that two long names stay apart.
func PreviewName(parent, label string) string {
	return shorten(parent+"-"+label, parent+"\x00"+label, 63)
}

// shorten returns s when it has at most n characters, else its first
// characters, a '-' and 8 hex digits of key's hash.
func shorten(s, key string, n int) string {
	if len(s) <= n {
		return s
	}
	sum := sha256.Sum256([]byte(key))
	return strings.TrimRight(s[:n-9], "-") + "-" + hex.EncodeToString(sum[:4])
}

func collapseDashes(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// previewHost is label under the wildcard domain.
func previewHost(domain, label string) string {
	return label + strings.TrimPrefix(domain, "*")
}

// previewURL is how a browser reaches host on the app's production
// listener: https with automatic TLS, and the listener's port unless it
// is the scheme's own.
func previewURL(cfg config.App, host string) string {
	scheme, std := "http", "80"
	if cfg.Listeners.TLS != "" {
		scheme, std = "https", "443"
	}
	_, port, err := net.SplitHostPort(cfg.Listeners.Production)
	if err != nil || port == std || port == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// previewConfig is the preview app's configuration: the parent's
// (cutover.yaml of the commit, or the app's) with the preview's name,
// host, count, environment and test listener.
func previewConfig(cfg config.App, pv store.Preview, set Preview) config.App {
	set = set.withDefaults()
	cfg.Name = pv.App
	cfg.Listeners.Hosts = []string{pv.Host}
	cfg.Listeners.Test = set.TestListener
	cfg.Service.Count = set.Count
	env := maps.Clone(cfg.Service.Env)
	if env == nil && len(set.Env) > 0 {
		env = make(map[string]string, len(set.Env))
	}
	maps.Copy(env, set.Env)
	cfg.Service.Env = env
	return cfg
}

// idlePreviews are the previews that have seen no activity for idle at
// now; none when idle is negative (never).
func idlePreviews(list []store.Preview, idle time.Duration, now time.Time) []store.Preview {
	if idle < 0 {
		return nil
	}
	var out []store.Preview
	for _, p := range list {
		if p.Status != store.PreviewDestroying && now.Sub(p.UpdatedAt) >= idle {
			out = append(out, p)
		}
	}
	return out
}
