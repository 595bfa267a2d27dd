package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/pipeline"
)

// previewFlags are the flags of the preview settings.
type previewFlags struct {
	domain, testListener, idle string
	branches, branchesEx, env  []string
	count, limit               int
	off                        bool
}

var previewFlagNames = []string{"preview-domain", "preview-branch", "preview-branch-exclude", "preview-count", "preview-env",
	"preview-test-listener", "preview-idle", "preview-limit", "no-preview"}

func (f *previewFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.domain, "preview-domain", "", `preview apps per pull request under this wildcard domain, e.g. "*.hello.example.com" (pr-42.hello.example.com)`)
	fl.StringArrayVar(&f.branches, "preview-branch", nil, "pushes to branches matching this glob get a preview app too (repeatable)")
	fl.StringArrayVar(&f.branchesEx, "preview-branch-exclude", nil, "but not branches matching this glob")
	fl.IntVar(&f.count, "preview-count", 0, "tasks per preview app (default 1)")
	fl.StringArrayVar(&f.env, "preview-env", nil, "NAME=VALUE added to the previews' environment (repeatable; replaces the list)")
	fl.StringVar(&f.testListener, "preview-test-listener", "", `the previews' test listener, e.g. ":8091" (default none)`)
	fl.StringVar(&f.idle, "preview-idle", "", "destroy a preview app idle this long (default 72h; negative: never)")
	fl.IntVar(&f.limit, "preview-limit", 0, "preview apps of the app at once (default 5)")
	fl.BoolVar(&f.off, "no-preview", false, "no preview apps (running ones stay until their pull request closes or they idle out)")
}

func (f *previewFlags) changed(cmd *cobra.Command) bool { return anyChanged(cmd, previewFlagNames...) }

// apply sets the preview settings the flags give in s, keeping the ones
// they do not name.
func (f *previewFlags) apply(cmd *cobra.Command, s *api.PipelineSettings) error {
	fl := cmd.Flags()
	if f.off {
		if anyChanged(cmd, previewFlagNames[:len(previewFlagNames)-1]...) {
			return fmt.Errorf("--no-preview removes the preview settings: give it alone")
		}
		s.Preview = nil
		return nil
	}
	if !f.changed(cmd) {
		return nil
	}
	pv := api.PipelinePreview{}
	if s.Preview != nil {
		pv = *s.Preview
	}
	if fl.Changed("preview-domain") {
		pv.Domain = f.domain
	}
	if anyChanged(cmd, "preview-branch", "preview-branch-exclude") {
		pv.Branches = &pipeline.Patterns{Includes: f.branches, Excludes: f.branchesEx}
	}
	if fl.Changed("preview-count") {
		pv.Count = f.count
	}
	if fl.Changed("preview-env") {
		pv.Env = map[string]string{}
		for _, kv := range f.env {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("--preview-env %q: write it NAME=VALUE", kv)
			}
			pv.Env[name] = value
		}
	}
	if fl.Changed("preview-test-listener") {
		pv.TestListener = f.testListener
	}
	if fl.Changed("preview-idle") {
		pv.Idle = f.idle
	}
	if fl.Changed("preview-limit") {
		pv.Limit = f.limit
	}
	if pv.Domain == "" {
		return fmt.Errorf(`--preview-domain is needed for preview apps, e.g. "*.hello.example.com"`)
	}
	s.Preview = &pv
	return nil
}

// printPreview writes the preview settings' line of `pipeline settings`,
// when there are some.
func printPreview(w io.Writer, pv *api.PipelinePreview) {
	if pv == nil {
		return
	}
	count, limit, idle := pv.Count, pv.Limit, pv.Idle
	if count == 0 {
		count = 1
	}
	if limit == 0 {
		limit = pipeline.DefaultPreviewLimit
	}
	if idle == "" {
		idle = "72h"
	}
	line := fmt.Sprintf("per pull request at %s, %d task(s) each, at most %d, destroyed after %s idle", pv.Domain, count, limit, idle)
	if strings.HasPrefix(idle, "-") {
		line = fmt.Sprintf("per pull request at %s, %d task(s) each, at most %d, never destroyed for idling", pv.Domain, count, limit)
	}
	if pv.Branches != nil {
		line += "; pushes to branches " + strings.Join(pv.Branches.Includes, ", ")
		if len(pv.Branches.Excludes) > 0 {
			line += " but not " + strings.Join(pv.Branches.Excludes, ", ")
		}
	}
	if len(pv.Env) > 0 {
		names := make([]string, 0, len(pv.Env))
		for n := range pv.Env {
			names = append(names, n)
		}
		slices.Sort(names)
		line += "; env " + strings.Join(names, ", ")
	}
	fmt.Fprintf(w, "  previews       %s\n", line)
}

// previewColumn is an app's PREVIEW column in `cutover apps`.
func previewColumn(a api.AppStatus) string {
	pv := a.Preview
	if pv == nil {
		return "-"
	}
	what := "branch " + pv.Branch
	if pv.PullRequest > 0 {
		what = fmt.Sprintf("#%d", pv.PullRequest)
	}
	return fmt.Sprintf("%s %s %s %s", pv.Parent, what, pv.Status, pv.URL)
}

// anyPreview reports whether one of apps is a preview app.
func anyPreview(apps []api.AppStatus) bool {
	return slices.ContainsFunc(apps, func(a api.AppStatus) bool { return a.Preview != nil })
}
