package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Scopes of config vars: given to the app's tasks or to its builds.
const (
	ScopeRun   = "run"
	ScopeBuild = "build"
)

// EventConfigVarsChanged records a `cutover env set` or `unset`; its data
// (ConfigVarsChange) names the variables, never their values.
const EventConfigVarsChanged = "app.config_vars"

// ConfigVar is one of an app's config vars. A secret's Value is sealed
// in the database; the store gives it back opened.
type ConfigVar struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	Secret    bool      `json:"secret"`
	Scope     string    `json:"scope"` // ScopeRun or ScopeBuild
	UpdatedAt time.Time `json:"updated_at"`
}

// ConfigVarsChange is the data of an app.config_vars event.
type ConfigVarsChange struct {
	Scope string   `json:"scope"`
	Set   []string `json:"set,omitempty"`   // names set
	Unset []string `json:"unset,omitempty"` // names removed
}

var configVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckConfigVarName refuses a name that is not a portable environment
// variable name, or one cutover itself sets for tasks (PORT, CUTOVER_*,
// and HOME, TMPDIR, USER, LOGNAME in a sandbox) or builds (CODEBUILD_*).
func CheckConfigVarName(name string) error {
	if !configVarName.MatchString(name) {
		return fmt.Errorf("%w: config var name %q: valid names are letters, digits and _, not starting with a digit", ErrInvalid, name)
	}
	switch name {
	case "PORT", "HOME", "TMPDIR", "USER", "LOGNAME":
		return fmt.Errorf("%w: config var name %s is set by cutover itself; choose another name", ErrInvalid, name)
	}
	for _, prefix := range []string{"CUTOVER_", "CODEBUILD_"} {
		if strings.HasPrefix(strings.ToUpper(name), prefix) {
			return fmt.Errorf("%w: config var name %s: names starting with %s are cutover's; choose another name", ErrInvalid, name, prefix)
		}
	}
	return nil
}

func checkScope(scope string) error {
	if scope != ScopeRun && scope != ScopeBuild {
		return fmt.Errorf("%w: config var scope %q; valid: %s, %s", ErrInvalid, scope, ScopeRun, ScopeBuild)
	}
	return nil
}

// ConfigVars returns the app's config vars of scope by name, secrets
// opened. ErrNotFound: no such app.
func (s *Store) ConfigVars(ctx context.Context, app, scope string) ([]ConfigVar, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if _, err := s.GetApp(ctx, app); err != nil {
		return nil, fmt.Errorf("listing config vars: %w", err)
	}
	vars, err := queryAll(ctx, s.r, scanConfigVar,
		"SELECT name, value, secret, scope, updated_at FROM config_vars WHERE app = ? AND scope = ? ORDER BY name", app, scope)
	if err != nil {
		return nil, fmt.Errorf("listing config vars of %s: %w", app, err)
	}
	for i, v := range vars {
		if !v.Secret {
			continue
		}
		if vars[i].Value, err = s.sealer.open(v.Value); err != nil {
			return nil, fmt.Errorf("config var %s of %s: %w", v.Name, app, err)
		}
	}
	return vars, nil
}

func scanConfigVar(row scanner) (ConfigVar, error) {
	var v ConfigVar
	var updated timeValue
	err := row.Scan(&v.Name, &v.Value, &v.Secret, &v.Scope, &updated)
	v.UpdatedAt = updated.t
	return v, err
}

// SealedEnv returns the app's config vars of scope as an environment,
// each secret's value sealed: what a revision may record. OpenEnv gives
// the values back.
func (s *Store) SealedEnv(ctx context.Context, app, scope string) (map[string]string, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	rows, err := queryAll(ctx, s.r, scanConfigVar,
		"SELECT name, value, secret, scope, updated_at FROM config_vars WHERE app = ? AND scope = ?", app, scope)
	if err != nil {
		return nil, fmt.Errorf("reading config vars of %s: %w", app, err)
	}
	env := make(map[string]string, len(rows))
	for _, v := range rows {
		env[v.Name] = v.Value // a secret's is sealed in the table
	}
	return env, nil
}

// OpenEnv returns env with every sealed value (see SealedEnv) opened.
func (s *Store) OpenEnv(env map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(env))
	for k, v := range env {
		plain, err := s.sealer.open(v)
		if err != nil {
			return nil, fmt.Errorf("config var %s: %w", k, err)
		}
		out[k] = plain
	}
	return out, nil
}

// IsSealed reports whether v is a value SealedEnv sealed.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// ChangeConfigVars sets the vars set (Name, Value, Secret) and removes
// the names unset from the app's config vars of scope, in one
// transaction, and appends app.config_vars. Every name is checked first:
// an invalid name, a name both set and unset, a name to unset that is
// not set, or an unknown app (ErrNotFound) changes nothing.
func (s *Store) ChangeConfigVars(ctx context.Context, app, scope string, set []ConfigVar, unset []string) error {
	if err := checkConfigVarsChange(scope, set, unset); err != nil {
		return fmt.Errorf("changing config vars of %s: %w", app, err)
	}
	return s.write(ctx, "changing config vars of "+app, func(t *tx) error {
		if _, err := t.getApp(ctx, app); err != nil {
			return err
		}
		for _, name := range unset {
			res, err := t.ExecContext(ctx, "DELETE FROM config_vars WHERE app = ? AND scope = ? AND name = ?", app, scope, name)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("%w: %s has no %s config var %s", ErrNotFound, app, scope, name)
			}
		}
		change := ConfigVarsChange{Scope: scope, Unset: unset}
		for _, v := range set {
			value := v.Value
			if v.Secret {
				value = s.sealer.seal(value)
			}
			_, err := t.ExecContext(ctx, `INSERT INTO config_vars (app, scope, name, value, secret, updated_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (app, scope, name) DO UPDATE SET value = excluded.value, secret = excluded.secret, updated_at = excluded.updated_at`,
				app, scope, v.Name, value, v.Secret, formatTime(t.now))
			if err != nil {
				return err
			}
			change.Set = append(change.Set, v.Name)
		}
		return t.emit(ctx, EventConfigVarsChanged, app, "", change)
	})
}

func checkConfigVarsChange(scope string, set []ConfigVar, unset []string) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if len(set) == 0 && len(unset) == 0 {
		return fmt.Errorf("%w: no config var to set or unset", ErrInvalid)
	}
	names := slices.Clone(unset)
	for _, v := range set {
		names = append(names, v.Name)
	}
	seen := map[string]bool{}
	for _, name := range names {
		if err := CheckConfigVarName(name); err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("%w: config var %s is named twice", ErrInvalid, name)
		}
		seen[name] = true
	}
	for _, v := range set {
		if strings.ContainsRune(v.Value, 0) {
			return fmt.Errorf("%w: the value of config var %s holds a NUL byte, which no environment can carry", ErrInvalid, v.Name)
		}
	}
	return nil
}

// ScaledCount is a `cutover scale` count kept for later deployments, with
// cutover.yaml's service.count when it was set.
type ScaledCount struct {
	Count     int `json:"count"`
	BaseCount int `json:"base_count"`
}

// SetScaledCount keeps the app's scaled count; base is cutover.yaml's
// count at the time.
func (s *Store) SetScaledCount(ctx context.Context, app string, count, base int) error {
	return s.write(ctx, "keeping the scaled count of "+app, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO app_scale (app, count, base_count, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (app) DO UPDATE SET count = excluded.count, updated_at = excluded.updated_at`,
			app, count, base, formatTime(t.now))
		return err
	})
}

// GetScaledCount returns the app's kept scaled count, or ErrNotFound.
func (s *Store) GetScaledCount(ctx context.Context, app string) (ScaledCount, error) {
	var sc ScaledCount
	err := s.r.QueryRowContext(ctx, "SELECT count, base_count FROM app_scale WHERE app = ?", app).Scan(&sc.Count, &sc.BaseCount)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return sc, fmt.Errorf("scaled count of %s: %w", app, ErrNotFound)
		}
		return sc, fmt.Errorf("reading the scaled count of %s: %w", app, err)
	}
	return sc, nil
}

// ClearScaledCount forgets the app's scaled count.
func (s *Store) ClearScaledCount(ctx context.Context, app string) error {
	return s.write(ctx, "clearing the scaled count of "+app, func(t *tx) error {
		_, err := t.ExecContext(ctx, "DELETE FROM app_scale WHERE app = ?", app)
		return err
	})
}
