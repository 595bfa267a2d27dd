package notify

import (
	"encoding/json"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

func TestPreviewEvents(t *testing.T) {
	pv := store.Preview{App: "hello-pr-42", Parent: "hello", PullRequest: 42, Branch: "feature", URL: "http://pr-42.hello.example.com:8080", Status: store.PreviewDeployed}
	tests := []struct {
		typ, reason, text string
	}{
		{store.EventPreviewDeployed, "", "hello: preview app hello-pr-42 of pull request #42 is deployed at http://pr-42.hello.example.com:8080"},
		{store.EventPreviewDestroyed, "pull request #42 merged", "hello: preview app hello-pr-42 of pull request #42 destroyed: pull request #42 merged"},
		{store.EventPreviewRefused, "limit 5", "hello: no preview app for pull request #42: limit 5"},
		{store.EventPreviewCreated, "", ""}, // not notified: deployed follows
	}
	for _, tt := range tests {
		data, _ := json.Marshal(store.PreviewChange{Preview: pv, Reason: tt.reason})
		p, ok := kind(store.Event{Type: tt.typ, App: "hello", Data: data})
		if tt.text == "" {
			if ok {
				t.Errorf("%s is notified as %+v", tt.typ, p)
			}
			continue
		}
		if !ok || p.Event != tt.typ || p.PreviewURL != pv.URL || p.PreviewApp != pv.App || p.PullRequest != 42 {
			t.Errorf("%s: %+v, %v", tt.typ, p, ok)
		}
		if got := text(p); got != tt.text {
			t.Errorf("%s: text %q, want %q", tt.typ, got, tt.text)
		}
	}
}
