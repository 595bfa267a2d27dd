package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/deploy"
	"github.com/cutover/cutover/internal/release"
	"github.com/cutover/cutover/internal/store"
)

// deployStage packages the build and deploys it: a release directory
// for the process runtime, an image for the docker runtime. It follows
// the deployment to its end; the stage succeeds only when the
// deployment did.
func (p *Pipeline) deployStage(ctx context.Context, x *execution, w *workspace) error {
	bg := context.WithoutCancel(ctx)
	cfg := substitute(w.cfg, w.vars)

	var artifact string
	switch cfg.Service.Runtime {
	case config.RuntimeDocker, config.RuntimeSwarm:
		image, err := p.image(ctx, x, w, cfg.Service.Image)
		if err != nil {
			return err
		}
		artifact, cfg.Service.Image = image, image
	default:
		dir, digest, err := release.Snapshot(w.artifacts, filepath.Join(p.dataDir, "releases", x.app))
		if err != nil {
			return fmt.Errorf("packaging the release: %w", err)
		}
		x.log.printf("Packaged release %s from %s", digest, w.artifacts)
		artifact, cfg.Service.Release = dir, dir
	}
	p.update(bg, x.id, func(e *store.Execution) { e.Artifact = artifact })

	d, err := p.startDeployment(ctx, x, deploy.RevisionSpec{Artifact: artifact, Commit: x.commit, Config: &cfg})
	if err != nil {
		return err
	}
	p.update(bg, x.id, func(e *store.Execution) { e.DeploymentID = d.ID })
	x.log.printf("Deployment %s started (%s)", d.ID, cfg.Deploy.Strategy)
	d, err = p.deployer.Wait(ctx, d.ID)
	if err != nil {
		return fmt.Errorf("following deployment %s: %w", d.ID, err)
	}
	x.log.printf("Deployment %s ended %s%s", d.ID, d.Status, suffix(d.Error))
	w.deployment = d
	if d.Status != store.DeploymentSucceeded {
		return fmt.Errorf("deployment %s ended %s%s", d.ID, d.Status, suffix(d.Error))
	}
	w.stageMessage = "deployment " + d.ID + " Succeeded"
	return nil
}

// startDeployment starts the deployment, first waiting for one that
// someone else started to end: the app has one deployment at a time.
func (p *Pipeline) startDeployment(ctx context.Context, x *execution, spec deploy.RevisionSpec) (store.Deployment, error) {
	for {
		d, err := p.deployer.Deploy(ctx, x.app, spec)
		if !errors.Is(err, store.ErrDeploymentInProgress) {
			if err != nil {
				return d, fmt.Errorf("starting the deployment: %w", err)
			}
			return d, nil
		}
		active, aerr := p.store.ActiveDeployment(ctx, x.app)
		if aerr != nil {
			if errors.Is(aerr, store.ErrNotFound) {
				continue // it ended in between
			}
			return store.Deployment{}, fmt.Errorf("starting the deployment: %w", err)
		}
		x.log.printf("Waiting for deployment %s to end before deploying", active.ID)
		if _, err := p.deployer.Wait(ctx, active.ID); err != nil {
			return store.Deployment{}, fmt.Errorf("waiting for deployment %s: %w", active.ID, err)
		}
		select {
		case <-ctx.Done():
			return store.Deployment{}, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// variableRef is CodePipeline's #{namespace.Name}.
var variableRef = regexp.MustCompile(`#\{([A-Za-z0-9_@-]+\.[A-Za-z0-9_@.-]+)\}`)

// substitute replaces #{namespace.Name} in the service's command, image
// and environment values with the execution's variables
// (SourceVariables.CommitId, BuildVariables.<exported variable>,
// codepipeline.PipelineExecutionId). A reference to a variable that does
// not exist is left as it is.
func substitute(cfg config.App, vars map[string]string) config.App {
	repl := func(s string) string {
		return variableRef.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := vars[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
	}
	cfg.Service.Command = slices.Clone(cfg.Service.Command)
	for i, arg := range cfg.Service.Command {
		cfg.Service.Command[i] = repl(arg)
	}
	cfg.Service.Image = repl(cfg.Service.Image)
	if cfg.Service.Env != nil {
		env := make(map[string]string, len(cfg.Service.Env))
		for k, v := range cfg.Service.Env {
			env[k] = repl(v)
		}
		cfg.Service.Env = env
	}
	return cfg
}

// image returns the image to deploy: the one imagedefinitions.json names
// when the build wrote one (as CodePipeline's ECS deploy action reads
// it), else cutover.yaml's service.image (as an ECS task definition names
// the tag a build pushes, e.g. ${REPOSITORY_URI}:latest), else one built
// from the checkout's Dockerfile and tagged <app>:<short commit>.
func (p *Pipeline) image(ctx context.Context, x *execution, w *workspace, configured string) (string, error) {
	for _, dir := range []string{w.artifacts, w.src} {
		image, ok, err := readImageDefinitions(filepath.Join(dir, "imagedefinitions.json"), x.app)
		if err != nil {
			return "", err
		}
		if ok {
			x.log.printf("imagedefinitions.json names the image %s", image)
			return image, nil
		}
	}
	if configured != "" {
		x.log.printf("%s names the image %s", config.AppFile, configured)
		return configured, nil
	}
	if p.images == nil {
		return "", errors.New("the app runs on docker but cutover has no Docker client")
	}
	tag := x.app + ":" + shortSHA(x.commit)
	x.log.printf("Building image %s from %s", tag, filepath.Join(w.src, "Dockerfile"))
	if err := p.images.BuildImage(ctx, w.src, "Dockerfile", tag, x.log); err != nil {
		return "", fmt.Errorf("building image %s: %w", tag, err)
	}
	return tag, nil
}

// readImageDefinitions reads an imagedefinitions.json: the entry named
// after the app, or the only entry.
func readImageDefinitions(path, app string) (string, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading imagedefinitions.json: %w", err)
	}
	if len(data) > 100<<10 {
		return "", false, errors.New("imagedefinitions.json is larger than 100 KB")
	}
	var defs []struct {
		Name     string `json:"name"`
		ImageURI string `json:"imageUri"`
	}
	if err := json.Unmarshal(data, &defs); err != nil {
		return "", false, fmt.Errorf("reading imagedefinitions.json: %w", err)
	}
	for _, d := range defs {
		if d.Name == app && d.ImageURI != "" {
			return d.ImageURI, true, nil
		}
	}
	if len(defs) == 1 && defs[0].ImageURI != "" {
		return defs[0].ImageURI, true, nil
	}
	return "", false, fmt.Errorf("imagedefinitions.json has no image for %q", app)
}
