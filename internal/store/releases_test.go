package store

import (
	"context"
	"testing"
)

func TestReleaseHistoryGivesEachRevisionItsNewestDeploymentAndActor(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r1 := seedApp(t, s, "hello")
	seedApp(t, s, "other") // another app's revisions are not listed
	r2, err := s.CreateRevision(ctx, Revision{App: "hello", Commit: "def456", Artifact: "/releases/hello/2"})
	if err != nil {
		t.Fatal(err)
	}
	r3, err := s.CreateRevision(ctx, Revision{App: "hello", Artifact: "/releases/hello/1"})
	if err != nil {
		t.Fatal(err)
	}
	end := func(id, status string) {
		t.Helper()
		if _, err := s.UpdateDeployment(ctx, id, func(d *Deployment) error { d.Status = status; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	deploy := func(actor, from, to string) Deployment {
		t.Helper()
		d, err := s.CreateDeployment(WithActor(ctx, actor), Deployment{App: "hello", FromRevision: from, ToRevision: to})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1 := deploy("token:ci", "", r1.ID)
	end(d1.ID, DeploymentSucceeded)
	d2 := deploy("token:alice", r1.ID, r2.ID)
	end(d2.ID, DeploymentRolledBack)
	d3 := deploy("token:bob", r1.ID, r2.ID) // r2 again: the newest counts
	end(d3.ID, DeploymentSucceeded)

	hist, err := s.ReleaseHistory(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ id, artifact, deployment, status, from, actor string }
	want := []row{
		{r3.ID, "/releases/hello/1", "", "", "", ""},
		{r2.ID, "/releases/hello/2", d3.ID, DeploymentSucceeded, r1.ID, "token:bob"},
		{r1.ID, "/releases/hello/1", d1.ID, DeploymentSucceeded, "", "token:ci"},
	}
	if len(hist) != len(want) {
		t.Fatalf("ReleaseHistory = %d revisions, want %d: %+v", len(hist), len(want), hist)
	}
	for i, h := range hist {
		got := row{h.ID, h.Artifact, h.Deployment.ID, h.Deployment.Status, h.Deployment.FromRevision, h.Actor}
		if got != want[i] {
			t.Errorf("revision %d = %+v, want %+v", i, got, want[i])
		}
	}
	if hist[1].Commit != "def456" || hist[1].Deployment.EndedAt.IsZero() {
		t.Errorf("r2 = %+v, want its commit and its deployment's end", hist[1])
	}
	if none, err := s.ReleaseHistory(ctx, "nope"); err != nil || len(none) != 0 {
		t.Errorf("ReleaseHistory(unknown app) = %v, %v; want none", none, err)
	}
}
