package proxy

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cutover/cutover/internal/proxy/metrics"
)

// ListenerFile is a listener's socket, duplicated, to hand over to a
// successor process (see HandOver and Options.Inherited).
type ListenerFile struct {
	Name    string
	Address string // as configured
	File    *os.File
}

// ListenerFiles duplicates every listener's socket. The caller closes the
// files once it has passed them on; the proxy keeps serving on its own.
func (p *Proxy) ListenerFiles() ([]ListenerFile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ListenerFile
	for name, l := range p.listeners {
		fl, ok := l.ln.(interface{ File() (*os.File, error) })
		if !ok {
			closeFiles(out)
			return nil, fmt.Errorf("listener %s: its socket cannot be handed over", name)
		}
		f, err := fl.File()
		if err != nil {
			closeFiles(out)
			return nil, fmt.Errorf("listener %s: duplicating its socket: %w", name, err)
		}
		out = append(out, ListenerFile{Name: name, Address: l.addr, File: f})
	}
	return out, nil
}

func closeFiles(fs []ListenerFile) {
	for _, f := range fs {
		f.File.Close()
	}
}

// HandOver is Close for a proxy whose sockets a successor process now
// accepts on as well. Every listener stops accepting at once, so new
// connections go to the successor and no connect is refused; each HTTP/1
// response from now on carries Connection: close, so keep-alive clients
// reconnect (to the successor) after their current request, and HTTP/2
// clients get GOAWAY. Connections still idle after settle are closed;
// requests, WebSockets and streams in flight run until ctx is done, then
// everything left is cut as by Close.
func (p *Proxy) HandOver(ctx context.Context, settle time.Duration) error {
	p.mu.Lock()
	listeners := make([]*listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		listeners = append(listeners, l)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Go(func() { l.handOver(ctx, settle) })
	}
	wg.Wait()
	return p.Close(ctx)
}

// Window returns the stats of a target group's requests over the last d;
// see metrics.Registry.Window.
func (p *Proxy) Window(group string, d time.Duration) metrics.WindowStats {
	return p.metrics.Window(group, d)
}

// ListenerAddrs returns the bound address of every listener, by name.
func (p *Proxy) ListenerAddrs() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.listeners))
	for name, l := range p.listeners {
		out[name] = l.ln.Addr().String()
	}
	return out
}

// HealthyTargets lists the healthy targets by group, for a successor
// process to register them healthy (Config.WithHealthy).
func (p *Proxy) HealthyTargets() map[string][]string {
	out := map[string][]string{}
	for _, t := range p.Targets() {
		if t.State == StateHealthy {
			out[t.Group] = append(out[t.Group], t.Target)
		}
	}
	return out
}
