package runtime

import "strings"

// InheritedEnv returns the variables of environ (cutover's environment,
// as os.Environ gives it) that tasks, builds and hooks inherit: what a
// program needs to find its tools and speak the local language, and
// nothing else. cutover's own secrets (cloud credentials, tokens,
// DOCKER_HOST) never reach them; what they need comes from their
// configuration.
func InheritedEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && inherited(name) {
			out = append(out, kv)
		}
	}
	return out
}

func inherited(name string) bool {
	switch name {
	case "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "LANG":
		return true
	}
	return strings.HasPrefix(name, "LC_")
}
