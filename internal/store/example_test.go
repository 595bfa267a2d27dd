package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/internal/store"
)

// A deployment as a controller records it: every call is one
// transaction that also appends to the event log.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(ctx, filepath.Join(dir, "cutover.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Follow the log from the start, as the dashboard does.
	events := s.Subscribe(ctx, 0)

	if err := s.PutApp(ctx, store.App{Name: "hello", DesiredCount: 1}); err != nil {
		log.Fatal(err)
	}
	rev, err := s.CreateRevision(ctx, store.Revision{App: "hello", Commit: "3f2a9c1", Artifact: "/var/lib/cutover/releases/hello/1"})
	if err != nil {
		log.Fatal(err)
	}
	d, err := s.CreateDeployment(store.WithActor(ctx, "cli"), store.Deployment{App: "hello", ToRevision: rev.ID, Strategy: "blue_green"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.UpdateDeployment(ctx, d.ID, func(d *store.Deployment) error {
		d.Status = store.DeploymentInProgress
		return nil
	}); err != nil {
		log.Fatal(err)
	}
	if err := s.PutTask(ctx, store.Task{ID: "hello-r1-1", App: "hello", Revision: rev.ID, TaskSet: "green",
		Driver: "process", Address: "127.0.0.1:41001", State: store.TaskRunning}); err != nil {
		log.Fatal(err)
	}
	step, err := s.StartLifecycleEvent(ctx, d.ID, store.LifecycleAllowTraffic)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.RecordWeights(ctx, d.ID, "production", map[string]int{"green": 100}); err != nil {
		log.Fatal(err)
	}
	if _, err := s.EndLifecycleEvent(ctx, d.ID, step.Seq, store.LifecycleSucceeded, ""); err != nil {
		log.Fatal(err)
	}
	if _, err := s.UpdateDeployment(ctx, d.ID, func(d *store.Deployment) error {
		d.Status = store.DeploymentSucceeded
		return nil
	}); err != nil {
		log.Fatal(err)
	}

	for e := range events {
		fmt.Println(e.ID, e.Type, e.Actor)
		if e.Type == store.EventDeploymentStatus && e.ID > 5 {
			break
		}
	}
	// Output:
	// 1 app.created system
	// 2 revision.created system
	// 3 deployment.created cli
	// 4 deployment.status system
	// 5 task.created system
	// 6 deployment.lifecycle system
	// 7 traffic.shift system
	// 8 deployment.lifecycle system
	// 9 deployment.status system
}
