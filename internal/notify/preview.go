package notify

import (
	"encoding/json"
	"fmt"

	"github.com/cutover/cutover/internal/store"
)

// previewEvents are the preview app events notified, under their own
// names: preview.deployed carries the preview's URL, to post back to the
// pull request.
var previewEvents = map[string]bool{
	store.EventPreviewDeployed:  true,
	store.EventPreviewFailed:    true,
	store.EventPreviewRefused:   true,
	store.EventPreviewDestroyed: true,
}

// previewPayload fills p from a preview.* event's data.
func previewPayload(p Payload, e store.Event) Payload {
	var c store.PreviewChange
	if !previewEvents[e.Type] || json.Unmarshal(e.Data, &c) != nil {
		return p
	}
	p.Event, p.Status, p.Reason = e.Type, c.Status, c.Reason
	p.PreviewApp, p.PreviewURL, p.PullRequest, p.Branch = c.App, c.URL, c.PullRequest, c.Branch
	return p
}

// previewText is a preview event's line for people.
func previewText(p Payload) string {
	what := "branch " + p.Branch
	if p.PullRequest > 0 {
		what = fmt.Sprintf("pull request #%d", p.PullRequest)
	}
	switch p.Event {
	case store.EventPreviewDeployed:
		return fmt.Sprintf("%s: preview app %s of %s is deployed at %s", p.App, p.PreviewApp, what, p.PreviewURL)
	case store.EventPreviewFailed:
		return fmt.Sprintf("%s: preview app %s of %s failed to deploy: %s", p.App, p.PreviewApp, what, p.Reason)
	case store.EventPreviewRefused:
		return fmt.Sprintf("%s: no preview app for %s: %s", p.App, what, p.Reason)
	}
	return fmt.Sprintf("%s: preview app %s of %s destroyed: %s", p.App, p.PreviewApp, what, p.Reason)
}
