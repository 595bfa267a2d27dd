package git

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitCmd runs git in dir and fails the test on error.
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitOutput(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// newWorkRepo makes a repository with one commit on main.
func newWorkRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, dir, "add", ".")
	gitCmd(t, dir, "commit", "-q", "-m", "first commit")
	return dir
}

func TestLsRemoteAndCheckout(t *testing.T) {
	ctx := context.Background()
	work := newWorkRepo(t)
	first := gitCmd(t, work, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("two\n"), 0o644)
	gitCmd(t, work, "commit", "-q", "-am", "second commit")
	second := gitCmd(t, work, "rev-parse", "HEAD")

	sha, err := LsRemote(ctx, work, "main")
	if err != nil || sha != second {
		t.Fatalf("LsRemote = %q, %v; want %s", sha, err, second)
	}
	if _, err := LsRemote(ctx, work, "nope"); !errors.Is(err, ErrNoBranch) {
		t.Fatalf("LsRemote of a missing branch: %v", err)
	}

	tests := []struct {
		name, commit, wantSHA, wantFile, wantSubject string
	}{
		{"tip", "", second, "two\n", "second commit"},
		{"older commit", first, first, "one\n", "first commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			c, err := Checkout(ctx, work, "main", tt.commit, dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.SHA != tt.wantSHA || c.Subject != tt.wantSubject {
				t.Fatalf("Checkout = %+v, want %s %q", c, tt.wantSHA, tt.wantSubject)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != tt.wantFile {
				t.Fatalf("a.txt = %q, want %q", b, tt.wantFile)
			}
		})
	}
}

// TestCheckoutNeverTakesTheCommitAsAnOption: a commit that looks like an
// option is resolved as a revision, and fails as one.
func TestCheckoutNeverTakesTheCommitAsAnOption(t *testing.T) {
	ctx := context.Background()
	work := newWorkRepo(t)
	for _, commit := range []string{"--orphan=x", "--detach", "-f", "--upload-pack=touch /tmp/pwned"} {
		t.Run(commit, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			_, err := Checkout(ctx, work, "main", commit, dir)
			if err == nil || !strings.Contains(err.Error(), "resolving "+commit) {
				t.Fatalf("Checkout(%q) = %v, want an error resolving it as a revision", commit, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "a.txt")); err == nil {
				t.Fatal("something was checked out")
			}
		})
	}
}

func TestPushOverSmartHTTP(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	var mu sync.Mutex
	var pushes [][]RefUpdate
	srv := NewServer(ServerOptions{
		Root:   root,
		Prefix: "/git",
		Authorize: func(r *http.Request, name string) (string, error) {
			user, pass, ok := r.BasicAuth()
			if !ok || pass != "s3cret" {
				return "", errors.New("a push needs the app's push secret")
			}
			return user, nil
		},
		Open: func(ctx context.Context, name string) error {
			if name != "hello" {
				return ErrUnknownRepo
			}
			return InitBare(ctx, filepath.Join(root, name+".git"), "main")
		},
		Pushed: func(name, user string, updates []RefUpdate) {
			mu.Lock()
			defer mu.Unlock()
			pushes = append(pushes, updates)
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/git/", srv)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")

	work := newWorkRepo(t)
	head := gitCmd(t, work, "rev-parse", "HEAD")

	tests := []struct {
		name, url, wantErr string
	}{
		{"no credentials", "http://" + host + "/git/hello.git", "could not read Username"},
		{"wrong secret", "http://u:wrong@" + host + "/git/hello.git", "Authentication failed"},
		{"unknown app", "http://u:s3cret@" + host + "/git/other.git", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := gitOutput(work, "push", tt.url, "main")
			if err == nil || !strings.Contains(out, tt.wantErr) {
				t.Fatalf("push succeeded or failed without %s: %v\n%s", tt.wantErr, err, out)
			}
		})
	}
	resp, err := http.Get(ts.URL + "/git/hello.git/info/refs?service=git-receive-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("unauthenticated request: %s, WWW-Authenticate %q; want 401 with a challenge", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	mu.Lock()
	if len(pushes) != 0 {
		t.Fatalf("refused pushes were reported: %v", pushes)
	}
	mu.Unlock()

	gitCmd(t, work, "push", "-q", "http://me:s3cret@"+host+"/git/hello.git", "main")
	mu.Lock()
	got := pushes
	mu.Unlock()
	if len(got) != 1 || len(got[0]) != 1 || got[0][0] != (RefUpdate{Ref: "refs/heads/main", New: head}) {
		t.Fatalf("pushes = %+v, want main created at %s", got, head)
	}
	sha, err := LsRemote(ctx, filepath.Join(root, "hello.git"), "main")
	if err != nil || sha != head {
		t.Fatalf("the bare repository has main at %q, %v; want %s", sha, err, head)
	}
	// A clone with credentials works too.
	clone := filepath.Join(t.TempDir(), "clone")
	gitCmd(t, "", "clone", "-q", "http://me:s3cret@"+host+"/git/hello.git", clone)
	if b, _ := os.ReadFile(filepath.Join(clone, "a.txt")); string(b) != "one\n" {
		t.Fatalf("cloned a.txt = %q", b)
	}
}
