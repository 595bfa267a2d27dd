package pipeline

import (
	"context"
	"fmt"
	"maps"

	"github.com/cutover/cutover/internal/pipeline/build"
	"github.com/cutover/cutover/internal/store"
)

// addBuildVars gives the build the app's build-time config vars (`cutover
// env set --build`): over cutover's build environment and the
// buildspec's env.variables, the secret ones masked in the build log.
func (p *Pipeline) addBuildVars(ctx context.Context, app string, opts *build.Options) error {
	vars, err := p.store.ConfigVars(ctx, app, store.ScopeBuild)
	if err != nil {
		return fmt.Errorf("reading the build variables of %s: %w", app, err)
	}
	if len(vars) == 0 {
		return nil
	}
	opts.Env = maps.Clone(opts.Env) // the pipeline's own map, shared by every build
	if opts.Env == nil {
		opts.Env = map[string]string{}
	}
	for _, v := range vars {
		if v.Secret {
			if opts.SecretEnv == nil {
				opts.SecretEnv = map[string]string{}
			}
			opts.SecretEnv[v.Name] = v.Value
			continue
		}
		opts.Env[v.Name] = v.Value
	}
	return nil
}
