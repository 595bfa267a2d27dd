package main

import (
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/deploy"
)

// TestRetainReleasesFlag: --retain-releases N keeps N, 0 keeps all, the
// default is deploy's; anything else is refused with what is valid.
func TestRetainReleasesFlag(t *testing.T) {
	var unset retainFlag
	if unset != 0 || unset.String() != "10" || deploy.DefaultRetainReleases != 10 {
		t.Errorf("default %d shown as %q; want 0 (deploy's default, %d) shown as 10", int(unset), unset.String(), deploy.DefaultRetainReleases)
	}
	for _, tt := range []struct {
		arg  string
		want int // deploy.Options.RetainReleases
		show string
	}{
		{"3", 3, "3"},
		{"10", 10, "10"},
		{"0", -1, "0"},
	} {
		var f retainFlag
		if err := f.Set(tt.arg); err != nil || int(f) != tt.want || f.String() != tt.show {
			t.Errorf("Set(%q) = %v: %d shown %q; want %d shown %q", tt.arg, err, int(f), f.String(), tt.want, tt.show)
		}
	}
	for _, bad := range []string{"-1", "ten", "", "2.5"} {
		var f retainFlag
		if err := f.Set(bad); err == nil || !strings.Contains(err.Error(), "0 keeps all") || f != 0 {
			t.Errorf("Set(%q) = %v, value %d; want refused with what is valid, unchanged", bad, err, int(f))
		}
	}
}

// TestRollbackArgument: without --to only a deployment id is taken, so
// an app name is never sent as a deployment.
func TestRollbackArgument(t *testing.T) {
	for arg, want := range map[string]bool{"hello-d2": true, "my-app-d17": true, "hello": false, "hello-r3": false, "hello-d0": false, "hello-d": false} {
		if got := deploymentID.MatchString(arg); got != want {
			t.Errorf("deploymentID(%q) = %v, want %v", arg, got, want)
		}
	}
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := bytesSize(in); got != want {
			t.Errorf("bytesSize(%d) = %q, want %q", in, got, want)
		}
	}
}
