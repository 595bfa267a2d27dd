package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/runtime"
	"github.com/cutover/cutover/internal/store"
)

// Retrying writes the store refused. A task's state is the controller's
// truth in memory; when the store cannot record a change (a full disk,
// any error) the change is kept here and written again with back-off, in
// order per task, until it lands. Events are kept the same way. Once
// everything is written the store is reconciled with the runtime.

// writeRetry bounds the delay between attempts to write what failed.
const writeRetry = 30 * time.Second

// maxHeldEvents bounds the events kept while the store refuses writes;
// beyond it the oldest are dropped, and the drop is logged.
const maxHeldEvents = 1000

// writeback holds the writes the store refused. Its mutex is taken after
// Controller.mu, never before, and is held across the store writes of
// tasks so that a task's changes land in order.
type writeback struct {
	mu     sync.Mutex
	tasks  map[string][]func(*store.Task) // changes per task, oldest first
	order  []string                       // task ids in the order they were first held
	events []store.Event
	since  time.Time // when the store began refusing; zero when all is written
	err    error     // the first refusal since then
	kick   chan struct{}
}

func newWriteback() *writeback {
	return &writeback{tasks: map[string][]func(*store.Task){}, kick: make(chan struct{}, 1)}
}

// dirty reports whether writes are waiting. Called with w.mu held.
func (w *writeback) dirty() bool { return len(w.order) > 0 || len(w.events) > 0 }

// refused notes a refused write; the first of an outage wakes the retry
// loop, which backs off from then on. Called with w.mu held.
func (w *writeback) refused(err error) {
	if w.since.IsZero() {
		w.since, w.err = time.Now(), err
		w.wake()
	}
}

// wake asks the retry loop to try now.
func (w *writeback) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// storeWorks tells the retry loop that a write just landed: what is held
// can be written now.
func (w *writeback) storeWorks() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dirty() {
		w.wake()
	}
}

// updateTask changes task id in the store with fn. When the store refuses
// the write, or an earlier change of the task still waits, the change is
// kept and retried; the error is logged, never lost.
func (c *Controller) updateTask(ctx context.Context, id, what string, fn func(*store.Task)) {
	w := c.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.tasks[id]) == 0 {
		_, err := c.store.UpdateTask(ctx, id, func(t *store.Task) error { fn(t); return nil })
		switch {
		case err == nil:
			if w.dirty() {
				w.wake() // the store writes again: flush the rest now
			}
			return
		case ctx.Err() != nil, permanent(err):
			c.log.Error(what, "task", id, "err", err)
			return // cutover is stopping (Run sorts it out), or retrying cannot help
		}
		c.log.Error(what+"; keeping it in memory and retrying", "task", id, "err", err)
		w.refused(err)
		w.order = append(w.order, id)
	}
	w.tasks[id] = append(w.tasks[id], fn)
}

// holdEvent keeps an event the store refused, to append it later.
func (c *Controller) holdEvent(e store.Event, err error) {
	w := c.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) >= maxHeldEvents {
		c.log.Error("store refuses writes; dropping the oldest held event", "type", w.events[0].Type, "app", w.events[0].App)
		w.events = w.events[1:]
	}
	w.events = append(w.events, e)
	w.refused(err)
}

// retryWrites writes what the store refused, backing off 1s, 2s ... 30s
// while it keeps refusing, until ctx ends. Once all is written it
// reports the recovery and reconciles the store with the runtime.
func (c *Controller) retryWrites(ctx context.Context) {
	attempts := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			c.lastFlush(ctx)
			return
		case <-c.writes.kick:
		case <-timer.C:
		}
		timer.Stop()
		since, first, n, err := c.flushWrites(ctx)
		switch {
		case err != nil:
			attempts++
			d := backoff(attempts, time.Second, writeRetry)
			c.log.Warn("store still refuses writes; retrying", "waiting", n, "in", d, "since", since, "err", err)
			timer.Reset(d)
		case n > 0:
			attempts = 0
			c.recovered(ctx, since, first, n)
		}
	}
}

// lastFlush tries once more to write what is held as cutover stops, and
// logs what is lost with the process: the next start reconciles the
// store with the runtime.
func (c *Controller) lastFlush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, _, n, err := c.flushWrites(ctx); err != nil {
		c.log.Error("stopping with writes the store refused; the next start reconciles the store with the runtime", "writes", n, "err", err)
	}
}

// flushWrites writes the held changes, oldest first, and returns when the
// store began refusing, its first error, how many writes were held, and
// the error that stopped the flush, if any.
func (c *Controller) flushWrites(ctx context.Context) (since time.Time, first error, n int, err error) {
	w := c.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	since, first, n = w.since, w.err, len(w.order)+len(w.events)
	for len(w.order) > 0 {
		id := w.order[0]
		fns := w.tasks[id]
		_, err := c.store.UpdateTask(ctx, id, func(t *store.Task) error {
			for _, fn := range fns {
				fn(t)
			}
			return nil
		})
		if err != nil && !permanent(err) {
			return since, first, n, err
		}
		if err != nil {
			c.log.Error("writing a held task change; dropping it", "task", id, "err", err)
		}
		delete(w.tasks, id)
		w.order = w.order[1:]
	}
	for len(w.events) > 0 {
		_, err := c.store.Append(ctx, w.events[0])
		if err != nil && !permanent(err) {
			return since, first, n, err
		}
		if err != nil {
			c.log.Error("appending a held event; dropping it", "type", w.events[0].Type, "err", err)
		}
		w.events = w.events[1:]
	}
	w.since, w.err = time.Time{}, nil
	return since, first, n, nil
}

// permanent reports whether retrying a write that failed with err cannot
// help: what it changes is gone, or the change itself is refused.
func permanent(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict)
}

// recovered reports that the store writes again and reconciles it with
// the runtime.
func (c *Controller) recovered(ctx context.Context, since time.Time, first error, n int) {
	c.log.Info("store writes again; held writes written", "writes", n, "refused_for", time.Since(since).Round(time.Second), "err", first)
	c.event(ctx, "store.recovered", "", "", map[string]any{
		"since": since, "writes": n, "error": fmt.Sprint(first),
	})
	if err := c.reconcileStore(ctx); err != nil && ctx.Err() == nil {
		c.log.Error("reconciling the store with the runtime", "err", err)
	}
}

// reconcileStore records stopped the tasks the store lists as live that
// neither the controller nor the runtime has: they ended and the store
// never learned of it.
func (c *Controller) reconcileStore(ctx context.Context) error {
	running, err := c.driver.List(ctx)
	if err != nil {
		return fmt.Errorf("listing the runtime's tasks: %w", err)
	}
	live, err := c.store.ListTasks(ctx, store.TaskFilter{Live: true})
	if err != nil {
		return fmt.Errorf("listing the store's live tasks: %w", err)
	}
	have := map[string]bool{}
	for _, t := range running {
		have[t.ID] = t.Running
	}
	c.mu.Lock()
	for _, a := range c.apps {
		for _, s := range a.sets {
			for _, t := range s.tasks {
				have[t.id] = true
			}
		}
	}
	c.mu.Unlock()
	for _, st := range live {
		if have[st.ID] {
			continue
		}
		c.log.Warn("the store lists a task the runtime does not run; recording it stopped", "app", st.App, "task", st.ID, "state", st.State)
		exit := runtime.Exit{Code: -1, Reason: "gone: the runtime did not run it when the store was reconciled", At: time.Now()}
		c.recordStopped(ctx, st.ID, exit)
	}
	return nil
}
