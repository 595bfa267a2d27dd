package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// release is what the test reads of `cutover releases --json`.
type release struct {
	Revision  string `json:"revision"`
	Status    string `json:"status"`
	Artifact  string `json:"artifact"`
	Available bool   `json:"available"`
	Size      int64  `json:"size_bytes"`
	SameAs    string `json:"same_as"`
	Actor     string `json:"actor"`
}

func (a *helloApp) releases(t *testing.T) []release {
	t.Helper()
	out, code := run(t, "releases", "hello", "--json", "--data", a.data)
	var l struct {
		Releases  []release `json:"releases"`
		DiskBytes int64     `json:"disk_bytes"`
	}
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil {
		t.Fatalf("cutover releases --json: exit %d, %v\n%s", code, err, out)
	}
	return l.Releases
}

// releaseDirs lists the release directories on disk, by name.
func (a *helloApp) releaseDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(a.data, "releases", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkRetained fails unless exactly the releases of the revisions in
// want (numbers) are on disk and listed as available.
func (a *helloApp) checkRetained(t *testing.T, when string, want ...int) {
	t.Helper()
	var wantDirs []string
	for _, r := range a.releases(t) {
		var n int
		fmt.Sscanf(r.Revision, "hello-r%d", &n)
		keep := slices.Contains(want, n)
		if r.Available != keep {
			t.Errorf("%s: %s (%s) available = %v, want %v", when, r.Revision, r.Status, r.Available, keep)
		}
		if keep && !slices.Contains(wantDirs, filepath.Base(r.Artifact)) {
			wantDirs = append(wantDirs, filepath.Base(r.Artifact))
		}
	}
	slices.Sort(wantDirs)
	if got := a.releaseDirs(t); !slices.Equal(got, wantDirs) {
		t.Errorf("%s: release directories on disk %v, want %v", when, got, wantDirs)
	}
}

// TestRollbackToAndRetention: with --retain-releases 3, five deployments
// of five different releases leave the three newest release directories
// (N+2 deployments, the oldest two removed, the running one never);
// `cutover rollback hello --to r3`, the release before last, under load,
// serves r3's version with 0 failed requests, without a build or a new
// release directory (the app's source is gone by then); a revision whose
// release was removed, the running one and a bare app name are refused.
func TestRollbackToAndRetention(t *testing.T) {
	a := newHelloApp(t, nil)
	start(t, "up", a.dir, "--data", a.data, "--api-addr", "", "--retain-releases", "3")
	a.waitVersion(t, "1.0.0", 60*time.Second)
	a.waitIdle(t)
	for n := 2; n <= 5; n++ {
		// A file of its own makes each a release directory of its own.
		writeFile(t, filepath.Join(a.dir, "release.txt"), fmt.Sprintf("release %d\n", n))
		if out, code := a.deploy(t, "--env", fmt.Sprintf("APP_VERSION=%d.0.0", n)); code != 0 {
			t.Fatalf("deploying %d.0.0: exit %d\n%s", n, code, out)
		}
		want := []int{max(1, n-2), max(1, n-1), n}
		a.checkRetained(t, fmt.Sprintf("after deployment %d", n), want...)
	}

	// Nothing to build from: the app's source is gone.
	if err := os.RemoveAll(a.dir); err != nil {
		t.Fatal(err)
	}
	dirs := a.releaseDirs(t)
	l := startLoad(a.url(), 8)
	out, code := run(t, "rollback", "hello", "--to", "r3", "--data", a.data)
	l.finish(t)
	if code != 0 || !strings.Contains(out, "Succeeded") {
		t.Fatalf("cutover rollback hello --to r3: exit %d\n%s", code, out)
	}
	a.waitVersion(t, "3.0.0", 5*time.Second)
	if n := l.count(`{"message":"Hello from cutover","version":"3.0.0"}` + "\n"); n == 0 {
		t.Error("no request reached r3's version 3.0.0 during the rollback")
	}
	if got := a.releaseDirs(t); !slices.Equal(got, dirs) {
		t.Errorf("release directories after the rollback %v, were %v: the rollback made or removed one", got, dirs)
	}
	rels := a.releases(t)
	if r := rels[0]; r.Revision != "hello-r6" || r.Status != "running" || r.SameAs != "hello-r3" || r.Actor != "local" {
		t.Errorf("newest release %+v; want hello-r6 running, the same release as hello-r3, by local", r)
	}
	if r := rels[1]; r.Revision != "hello-r5" || r.Status != "previous" {
		t.Errorf("second release %+v; want hello-r5 previous", r)
	}
	a.checkRetained(t, "after the rollback", 3, 4, 5, 6)

	text, _ := run(t, "releases", "hello", "--data", a.data)
	t.Logf("cutover releases hello:\n%s", text)
	for _, want := range []string{"hello-r6", "running", "(= r3)", "removed", "on disk", "keeps the newest 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("cutover releases lacks %q:\n%s", want, text)
		}
	}
	history, _ := run(t, "history", "hello", "--json", "--data", a.data)
	for _, bad := range []struct {
		args []string
		says string
	}{
		{[]string{"rollback", "hello", "--to", "r1"}, "removed by retention"},
		{[]string{"rollback", "hello", "--to", "6"}, "running revision"},
		{[]string{"rollback", "hello", "--to", "latest"}, "give a revision"},
		{[]string{"rollback", "hello", "--to", "r99"}, "not found"},
		{[]string{"rollback", "nope", "--to", "r1"}, "not found"},
		{[]string{"rollback", "hello"}, "--to REVISION"},
	} {
		out, code := run(t, append(bad.args, "--data", a.data)...)
		if code == 0 || !strings.Contains(out, bad.says) {
			t.Errorf("cutover %s: exit %d, want an error saying %q:\n%s", strings.Join(bad.args, " "), code, bad.says, out)
		}
	}
	if after, _ := run(t, "history", "hello", "--json", "--data", a.data); after != history {
		t.Error("refused rollbacks changed the deployment history")
	}
	// The deployment form still reaches the server.
	if out, code := run(t, "rollback", "hello-d2", "--data", a.data); code == 0 || !strings.Contains(out, "not active") {
		t.Errorf("cutover rollback hello-d2 (ended): exit %d, want not active:\n%s", code, out)
	}
}
