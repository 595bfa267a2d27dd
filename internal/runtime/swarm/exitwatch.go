package swarm

import (
	"context"
	"strconv"
	"time"

	"github.com/moby/moby/client"
)

// exitWatch reads a task container's exit code from the Engine's "die"
// event. Swarm deletes a scaled-down task soon after it shut down, and
// when that happens between two polls of Stop the task's exit code is
// gone; the event is sent all the same, for a container on the node of
// the Engine cutover talks to.
type exitWatch struct {
	codes  chan int // gets the exit code, once
	cancel context.CancelFunc
}

// watchExit subscribes to the die event of containerID, from a second
// before now so that an event sent while subscribing is not missed. It
// returns nil without a container ID.
func (d *Driver) watchExit(ctx context.Context, containerID string) *exitWatch {
	if containerID == "" {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	res := d.client.Events(ctx, client.EventsListOptions{
		Since:   strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10),
		Filters: make(client.Filters).Add("type", "container").Add("container", containerID).Add("event", "die"),
	})
	w := &exitWatch{codes: make(chan int, 1), cancel: cancel}
	go func() {
		for {
			select {
			case m := <-res.Messages:
				if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
					w.codes <- code
					return
				}
			case <-res.Err:
				return
			}
		}
	}()
	return w
}

// code waits up to wait for the exit code; false when none came.
func (w *exitWatch) code(wait time.Duration) (int, bool) {
	if w == nil {
		return 0, false
	}
	select {
	case code := <-w.codes:
		return code, true
	case <-time.After(wait):
		return 0, false
	}
}

func (w *exitWatch) stop() {
	if w != nil {
		w.cancel()
	}
}
