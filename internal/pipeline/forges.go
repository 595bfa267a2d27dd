package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ignoredEvent is a webhook event that can never start an execution (a
// ping, an issue, a pull request being labelled); its message says so.
type ignoredEvent struct{ msg string }

func (e ignoredEvent) Error() string { return e.msg }

func ignored(format string, args ...any) error { return ignoredEvent{fmt.Sprintf(format, args...)} }

// payloadCommit is a commit of a push payload: GitHub, GitLab and Gitea
// name these fields alike.
type payloadCommit struct {
	ID       string   `json:"id"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

// pushPayload is the part of a push event the pipeline reads, the union
// of GitHub's, GitLab's and Gitea's.
type pushPayload struct {
	Ref     string          `json:"ref"`
	Before  string          `json:"before"`
	After   string          `json:"after"`
	Commits []payloadCommit `json:"commits"`
	// The number of commits pushed when Commits lists only some:
	// GitLab's total_commits_count (it lists 20), Gitea's total_commits.
	GitLabTotal *int `json:"total_commits_count"`
	GiteaTotal  *int `json:"total_commits"`
	// The commit a tag push points at: GitLab's checkout_sha, GitHub's
	// and Gitea's head_commit (after is the tag object of an annotated
	// tag).
	CheckoutSHA string `json:"checkout_sha"`
	HeadCommit  *struct {
		ID string `json:"id"`
	} `json:"head_commit"`
}

// maxPayloadCommits is the most commits GitHub lists in a push event;
// a list that long may have been cut short.
const maxPayloadCommits = 2048

// parsePush turns a push event into a Trigger: a branch push with the
// files its commits changed, or a tag push.
func parsePush(body []byte) (Trigger, error) {
	var p pushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Trigger{}, fmt.Errorf("decoding the push event: %w", err)
	}
	if err := checkRefName("the push event's ref", p.Ref); err != nil {
		return Trigger{}, err
	}
	t := Trigger{Ref: p.Ref}
	switch {
	case strings.HasPrefix(p.Ref, "refs/heads/"):
		t.Kind = KindPush
	case strings.HasPrefix(p.Ref, "refs/tags/"):
		t.Kind = KindTag
	default:
		return Trigger{}, ignored("push of %q ignored: neither a branch nor a tag", p.Ref)
	}
	if strings.Trim(p.After, "0") == "" {
		return t, nil // a deletion: Commit stays empty
	}
	t.Commit = p.After
	if t.Kind == KindTag {
		if p.CheckoutSHA != "" {
			t.Commit = p.CheckoutSHA
		} else if p.HeadCommit != nil && p.HeadCommit.ID != "" {
			t.Commit = p.HeadCommit.ID
		}
	}
	if err := CheckCommitID(t.Commit); err != nil {
		return Trigger{}, fmt.Errorf("the push event's commit: %w", err)
	}
	t.ChangedFiles, t.FilesKnown = p.changedFiles()
	return t, nil
}

// changedFiles are the files the push's commits added, removed or
// modified, in order of first mention. They are unknown when the
// branch is new (before is all zeros: which commits are new to the
// repository is the forge's guess), when no commit is listed (a force
// push back to an older commit) or when the list may be cut short.
func (p pushPayload) changedFiles() ([]string, bool) {
	total := len(p.Commits)
	if p.GitLabTotal != nil {
		total = *p.GitLabTotal
	} else if p.GiteaTotal != nil {
		total = *p.GiteaTotal
	}
	if strings.Trim(p.Before, "0") == "" || len(p.Commits) == 0 || total > len(p.Commits) || len(p.Commits) >= maxPayloadCommits {
		return nil, false
	}
	seen := make(map[string]bool)
	var files []string
	for _, c := range p.Commits {
		for _, list := range [][]string{c.Added, c.Removed, c.Modified} {
			for _, f := range list {
				if !seen[f] {
					seen[f] = true
					files = append(files, f)
				}
			}
		}
	}
	return files, true
}

// prPayload is GitHub's and Gitea's pull_request event.
type prPayload struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		Number  int    `json:"number"`
		Title   string `json:"title"`
		HTMLURL string `json:"html_url"`
		Merged  bool   `json:"merged"`
		Head    struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
}

// parsePullRequest turns GitHub's or Gitea's pull_request event into a
// Trigger. actions maps the forge's actions onto PROpen, PRUpdated and
// PRClosed; others are ignored. Both keep the head at refs/pull/N/head.
func parsePullRequest(forge string, body []byte, actions map[string]string) (Trigger, error) {
	var p prPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Trigger{}, fmt.Errorf("decoding the pull_request event: %w", err)
	}
	action, ok := actions[p.Action]
	if !ok {
		return Trigger{}, ignored("%s pull request action %q ignored: only opening, new commits and closing are triggers", forge, p.Action)
	}
	pr := p.PullRequest
	number := max(p.Number, pr.Number)
	if number <= 0 {
		return Trigger{}, errors.New("the pull_request event has no number")
	}
	t := Trigger{
		Kind: KindPullRequest, Ref: fmt.Sprintf("refs/pull/%d/head", number), Commit: pr.Head.SHA,
		PR: &PullRequest{Number: number, Action: action, Merged: pr.Merged, Branch: pr.Head.Ref, Base: pr.Base.Ref, Title: pr.Title, URL: pr.HTMLURL},
	}
	return t, t.checkPR()
}

func (t Trigger) checkPR() error {
	if err := CheckCommitID(t.Commit); err != nil {
		return fmt.Errorf("the pull request's head commit: %w", err)
	}
	if err := checkRefName("the pull request's head branch", t.PR.Branch); err != nil {
		return err
	}
	return checkRefName("the pull request's base branch", t.PR.Base)
}

var githubPRActions = map[string]string{"opened": PROpen, "reopened": PROpen, "synchronize": PRUpdated, "closed": PRClosed}

var giteaPRActions = map[string]string{"opened": PROpen, "reopened": PROpen, "synchronized": PRUpdated, "closed": PRClosed}

// gitlabMR is GitLab's merge request event (Merge Request Hook).
type gitlabMR struct {
	ObjectAttributes struct {
		IID          int    `json:"iid"`
		Action       string `json:"action"`
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		Title        string `json:"title"`
		URL          string `json:"url"`
		OldRev       string `json:"oldrev"`
		LastCommit   struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
}

// parseGitLabMR turns a merge request event into a Trigger. GitLab sends
// "update" for any change (a title, a label); only one with oldrev, new
// commits, is PRUpdated. GitLab keeps the head at
// refs/merge-requests/N/head.
func parseGitLabMR(body []byte) (Trigger, error) {
	var mr gitlabMR
	if err := json.Unmarshal(body, &mr); err != nil {
		return Trigger{}, fmt.Errorf("decoding the merge request event: %w", err)
	}
	a := mr.ObjectAttributes
	var action string
	switch {
	case a.Action == "open" || a.Action == "reopen":
		action = PROpen
	case a.Action == "update" && a.OldRev != "":
		action = PRUpdated
	case a.Action == "close" || a.Action == "merge":
		action = PRClosed
	default:
		return Trigger{}, ignored("gitlab merge request action %q ignored: only opening, new commits, closing and merging are triggers", a.Action)
	}
	if a.IID <= 0 {
		return Trigger{}, errors.New("the merge request event has no iid")
	}
	t := Trigger{
		Kind: KindPullRequest, Ref: fmt.Sprintf("refs/merge-requests/%d/head", a.IID), Commit: a.LastCommit.ID,
		PR: &PullRequest{Number: a.IID, Action: action, Merged: a.Action == "merge", Branch: a.SourceBranch, Base: a.TargetBranch, Title: a.Title, URL: a.URL},
	}
	return t, t.checkPR()
}

func parseGitHub(event string, body []byte) (Trigger, error) {
	switch event {
	case "push":
		return parsePush(body)
	case "pull_request":
		return parsePullRequest("github", body, githubPRActions)
	}
	return Trigger{}, ignored("github event %q ignored: only push and pull_request events are triggers", event)
}

func parseGitLab(event string, body []byte) (Trigger, error) {
	switch event {
	case "Push Hook", "Tag Push Hook":
		return parsePush(body)
	case "Merge Request Hook":
		return parseGitLabMR(body)
	}
	return Trigger{}, ignored("gitlab event %q ignored: only Push Hook, Tag Push Hook and Merge Request Hook events are triggers", event)
}

func parseGitea(event string, body []byte) (Trigger, error) {
	switch event {
	case "push":
		return parsePush(body)
	case "pull_request", "pull_request_sync":
		return parsePullRequest("gitea", body, giteaPRActions)
	}
	return Trigger{}, ignored("gitea event %q ignored: only push and pull_request events are triggers", event)
}
