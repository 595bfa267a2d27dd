package store

import (
	"context"
	"errors"
	"testing"
)

func TestPreviewLimitAndLifecycle(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.PutApp(ctx, App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	put := func(app, key string) (Preview, bool, error) {
		return s.PutPreview(ctx, Preview{App: app, Parent: "hello", SourceKey: key, Host: app + ".example.com", Status: PreviewDeploying}, 2)
	}
	if _, created, err := put("hello-pr-1", "pr:1"); err != nil || !created {
		t.Fatalf("first preview: created %v, %v", created, err)
	}
	if _, created, err := put("hello-pr-2", "pr:2"); err != nil || !created {
		t.Fatalf("second preview: created %v, %v", created, err)
	}
	// An update of an existing one is not a new preview: the limit does not apply.
	if _, created, err := put("hello-pr-1", "pr:1"); err != nil || created {
		t.Fatalf("updating a preview: created %v, %v; want an update", created, err)
	}
	if _, _, err := put("hello-pr-3", "pr:3"); !errors.Is(err, ErrPreviewLimit) {
		t.Fatalf("third preview over a limit of 2: %v, want ErrPreviewLimit", err)
	}
	if _, err := s.GetPreview(ctx, "hello-pr-3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused preview is stored: %v", err)
	}
	refused, err := s.Events(ctx, EventFilter{App: "hello", Types: []string{EventPreviewRefused}})
	if err != nil || len(refused) != 1 {
		t.Fatalf("preview.refused events: %d, %v; want 1", len(refused), err)
	}
	// Another parent's key cannot take over an app name.
	if _, _, err := put("hello-pr-1", "pr:9"); !errors.Is(err, ErrConflict) {
		t.Errorf("another source key for hello-pr-1: %v, want ErrConflict", err)
	}
	if _, _, err := s.PutPreview(ctx, Preview{App: "x", Parent: "nope", SourceKey: "pr:1", Host: "h", Status: PreviewDeploying}, 5); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown parent: %v, want ErrNotFound", err)
	}

	if err := s.DeletePreview(ctx, "hello-pr-2", "pull request #2 closed"); err != nil {
		t.Fatal(err)
	}
	if _, created, err := put("hello-pr-3", "pr:3"); err != nil || !created {
		t.Fatalf("a preview after one was deleted: created %v, %v", created, err)
	}
	list, err := s.ListPreviews(ctx, "hello")
	if err != nil || len(list) != 2 || list[0].App != "hello-pr-1" || list[1].App != "hello-pr-3" {
		t.Fatalf("ListPreviews: %+v, %v; want hello-pr-1, hello-pr-3", list, err)
	}
	if p, err := s.SetPreviewStatus(ctx, "hello-pr-1", PreviewDeployed, EventPreviewDeployed, ""); err != nil || p.Status != PreviewDeployed {
		t.Fatalf("SetPreviewStatus: %+v, %v", p, err)
	}
}
