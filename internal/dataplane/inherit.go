package dataplane

import (
	"os"
	"strconv"
	"strings"
)

// InheritedFiles returns the descriptors a parent process passed and
// named in the environment variable env as "name=fd,name=fd", and
// removes the variable so that no child of this process inherits the
// note. Malformed entries and descriptors below 3 are skipped.
func InheritedFiles(env string) map[string]*os.File {
	v := os.Getenv(env)
	os.Unsetenv(env)
	out := map[string]*os.File{}
	for _, kv := range strings.Split(v, ",") {
		name, fdText, ok := strings.Cut(kv, "=")
		fd, err := strconv.Atoi(fdText)
		if ok && err == nil && fd >= 3 {
			out[name] = os.NewFile(uintptr(fd), name)
		}
	}
	return out
}
