package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/pipeline/build"
)

// buildFlags are the flags of cutover build.
type buildFlags struct {
	buildspec     string
	inPlace       bool
	artifacts     string
	cache         string
	noCache       bool
	env           []string
	timeout       time.Duration
	sourceVersion string
	secrets       string
}

func newBuildCmd(g *globalFlags) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [dir]",
		Short: "Run the CodeBuild buildspec.yml of dir (default .) on this machine",
		Long: `Run dir's buildspec.yml (CodeBuild version 0.2, see docs/buildspec.md) the
way CodeBuild would, streaming its phases, and write its artifacts.

The build runs in a clean copy of dir in a temporary directory, so it never
dirties dir: in a git work tree the copy holds the tracked and untracked,
not ignored files as they are on disk; elsewhere every file. --in-place
builds in dir itself. Artifacts go to dir/.cutover/artifacts (replaced on
each build) unless --artifacts names an empty or new directory. Cache paths
are kept in the user's cache directory, one cache per source directory.

Secrets named by env.parameter-store and env.secrets-manager are read from
the --secrets file (REFERENCE=value lines) and masked in the log.

The exit code is 0 only when the build succeeded; an invalid buildspec.yml
exits 1 with file:line:column.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runBuildCmd(cmd, g, f, dir)
		},
	}
	cmd.Flags().StringVarP(&f.buildspec, "buildspec", "f", config.BuildspecFile, "buildspec file, relative to dir as in CodeBuild")
	cmd.Flags().BoolVar(&f.inPlace, "in-place", false, "build in dir itself instead of a clean copy")
	cmd.Flags().StringVar(&f.artifacts, "artifacts", "", "directory for the artifacts; must be empty or new (default dir/.cutover/artifacts, replaced)")
	cmd.Flags().StringVar(&f.cache, "cache", "", "directory for the cache paths (default <user cache dir>/cutover/build/<dir hash>)")
	cmd.Flags().BoolVar(&f.noCache, "no-cache", false, "neither restore nor save the cache")
	cmd.Flags().StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable of the build (KEY=VALUE), overriding env.variables; repeatable")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 60*time.Minute, "stop the build after this long (CodeBuild's default is 60m)")
	cmd.Flags().StringVar(&f.secrets, "secrets", os.Getenv("CUTOVER_SECRETS_FILE"), "file of REFERENCE=value lines for env.parameter-store and env.secrets-manager (env CUTOVER_SECRETS_FILE)")
	cmd.Flags().StringVar(&f.sourceVersion, "source-version", "", "CODEBUILD_SOURCE_VERSION (default: the git commit of dir, if any)")
	return cmd
}

func runBuildCmd(cmd *cobra.Command, g *globalFlags, f *buildFlags, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	specPath := f.buildspec
	if !filepath.IsAbs(specPath) {
		specPath = filepath.Join(dir, specPath)
	}
	spec, err := config.LoadBuildspec(specPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := buildOptions(ctx, cmd, g, f, dir)
	if err != nil {
		return err
	}
	if !f.inPlace {
		work, err := os.MkdirTemp("", "cutover-build-")
		if err != nil {
			return fmt.Errorf("creating the build workspace: %w", err)
		}
		defer os.RemoveAll(work)
		opts.SrcDir = filepath.Join(work, "src")
		if err := build.CopySource(ctx, dir, opts.SrcDir); err != nil {
			return err
		}
	}

	res, err := build.Run(ctx, spec, opts)
	if err != nil {
		return err
	}
	if err := printJSONOr(cmd, g, res, func() { printBuildSummary(cmd.OutOrStdout(), res, opts.ArtifactsDir) }); err != nil {
		return err
	}
	if !res.Succeeded {
		return exitError{1}
	}
	return nil
}

// buildOptions are the options of a build of the source in dir, as f
// gives them: the build runs in dir itself unless the caller copies it.
func buildOptions(ctx context.Context, cmd *cobra.Command, g *globalFlags, f *buildFlags, dir string) (build.Options, error) {
	env, err := parseEnv(f.env)
	if err != nil {
		return build.Options{}, err
	}
	var secrets map[string]string
	if f.secrets != "" {
		if secrets, err = build.LoadSecrets(f.secrets); err != nil {
			return build.Options{}, err
		}
	}
	opts := build.Options{
		SrcDir:        dir,
		Env:           env,
		Secrets:       secrets,
		Timeout:       f.timeout,
		SourceVersion: f.sourceVersion,
		Log:           cmd.OutOrStdout(),
	}
	if g.json {
		opts.Log = cmd.ErrOrStderr()
	}
	if opts.SourceVersion == "" {
		opts.SourceVersion = build.SourceVersion(ctx, dir)
	}
	if opts.ArtifactsDir, err = buildArtifactsDir(dir, f.artifacts); err != nil {
		return build.Options{}, err
	}
	if !f.noCache {
		if opts.CacheDir, err = buildCacheDir(dir, f.cache); err != nil {
			return build.Options{}, err
		}
	}
	return opts, nil
}

// buildArtifactsDir returns the flag's directory, or dir/.cutover/artifacts
// emptied of an earlier build's artifacts.
func buildArtifactsDir(dir, flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	p := filepath.Join(dir, ".cutover", "artifacts")
	if err := os.RemoveAll(p); err != nil {
		return "", fmt.Errorf("removing the last build's artifacts: %w", err)
	}
	return p, nil
}

// buildCacheDir returns the flag's directory, or one under the user's cache
// directory named after dir.
func buildCacheDir(dir, flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's cache directory (or pass --cache or --no-cache): %w", err)
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(base, "cutover", "build", filepath.Base(dir)+"-"+hex.EncodeToString(sum[:6])), nil
}

func printBuildSummary(w io.Writer, res build.Result, artifacts string) {
	fmt.Fprintf(w, "\nBuild %s in %s\n", res.Status, res.Duration.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tSTATUS\tDURATION\tDETAIL")
	for _, p := range res.Phases {
		duration := "-"
		if !p.Started.IsZero() {
			duration = p.Ended.Sub(p.Started).Round(time.Millisecond).String()
		}
		detail := ""
		if p.FailedCommand != "" {
			detail = fmt.Sprintf("%s (exit status %d)", p.FailedCommand, p.ExitCode)
		} else if p.Message != "" {
			detail = p.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Status, duration, detail)
	}
	tw.Flush()
	if len(res.Exported) > 0 {
		fmt.Fprintln(w, "Exported variables:")
		for _, k := range sortedExportNames(res.Exported) {
			fmt.Fprintf(w, "  %s=%s\n", k, res.Exported[k])
		}
	}
	if len(res.Artifacts) > 0 {
		fmt.Fprintf(w, "Artifacts: %d files in %s\n", len(res.Artifacts), artifacts)
	}
}

func sortedExportNames(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
