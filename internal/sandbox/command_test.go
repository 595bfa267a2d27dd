package sandbox

import (
	"slices"
	"testing"
)

func TestBindable(t *testing.T) {
	tests := map[string]bool{
		"/var/lib/docker": true, "/tmp/x": true, "/srv/cache": true,
		"/": false, "/var": false, "/usr/local/lib": false, "/etc": false, "/opt/x": false,
		"/proc/self": false, "/dev/shm": false, "/run/x": false, "/var/run/x": false,
	}
	for p, want := range tests {
		if got := Bindable(p); got != want {
			t.Errorf("Bindable(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestEnviron(t *testing.T) {
	got := Environ([]string{"PATH=/usr/bin", "HOME=/root", "USER=root", "LOGNAME=root", "TMPDIR=/var/tmp", "LANG=C"}, "/tmp")
	slices.Sort(got)
	want := []string{"HOME=/tmp", "LANG=C", "PATH=/usr/bin", "TMPDIR=/tmp"}
	if !slices.Equal(got, want) {
		t.Errorf("Environ = %v, want %v", got, want)
	}
}
