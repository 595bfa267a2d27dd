package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/api"
	"github.com/cutover/cutover/internal/pipeline"
	"github.com/cutover/cutover/internal/store"
)

// triggerFlags are `cutover pipeline settings`' flags for the
// pipeline's branch and trigger filters.
type triggerFlags struct {
	branch                   string
	pushBranch, pushBranchEx []string
	pushPath, pushPathEx     []string
	tag, tagEx               []string
	prBranch, prBranchEx     []string
	prEvent                  []string
	file                     string
}

// filterFlags are the flags that describe the trigger filters; giving
// any replaces them all.
var filterFlags = []string{"push-branch", "push-branch-exclude", "push-path", "push-path-exclude", "tag", "tag-exclude",
	"pr-branch", "pr-branch-exclude", "pr-event"}

func (f *triggerFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.branch, "branch", "", `the pipeline's branch: manual starts, polling, and pushes when there are no trigger filters ("" = cutover.yaml's source.branch)`)
	fl.StringArrayVar(&f.pushBranch, "push-branch", nil, "trigger filter: pushes to branches matching this glob start executions (repeatable)")
	fl.StringArrayVar(&f.pushBranchEx, "push-branch-exclude", nil, "trigger filter: but not pushes to branches matching this glob")
	fl.StringArrayVar(&f.pushPath, "push-path", nil, "trigger filter: only branch pushes that change a file matching this glob (default branches: the pipeline's)")
	fl.StringArrayVar(&f.pushPathEx, "push-path-exclude", nil, "trigger filter: files matching this glob do not count, e.g. 'docs/**'")
	fl.StringArrayVar(&f.tag, "tag", nil, "trigger filter: pushed tags matching this glob start executions, e.g. 'v*'")
	fl.StringArrayVar(&f.tagEx, "tag-exclude", nil, "trigger filter: but not tags matching this glob")
	fl.StringArrayVar(&f.prBranch, "pr-branch", nil, "trigger filter: pull requests into branches matching this glob run the pipeline on their head")
	fl.StringArrayVar(&f.prBranchEx, "pr-branch-exclude", nil, "trigger filter: but not pull requests into branches matching this glob")
	fl.StringArrayVar(&f.prEvent, "pr-event", nil, "trigger filter: pull request events: open, updated, closed (default open and updated)")
	fl.StringVar(&f.file, "triggers", "", `all trigger filters from a JSON file (the API's "triggers" object, - for stdin); "none" removes them`)
}

// changed reports whether any branch or trigger flag was given.
func (f *triggerFlags) changed(cmd *cobra.Command) bool {
	return anyChanged(cmd, append([]string{"branch", "triggers"}, filterFlags...)...)
}

// apply sets the branch and trigger filters the flags give in s.
func (f *triggerFlags) apply(cmd *cobra.Command, s *api.PipelineSettings, branch string) error {
	if cmd.Flags().Changed("branch") {
		s.Branch = f.branch
		branch = f.branch
	}
	fromFlags := anyChanged(cmd, filterFlags...)
	switch {
	case fromFlags && f.file != "":
		return fmt.Errorf("--triggers replaces every filter: give it alone, or the --push-*, --tag* and --pr-* flags")
	case f.file == "none":
		s.Triggers = nil
	case f.file != "":
		t, err := readTriggers(cmd.InOrStdin(), f.file)
		if err != nil {
			return err
		}
		s.Triggers = t
	case fromFlags:
		s.Triggers = f.triggers(branch)
	}
	return nil
}

// triggers are the filters the flags describe: a push filter of
// branches (and file paths), one of tags, one of pull requests.
func (f *triggerFlags) triggers(branch string) *pipeline.Triggers {
	var t pipeline.Triggers
	branches := patterns(f.pushBranch, f.pushBranchEx)
	if paths := patterns(f.pushPath, f.pushPathEx); branches != nil || paths != nil {
		if branches == nil && branch != "" {
			branches = &pipeline.Patterns{Includes: []string{branch}}
		}
		t.Push = append(t.Push, pipeline.PushFilter{Branches: branches, FilePaths: paths})
	}
	if tags := patterns(f.tag, f.tagEx); tags != nil {
		t.Push = append(t.Push, pipeline.PushFilter{Tags: tags})
	}
	if prs := patterns(f.prBranch, f.prBranchEx); prs != nil || len(f.prEvent) > 0 {
		t.PullRequest = append(t.PullRequest, pipeline.PullRequestFilter{Events: f.prEvent, Branches: prs})
	}
	return &t
}

func patterns(includes, excludes []string) *pipeline.Patterns {
	if len(includes) == 0 && len(excludes) == 0 {
		return nil
	}
	return &pipeline.Patterns{Includes: includes, Excludes: excludes}
}

// readTriggers reads trigger filters from a JSON file, refusing fields
// it does not know.
func readTriggers(stdin io.Reader, name string) (*pipeline.Triggers, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the trigger filters: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t pipeline.Triggers
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("reading the trigger filters from %s: %w", name, err)
	}
	return &t, nil
}

// printTriggers writes the pipeline's branch and trigger filters, one
// filter a line.
func printTriggers(w io.Writer, p api.PipelineInfo) {
	branch := p.Branch
	if p.Settings.Branch == "" {
		branch += " (cutover.yaml's source.branch)"
	}
	fmt.Fprintf(w, "  branch         %s\n", branch)
	t := p.Settings.Triggers
	if t == nil || t.IsZero() {
		fmt.Fprintf(w, "  triggers       pushes to %s (no trigger filters)\n", p.Branch)
		return
	}
	label := "  triggers       "
	for _, f := range t.Push {
		switch {
		case f.Tags != nil:
			fmt.Fprintf(w, "%spush of tags %s\n", label, describePatterns(f.Tags))
		default:
			line := "push to branches " + describePatterns(f.Branches)
			if fp := f.FilePaths; fp != nil && len(fp.Includes) == 0 {
				line += " changing files other than " + strings.Join(fp.Excludes, ", ")
			} else if fp != nil {
				line += " changing files " + describePatterns(fp)
			}
			fmt.Fprintf(w, "%s%s\n", label, line)
		}
		label = "                 "
	}
	for _, f := range t.PullRequest {
		events := strings.Join(f.Events, ", ")
		if events == "" {
			events = "open, updated"
		}
		into := "any branch"
		if f.Branches != nil {
			into = describePatterns(f.Branches)
		}
		fmt.Fprintf(w, "%spull request %s into %s\n", label, events, into)
		label = "                 "
	}
}

// describePatterns writes patterns as "main, release/** but not release/old".
func describePatterns(p *pipeline.Patterns) string {
	s := strings.Join(p.Includes, ", ")
	if s == "" {
		s = "any"
	}
	if len(p.Excludes) > 0 {
		s += " but not " + strings.Join(p.Excludes, ", ")
	}
	return s
}

// triggerSummary is what started an execution, in a few words:
// "push main", "push tag v1.2", "webhook pr #42 open", or the trigger.
func triggerSummary(e store.Execution) string {
	by := e.TriggeredBy
	if by == nil {
		return orDash(e.Trigger)
	}
	switch by.Kind {
	case store.TriggerKindTag:
		return e.Trigger + " tag " + strings.TrimPrefix(by.Ref, "refs/tags/")
	case store.TriggerKindPullRequest:
		if by.PullRequest != nil {
			return fmt.Sprintf("%s pr #%d %s", e.Trigger, by.PullRequest.Number, by.PullRequest.Action)
		}
	}
	return e.Trigger + " " + strings.TrimPrefix(by.Ref, "refs/heads/")
}

// triggeredBy is the "Triggered by" line of `cutover pipeline show`.
func triggeredBy(e store.Execution) string {
	by := e.TriggeredBy
	if by == nil {
		return orDash(e.Trigger)
	}
	files := fmt.Sprintf("%d changed files", by.ChangedFiles)
	if by.FilesUnknown {
		files = "changed files unknown"
	}
	if pr := by.PullRequest; pr != nil {
		return fmt.Sprintf("%s: pull request #%d %s (%s into %s), %s", e.Trigger, pr.Number, pr.Action, pr.Branch, pr.Base, files)
	}
	return fmt.Sprintf("%s: %s %s, %s", e.Trigger, by.Kind, by.Ref, files)
}
