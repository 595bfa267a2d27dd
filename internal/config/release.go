package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Release command limits: Heroku's release phase allows an hour.
const (
	DefaultReleaseTimeout = 5 * time.Minute
	maxReleaseTimeout     = time.Hour
)

// release reads deploy.release (a shell command string or an argument
// list, as service.command) and deploy.release_timeout into d.
func (w *walker) release(f map[string]*yaml.Node, d *Deploy) {
	d.ReleaseTimeout = DefaultReleaseTimeout
	if v := f["release"]; v != nil {
		d.Release = w.command(v, "deploy.release")
	}
	if v := f["release_timeout"]; v != nil {
		d.ReleaseTimeout = w.duration(v, "deploy.release_timeout", time.Second, maxReleaseTimeout)
		if f["release"] == nil {
			w.errorf(v, "deploy.release_timeout", "applies to a release command; give deploy.release too, e.g. release: [node, migrate.js]")
		}
	}
}

// releaseRuntime refuses a release command on a runtime that cannot run
// one-off tasks yet.
func (w *walker) releaseRuntime(app *App, deploy *yaml.Node) {
	if len(app.Deploy.Release) == 0 || app.Service.Runtime != RuntimeSwarm {
		return
	}
	n := resolve(deploy)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "release" {
			n = n.Content[i+1]
			break
		}
	}
	w.errorf(n, "deploy.release", "is not supported on the swarm runtime yet; valid runtimes for a release command: process, docker")
}
