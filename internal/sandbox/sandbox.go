package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"time"
)

// Mode is how much isolation a Sandbox gives.
type Mode string

// The modes, from most to least isolated (see the package comment).
const (
	ModeFull       Mode = "full"
	ModeNamespaces Mode = "namespaces"
	ModeOff        Mode = "off"
)

// DefaultUser is the user sandboxed commands run as when cutover is root.
const DefaultUser = "cutover-build"

// Config says how to make a Sandbox.
type Config struct {
	// Off turns the sandbox off on purpose (ModeOff, said loudly).
	Off bool
	// Required makes New fail instead of falling back to less than
	// ModeFull.
	Required bool
	// User is the user (name or numeric uid) commands run as in
	// ModeFull; DefaultUser when empty, made with useradd if missing.
	User string
}

// Sandbox wraps commands to run isolated. Its zero value is not usable;
// a nil *Sandbox runs commands unsandboxed (ModeOff).
type Sandbox struct {
	mode    Mode
	reason  string // why the mode is less than full; "" when full
	bwrap   string
	setpriv string
	uid     int // the command's user in ModeFull; -1 otherwise
	gid     int
}

// New finds bubblewrap, checks that it can make namespaces here, and
// settles the user. It falls back to a weaker mode with a reason unless
// cfg.Required is set.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	s, err := probe(ctx, cfg)
	if err != nil {
		if cfg.Required {
			return nil, fmt.Errorf("sandbox required: %w", err)
		}
		return &Sandbox{mode: ModeOff, reason: err.Error(), uid: -1, gid: -1}, nil
	}
	if cfg.Required && s.mode != ModeFull {
		return nil, fmt.Errorf("sandbox required: %s", s.reason)
	}
	return s, nil
}

func probe(ctx context.Context, cfg Config) (*Sandbox, error) {
	if cfg.Off {
		return nil, errors.New("the sandbox was turned off (--sandbox=off)")
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, errors.New("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
	}
	s := &Sandbox{mode: ModeNamespaces, bwrap: bwrap, uid: -1, gid: -1}
	if os.Geteuid() != 0 {
		s.reason = "cutover does not run as root: sandboxed commands keep cutover's user"
	} else if s.setpriv, err = exec.LookPath("setpriv"); err != nil {
		s.reason = "setpriv (util-linux) is not installed: sandboxed commands keep cutover's user"
	} else if s.uid, s.gid, err = buildUser(ctx, cfg.User); err != nil {
		s.reason = err.Error()
		s.uid, s.gid = -1, -1
	} else {
		s.mode = ModeFull
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// check runs `true` in the sandbox, so that a kernel without the
// namespaces bwrap needs is found at start, not in the first build.
func (s *Sandbox) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "true")
	if err := s.Wrap(cmd, Spec{}); err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bubblewrap cannot make a sandbox here: %v: %s", err, out)
	}
	return nil
}

// Mode is the isolation the sandbox gives; ModeOff for a nil Sandbox.
func (s *Sandbox) Mode() Mode {
	if s == nil {
		return ModeOff
	}
	return s.mode
}

// Reason says why the mode is less than ModeFull; "" when it is full.
func (s *Sandbox) Reason() string {
	if s == nil {
		return "no sandbox configured"
	}
	return s.reason
}

// Warning is the line to print where a sandboxed command runs with less
// than ModeFull; "" in ModeFull, and for a nil Sandbox, which is a
// caller's choice of none (`cutover build` runs the user's own build as
// the user).
func (s *Sandbox) Warning() string {
	switch {
	case s == nil || s.mode == ModeFull:
		return ""
	case s.mode == ModeNamespaces:
		return "Warning: sandbox is partial (" + s.Reason() + "): the command runs in its own namespaces but as cutover's user"
	default:
		return "Warning: NOT SANDBOXED (" + s.Reason() + "): the command runs as cutover's user and can read cutover's data directory"
	}
}

// User is the uid and gid sandboxed commands run as; -1, -1 when they
// keep cutover's.
func (s *Sandbox) User() (uid, gid int) {
	if s == nil {
		return -1, -1
	}
	return s.uid, s.gid
}

// buildUser looks up name (DefaultUser when empty), making it with useradd
// when it is the default and missing.
func buildUser(ctx context.Context, name string) (uid, gid int, err error) {
	if name == "" {
		name = DefaultUser
	}
	if n, err := strconv.Atoi(name); err == nil && n > 0 {
		return n, n, nil
	}
	u, err := user.Lookup(name)
	if err != nil && name == DefaultUser {
		if out, addErr := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); addErr != nil {
			// Another cutover may have made it meanwhile.
			if u, err = user.Lookup(name); err != nil {
				return -1, -1, fmt.Errorf("making the sandbox user %s: %v: %s", name, addErr, out)
			}
		} else {
			u, err = user.Lookup(name)
		}
	}
	if err != nil {
		return -1, -1, fmt.Errorf("looking up the sandbox user %s: %w", name, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if uid == 0 {
		return -1, -1, fmt.Errorf("the sandbox user %s is root", name)
	}
	return uid, gid, nil
}
