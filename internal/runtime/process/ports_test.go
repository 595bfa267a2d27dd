package process

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

// freePorts returns the first of n consecutive ports that are free now.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for first := 30000; first < 32000; first += n {
		free := true
		for p := first; p < first+n && free; p++ {
			free = portFree(p)
		}
		if free {
			return first
		}
	}
	t.Fatalf("no %d consecutive free ports in 30000-32000", n)
	return 0
}

func portOf(t *testing.T, task runtime.Task) int {
	t.Helper()
	_, port, err := net.SplitHostPort(task.Address)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPortExhaustion(t *testing.T) {
	lo := freePorts(t, 2)
	d := newDriver(t, Options{PortMin: lo, PortMax: lo + 1})
	a := start(t, d, appSpec(t, "web-1"))
	b := start(t, d, appSpec(t, "web-2"))
	if portOf(t, a) == portOf(t, b) {
		t.Fatalf("both tasks got port %d", portOf(t, a))
	}

	_, err := d.Start(t.Context(), appSpec(t, "web-3"))
	if !errors.Is(err, runtime.ErrNoPort) {
		t.Fatalf("third Start = %v, want ErrNoPort", err)
	}
	if tasks, _ := d.List(t.Context()); len(tasks) != 2 {
		t.Errorf("List = %d tasks, want 2", len(tasks))
	}

	// Stopping a task frees its port.
	if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c := start(t, d, appSpec(t, "web-3"))
	if portOf(t, c) != portOf(t, a) {
		t.Errorf("web-3 got port %d, want the freed %d", portOf(t, c), portOf(t, a))
	}
	for _, id := range []string{"web-2", "web-3"} {
		if _, err := d.Stop(t.Context(), id, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPortInUseIsSkipped(t *testing.T) {
	tests := []struct {
		name string
		host string // where another program listens on the first port
	}{
		{"loopback", "127.0.0.1"},
		{"wildcard", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := freePorts(t, 2)
			ln, err := net.Listen("tcp", net.JoinHostPort(tt.host, strconv.Itoa(lo)))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()

			d := newDriver(t, Options{PortMin: lo, PortMax: lo + 1})
			task := start(t, d, appSpec(t, "web-1"))
			if got := portOf(t, task); got != lo+1 {
				t.Errorf("task got port %d, want %d (%d is in use)", got, lo+1, lo)
			}
			if _, err := d.Start(t.Context(), appSpec(t, "web-2")); !errors.Is(err, runtime.ErrNoPort) {
				t.Errorf("second Start = %v, want ErrNoPort", err)
			}
			if _, err := d.Stop(t.Context(), "web-1", 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConcurrentStartsGetDistinctPorts(t *testing.T) {
	lo := freePorts(t, 20)
	d := newDriver(t, Options{PortMin: lo, PortMax: lo + 19})
	const n = 6
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ports = make(map[int]string)
	)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("web-%d", i)
			task, err := d.Start(t.Context(), appSpec(t, id))
			if err != nil {
				t.Error(err)
				return
			}
			trackProcess(t, task.PID)
			mu.Lock()
			if other, dup := ports[portOf(t, task)]; dup {
				t.Errorf("%s and %s both got port %d", id, other, portOf(t, task))
			}
			ports[portOf(t, task)] = id
			mu.Unlock()
			if _, err := get(t.Context(), task.Address, "/"); err != nil {
				t.Errorf("%s: %v", id, err)
			}
			if _, err := d.Stop(t.Context(), id, 5*time.Second); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(ports) != n {
		t.Errorf("%d distinct ports for %d tasks", len(ports), n)
	}
}
