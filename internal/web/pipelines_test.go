package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// loggingPipeline serves one execution, whose stages the test changes,
// and a build log written in the given chunks.
type loggingPipeline struct {
	mu     sync.Mutex
	e      store.Execution
	chunks []string
}

func (p *loggingPipeline) Get(ctx context.Context, id string) (store.Execution, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != p.e.ID {
		return store.Execution{}, store.ErrNotFound
	}
	return p.e, nil
}

func (p *loggingPipeline) List(ctx context.Context, app string, limit int) ([]store.Execution, error) {
	e, _ := p.Get(ctx, p.e.ID)
	return []store.Execution{e}, nil
}

func (p *loggingPipeline) StreamLog(ctx context.Context, id string, w io.Writer, follow bool) error {
	for _, c := range p.chunks {
		if _, err := w.Write([]byte(c)); err != nil {
			return err
		}
	}
	return nil
}

func (p *loggingPipeline) setStage(i int, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.e.Stages = append([]store.Stage(nil), p.e.Stages...)
	p.e.Stages[i].Status = status
}

type sseEvent struct{ name, id, data string }

// readEvents sends the server-sent events of body on the channel it
// returns, until body ends or ctx is done.
func readEvents(ctx context.Context, body io.Reader) <-chan sseEvent {
	events := make(chan sseEvent)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			case line == "" && ev.name != "":
				ev.data = strings.Join(data, "\n")
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
				ev, data = sseEvent{}, nil
			}
		}
	}()
	return events
}

// A reconnecting browser gets the build log from where it was (its
// Last-Event-ID), never half a character, and the stages as they change.
func TestExecutionLiveStreamsTheLogFromWhereTheBrowserWasAndTheStages(t *testing.T) {
	f := newFixture(t)
	pipe := &loggingPipeline{
		e: store.Execution{ID: "hello-e1", App: "hello", Status: store.ExecutionInProgress, Stages: []store.Stage{
			{Name: "Source", Status: store.StageSucceeded},
			{Name: "Build", Status: store.StageInProgress},
		}},
		// "wörld" with its ö split between two chunks.
		chunks: []string{"hello ", "w\xc3", "\xb6rld\n"},
	}
	h := New(Options{Store: f.store, Deployer: f.deployer, Pipeline: pipe})
	t.Cleanup(h.CloseStreams)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "rita", store.RoleRead))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // ends the stream of a failing test
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/pipelines/hello-e1/live", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "3") // it has "hel"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s, want 200", resp.Status)
	}
	events := readEvents(ctx, resp.Body)
	next := func(name string) sseEvent {
		t.Helper()
		for ev := range events {
			if ev.name == name {
				return ev
			}
		}
		t.Fatalf("the stream ended before a %s event", name)
		return sseEvent{}
	}

	if ev := next("stages"); !strings.Contains(ev.data, "Build") {
		t.Fatalf("the first stages event lacks the Build stage:\n%s", ev.data)
	}
	want := []sseEvent{
		{"log", "6", "<span>lo </span>"},
		{"log", "7", "<span>w</span>"}, // the ö's first byte is held back
		{"log", "13", "<span>örld\n</span>"},
	}
	for _, w := range want {
		if got := next("log"); got != w {
			t.Fatalf("log event %+v, want %+v", got, w)
		}
	}

	// The log is complete; the stream stays for the stages.
	pipe.setStage(1, store.StageFailed)
	for {
		if ev := next("stages"); strings.Contains(ev.data, store.StageFailed) {
			break
		}
	}
}

func TestExecutionLiveOfAnUnknownExecutionIsNotFound(t *testing.T) {
	f := newFixture(t)
	h := New(Options{Store: f.store, Deployer: f.deployer, Pipeline: &loggingPipeline{e: store.Execution{ID: "hello-e1"}}})
	t.Cleanup(h.CloseStreams)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	c := f.browser(t)
	f.signIn(t, c, f.token(t, "rita", store.RoleRead))
	if resp, _ := get(t, c, f.srv.URL, "/pipelines/hello-e9/live"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("%s, want 404", resp.Status)
	}
}
