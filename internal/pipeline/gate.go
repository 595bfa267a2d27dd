package pipeline

import (
	"context"
	"errors"
	"slices"
)

// errSuperseded ends an execution a newer one replaced in front of a
// stage.
var errSuperseded = errors.New("superseded by a newer execution")

// line is one app's pipeline in memory: its stage locks, its running
// executions and its poller. Guarded by Pipeline.mu.
type line struct {
	gates      map[string]*gate
	running    map[string]*execution
	stopPoller context.CancelFunc
}

// gate is a stage's lock: the execution in the stage and those waiting
// to enter it, oldest first.
type gate struct {
	holder  *execution
	waiting []*execution
}

func (p *Pipeline) lineLocked(app string) *line {
	l := p.lines[app]
	if l == nil {
		l = &line{gates: make(map[string]*gate), running: make(map[string]*execution)}
		p.lines[app] = l
	}
	return l
}

// enter waits until x may enter stage: at once when the stage is free
// and nobody waits; otherwise after the executions in front of it, in
// QUEUED mode, or when the stage frees up, in SUPERSEDED mode, where x
// replaces whoever was waiting (they end with errSuperseded). It returns
// errSuperseded when a newer execution replaced x, or ctx's error.
func (p *Pipeline) enter(ctx context.Context, x *execution, stage string) error {
	p.mu.Lock()
	g := p.lineLocked(x.app).gates[stage]
	if g == nil {
		g = &gate{}
		p.lineLocked(x.app).gates[stage] = g
	}
	if g.holder == nil && len(g.waiting) == 0 {
		g.holder = x
		p.mu.Unlock()
		return nil
	}
	if x.mode != ModeQueued {
		for _, w := range g.waiting {
			w.wake <- errSuperseded
		}
		g.waiting = nil
	}
	g.waiting = append(g.waiting, x)
	p.mu.Unlock()

	select {
	case err := <-x.wake:
		return err
	case <-ctx.Done():
		p.mu.Lock()
		if i := slices.Index(g.waiting, x); i >= 0 {
			g.waiting = slices.Delete(g.waiting, i, i+1)
			p.mu.Unlock()
			return context.Cause(ctx)
		}
		p.mu.Unlock()
		// Woken at the same time: let go of the stage if it was granted.
		if err := <-x.wake; err == nil {
			p.leave(x, stage)
		}
		return context.Cause(ctx)
	}
}

// leave frees stage, which x holds, and lets the next waiting execution
// in.
func (p *Pipeline) leave(x *execution, stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.lineLocked(x.app).gates[stage]
	if g == nil || g.holder != x {
		return
	}
	g.holder = nil
	if len(g.waiting) > 0 {
		next := g.waiting[0]
		g.waiting = g.waiting[1:]
		g.holder = next
		next.wake <- nil
	}
}
