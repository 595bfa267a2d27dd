package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		n          int
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{1, 0, 10 * time.Second, true},
		{2, 0, 30 * time.Second, true},
		{3, 0, 90 * time.Second, true},
		{4, 0, 270 * time.Second, true},
		{5, 0, 0, false},
		{1, 2 * time.Minute, 2 * time.Minute, true},  // Retry-After longer: honored
		{2, 5 * time.Second, 30 * time.Second, true}, // shorter: the backoff
		{1, 48 * time.Hour, time.Hour, true},         // capped
		{5, time.Minute, 0, false},
	}
	for _, tt := range tests {
		got, ok := Backoff(tt.n, tt.retryAfter)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Backoff(%d, %s) = %s, %v; want %s, %v", tt.n, tt.retryAfter, got, ok, tt.want, tt.ok)
		}
	}
}

// fakeDeliveries keeps deliveries in memory, as the store would.
type fakeDeliveries struct {
	mu sync.Mutex
	ds map[string]*store.NotificationDelivery
}

func (f *fakeDeliveries) PendingNotifications(context.Context) ([]store.NotificationDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.NotificationDelivery
	for _, d := range f.ds {
		if d.Status == store.DeliveryPending {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (f *fakeDeliveries) RecordNotificationAttempt(_ context.Context, id string, a store.NotificationAttempt, status string, next time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.ds[id]
	a.N = d.Attempts + 1
	d.Attempts, d.Status, d.NextAttemptAt, d.LastError = a.N, status, next, a.Error
	d.AttemptLog = append(d.AttemptLog, a)
	return nil
}

// answers is a receiver that answers each request with the next status
// (the last one repeats) and records when requests came.
type answers struct {
	mu         sync.Mutex
	statuses   []int
	retryAfter string
	at         []time.Duration
	start      time.Time
	sigs       []bool
}

func (r *answers) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Since(r.start))
	r.sigs = append(r.sigs, Verify([]byte("k"), body, req.Header.Get(SignatureHeader)))
	status := r.statuses[min(len(r.at)-1, len(r.statuses)-1)]
	h := http.Header{}
	if r.retryAfter != "" {
		h.Set("Retry-After", r.retryAfter)
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

func TestDeliverySchedule(t *testing.T) {
	s := time.Second
	tests := []struct {
		name       string
		statuses   []int
		retryAfter string
		want       []time.Duration // when each attempt is made
		status     string
	}{
		{"taken at once", []int{204}, "", []time.Duration{0}, store.DeliverySucceeded},
		{"500 then 200", []int{500, 200}, "", []time.Duration{0, 10 * s}, store.DeliverySucceeded},
		{"always 503", []int{503}, "", []time.Duration{0, 10 * s, 40 * s, 130 * s, 400 * s}, store.DeliveryFailed},
		{"429 with Retry-After", []int{429, 200}, "120", []time.Duration{0, 120 * s}, store.DeliverySucceeded},
		{"404 is final", []int{404}, "", []time.Duration{0}, store.DeliveryFailed},
		{"301 is final", []int{301}, "", []time.Duration{0}, store.DeliveryFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				body, _ := json.Marshal(Payload{Event: "deployment.succeeded", App: "hello", Deployment: "hello-d1"})
				fake := &fakeDeliveries{ds: map[string]*store.NotificationDelivery{
					"d1": {ID: "d1", App: "hello", URL: "http://receiver.test/hook", Event: "deployment.succeeded",
						Body: body, Secret: "k", Status: store.DeliveryPending, NextAttemptAt: time.Now()},
				}}
				rt := &answers{statuses: tt.statuses, retryAfter: tt.retryAfter, start: time.Now()}
				snd := newSender(fake, &http.Client{Transport: rt}, slog.New(slog.DiscardHandler))
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() { snd.run(ctx); close(done) }()
				time.Sleep(time.Hour) // far past the last retry
				synctest.Wait()
				cancel()
				<-done

				if len(rt.at) != len(tt.want) {
					t.Fatalf("attempts at %v, want %v", rt.at, tt.want)
				}
				for i := range tt.want {
					if rt.at[i] != tt.want[i] {
						t.Errorf("attempt %d at %s, want %s", i+1, rt.at[i], tt.want[i])
					}
					if !rt.sigs[i] {
						t.Errorf("attempt %d: the signature does not verify", i+1)
					}
				}
				d := fake.ds["d1"]
				if d.Status != tt.status || d.Attempts != len(tt.want) {
					t.Errorf("delivery %s after %d attempts, want %s after %d", d.Status, d.Attempts, tt.status, len(tt.want))
				}
			})
		})
	}
}

// listenLow listens on a loopback port below the ephemeral range.
func listenLow(t *testing.T) net.Listener {
	t.Helper()
	for port := 20000 + rand.IntN(9000); ; port++ {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			return ln
		}
	}
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln := listenLow(t)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestClientRefusesLinkLocalAndForeignRedirects(t *testing.T) {
	var hits atomic.Int32
	other := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	var self string
	self = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, other+"/x", http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, self+"/ok", http.StatusTemporaryRedirect)
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	body, _ := json.Marshal(Payload{Event: "deployment.failed"})
	tests := []struct {
		name, url string
		status    int
		err       string
		retry     bool
	}{
		{"metadata endpoint", "http://169.254.169.254/latest/meta-data/", 0, "link-local addresses are refused", true},
		{"link-local IPv6", "http://[fe80::1]:80/", 0, "link-local addresses are refused", true},
		{"redirect to another host", self + "/elsewhere", 0, "redirected to another host; not followed", false},
		{"redirect on the same host", self + "/here", 204, "", false},
	}
	client := newClient()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t.Context(), client, store.NotificationDelivery{ID: "d1", URL: tt.url, Body: body})
			if r.attempt.StatusCode != tt.status || !strings.Contains(r.attempt.Error, tt.err) || (tt.err == "") != (r.attempt.Error == "") || r.retry != tt.retry {
				t.Errorf("attempt %+v retry=%v; want status %d, error %q, retry %v", r.attempt, r.retry, tt.status, tt.err, tt.retry)
			}
			if strings.Contains(r.attempt.Error, "/latest/meta-data") || strings.Contains(r.attempt.Error, "/elsewhere") || strings.Contains(r.attempt.Error, "/x") {
				t.Errorf("the error %q repeats the URL, which may be a credential", r.attempt.Error)
			}
		})
	}
	if hits.Load() != 0 {
		t.Errorf("the other host was called %d times", hits.Load())
	}
}
