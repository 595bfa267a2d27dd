// Package git is the little of git the pipeline needs: resolve a
// branch, check a commit out into a clean directory, and serve
// repositories over smart HTTP so that `git push` can trigger a
// pipeline. It runs the git command-line tool (and git's own
// git-http-backend) instead of reimplementing git: what users push with
// is what stores their objects.
package git

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoBranch: the repository has no such branch.
var ErrNoBranch = errors.New("no such branch")

// Commit is a checked-out commit.
type Commit struct {
	SHA     string
	Subject string // the first line of its message
}

// run runs git with args in dir and returns its trimmed stdout.
func run(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// LsRemote returns the commit branch points to in repo (a path or URL).
func LsRemote(ctx context.Context, repo, branch string) (string, error) {
	out, err := run(ctx, "", "ls-remote", "--heads", "--", repo, "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("resolving branch %s of %s: %w", branch, repo, err)
	}
	for line := range strings.Lines(out) {
		sha, ref, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && ref == "refs/heads/"+branch {
			return sha, nil
		}
	}
	return "", fmt.Errorf("resolving branch %s of %s: %w", branch, repo, ErrNoBranch)
}

// Checkout fetches commit (or, when commit is "", the tip of ref) from
// repo into dir, which must not exist or be empty, and checks it out
// with a detached HEAD. ref is a full ref (refs/tags/v1,
// refs/pull/42/head) or a branch's name. Only that commit's history is
// fetched when the server allows it; otherwise ref's history, which
// holds it.
func Checkout(ctx context.Context, repo, ref, commit, dir string) (Commit, error) {
	fail := func(err error) (Commit, error) {
		return Commit{}, fmt.Errorf("checking out %s of %s: %w", cmp.Or(commit, ref), repo, err)
	}
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	if _, err := run(ctx, dir, "init", "-q"); err != nil {
		return fail(err)
	}
	want := cmp.Or(commit, ref)
	if _, err := run(ctx, dir, "fetch", "-q", "--no-tags", "--depth=1", "--", repo, want); err != nil {
		if commit == "" {
			return fail(err)
		}
		// A server that refuses to hand out a commit by its name: fetch
		// the ref's history, which holds it.
		if _, err := run(ctx, dir, "fetch", "-q", "--no-tags", "--", repo, ref); err != nil {
			return fail(err)
		}
	}
	target := "FETCH_HEAD"
	if commit != "" {
		target = commit
	}
	// checkout takes no --end-of-options: resolve the target to a full
	// object id first, which can never be read as an option.
	oid, err := run(ctx, dir, "rev-parse", "--verify", "--end-of-options", target+"^{commit}")
	if err != nil {
		return fail(fmt.Errorf("resolving %s: %w", target, err))
	}
	if _, err := run(ctx, dir, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", oid); err != nil {
		return fail(err)
	}
	out, err := run(ctx, dir, "log", "-1", "--format=%H%n%s")
	if err != nil {
		return fail(err)
	}
	sha, subject, _ := strings.Cut(out, "\n")
	return Commit{SHA: sha, Subject: subject}, nil
}

// InitBare creates a bare repository at dir unless one is there, with
// branch as its default branch.
func InitBare(ctx context.Context, dir, branch string) error {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating repository %s: %w", dir, err)
	}
	if _, err := run(ctx, "", "init", "-q", "--bare", "--initial-branch="+branch, "--", dir); err != nil {
		return fmt.Errorf("creating repository %s: %w", dir, err)
	}
	return nil
}

// Refs returns the refs of the repository at gitDir with their commits.
func Refs(ctx context.Context, gitDir string) (map[string]string, error) {
	out, err := run(ctx, gitDir, "for-each-ref", "--format=%(refname) %(objectname)")
	if err != nil {
		return nil, fmt.Errorf("listing refs of %s: %w", gitDir, err)
	}
	refs := make(map[string]string)
	for line := range strings.Lines(out) {
		ref, sha, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok {
			refs[ref] = sha
		}
	}
	return refs, nil
}

// ChangedFiles returns the paths that differ between the commits old and
// new of the repository at gitDir (a push's before and after), renames
// as the old and the new path.
func ChangedFiles(ctx context.Context, gitDir, old, new string) ([]string, error) {
	out, err := run(ctx, gitDir, "diff", "--name-only", "--no-renames", "-z", "--end-of-options", old, new, "--")
	if err != nil {
		return nil, fmt.Errorf("listing the files changed from %s to %s: %w", old, new, err)
	}
	var files []string
	for f := range strings.SplitSeq(out, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}
