package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/runtime/process"
)

func TestDispatchRunsCommandsOnProcessesAndRefusesImagesWithoutEngine(t *testing.T) {
	procs, err := process.New(process.Options{StateDir: t.TempDir(), StartCheck: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer procs.Close()
	d := &runtime.Dispatch{Processes: procs, ImagesErr: errors.New("connecting to Docker Engine: no such file")}
	ctx := context.Background()

	task, err := d.Start(ctx, runtime.TaskSpec{ID: "web-1", App: "web", Command: []string{"/bin/sh", "-c", "exec sleep 30"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start of a command: %v", err)
	}
	if task.Driver != "process" {
		t.Errorf("command task ran on %q", task.Driver)
	}
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "web-1" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	exit, err := d.Stop(ctx, "web-1", 5*time.Second)
	if err != nil || !strings.Contains(exit.Reason, "SIGTERM") {
		t.Errorf("Stop = %+v, %v", exit, err)
	}
	if _, err := d.Wait(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait of an unknown task: %v, want ErrNotFound", err)
	}

	_, err = d.Start(ctx, runtime.TaskSpec{ID: "img-1", App: "img", Image: "hello:1", Port: 80})
	if !errors.Is(err, runtime.ErrStartFailed) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Start of an image without an engine: %v", err)
	}
}
