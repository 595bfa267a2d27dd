package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Notification is a webhook cutover.yaml's notifications list names:
// cutover POSTs a signed JSON body to URL on each event Events selects.
//
// The secret that signs the body is never written in cutover.yaml (the
// file is committed): SecretEnv names a variable of cutover's own
// environment, read when a delivery is queued. Webhooks with a secret
// kept in the store are added with `cutover notifications add`.
type Notification struct {
	URL       string
	Events    []string // NotificationEvents or "deployment.*", "pipeline.*", "preview.*"; empty: all
	SecretEnv string   // optional
}

// NotificationEvents are the events a webhook can be called on.
var NotificationEvents = []string{
	"deployment.started", "deployment.waiting", "deployment.succeeded",
	"deployment.failed", "deployment.rolled_back", "deployment.stopped",
	"pipeline.started", "pipeline.waiting", "pipeline.succeeded",
	"pipeline.failed", "pipeline.stopped",
	"preview.deployed", "preview.failed", "preview.refused", "preview.destroyed",
}

// maxNotifications bounds the webhooks of one cutover.yaml.
const maxNotifications = 20

// CheckNotificationEvent says why name is not an event filter, nil when
// it is: one of NotificationEvents, "deployment.*", "pipeline.*",
// "preview.*" or "*".
func CheckNotificationEvent(name string) error {
	if slices.Contains(NotificationEvents, name) || name == "*" || name == "deployment.*" || name == "pipeline.*" || name == "preview.*" {
		return nil
	}
	return fmt.Errorf("%q is not a notification event; valid: %s, deployment.*, pipeline.*, preview.*",
		name, strings.Join(NotificationEvents, ", "))
}

// CheckNotificationURL says why u cannot be a webhook URL, nil when it
// can: an absolute http or https URL with a host, without a user or
// password (those go in the secret) and at most 2048 bytes.
func CheckNotificationURL(u string) error {
	if len(u) > 2048 {
		return errors.New("the URL is longer than 2048 bytes")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", u, err)
	}
	switch {
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Errorf("%q is not an http or https URL", u)
	case p.Host == "" || p.Hostname() == "":
		return fmt.Errorf("%q has no host", u)
	case p.User != nil:
		return fmt.Errorf("%q has a user or password; sign with a secret instead", u)
	case p.Fragment != "":
		return fmt.Errorf("%q has a #fragment", u)
	}
	return nil
}

// notifications reads the top-level notifications list.
func (w *walker) notifications(n *yaml.Node) []Notification {
	items := w.list(n, "notifications")
	if len(items) > maxNotifications {
		w.errorf(n, "notifications", "has %d webhooks; at most %d", len(items), maxNotifications)
	}
	var out []Notification
	for i, item := range items {
		out = append(out, w.notification(item, index("notifications", i)))
	}
	return out
}

func (w *walker) notification(n *yaml.Node, path string) Notification {
	var nt Notification
	f := w.fields(n, path, "url", "events", "secret_env", "secret")
	if f == nil {
		return nt
	}
	if v := f["secret"]; v != nil {
		w.errorf(v, join(path, "secret"), "a secret is not written in cutover.yaml; "+
			"name a variable of cutover's environment with secret_env, or add the webhook with `cutover notifications add --secret-stdin`")
	}
	if v := w.required(f, n, path, "url", "give the webhook's http or https URL"); v != nil {
		nt.URL = w.str(v, join(path, "url"))
		if err := CheckNotificationURL(nt.URL); err != nil && nt.URL != "" {
			w.errorf(v, join(path, "url"), "%v", err)
		}
	}
	if v := f["events"]; v != nil {
		nt.Events = w.strList(v, join(path, "events"))
		for i, e := range nt.Events {
			if err := CheckNotificationEvent(e); err != nil {
				w.errorf(v, index(join(path, "events"), i), "%v", err)
			}
		}
	}
	if v := f["secret_env"]; v != nil {
		nt.SecretEnv = w.str(v, join(path, "secret_env"))
		if !envNameRE.MatchString(nt.SecretEnv) {
			w.errorf(v, join(path, "secret_env"), "%q is not a valid environment variable name; valid: letters, digits and _, not starting with a digit", nt.SecretEnv)
		}
	}
	return nt
}
