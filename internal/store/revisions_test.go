package store

import (
	"context"
	"errors"
	"testing"
)

func TestRevisionsAreNumberedPerApp(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "web")
	seedApp(t, s, "api")
	r2, err := s.CreateRevision(ctx, Revision{App: "web", Commit: "def456", Artifact: "registry/web:2", Config: []byte(`{"count":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r2.ID != "web-r2" || r2.Number != 2 || r2.CreatedAt.IsZero() {
		t.Fatalf("second revision = %+v, want web-r2", r2)
	}
	got, err := s.GetRevision(ctx, "web-r2")
	if err != nil || !same(got, r2) {
		t.Fatalf("GetRevision = %+v, %v; want %+v", got, err, r2)
	}
	revs, err := s.ListRevisions(ctx, "web")
	if err != nil || len(revs) != 2 || revs[0].ID != "web-r2" || revs[1].ID != "web-r1" {
		t.Fatalf("ListRevisions = %+v, %v; want web-r2, web-r1", revs, err)
	}
	if api, _ := s.ListRevisions(ctx, "api"); len(api) != 1 || api[0].ID != "api-r1" {
		t.Fatalf("api revisions = %+v", api)
	}
	if types := eventTypes(t, s, EventFilter{App: "web", Types: []string{EventRevisionCreated}}); len(types) != 2 {
		t.Fatalf("revision.created events of web = %d, want 2", len(types))
	}
}

func TestCreateRevisionRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	seedApp(t, s, "web")
	if _, err := s.CreateRevision(ctx, Revision{App: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revision of unknown app: %v, want ErrNotFound", err)
	}
	if _, err := s.CreateRevision(ctx, Revision{App: "web", Config: []byte("not json")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("revision with bad config: %v, want ErrInvalid", err)
	}
	if _, err := s.GetRevision(ctx, "web-r9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRevision(web-r9) = %v, want ErrNotFound", err)
	}
}
