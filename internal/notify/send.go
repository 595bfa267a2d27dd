package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Retry schedule: MaxAttempts tries, the n-th retry Backoff(n) after the
// try before: 10s, 30s, 1m30s, 4m30s, about 6.7 minutes in all.
const (
	MaxAttempts    = 5
	firstBackoff   = 10 * time.Second
	backoffFactor  = 3
	maxRetryAfter  = time.Hour
	attemptTimeout = 10 * time.Second
	// maxInFlight bounds the attempts made at the same time.
	maxInFlight = 8
)

// Backoff returns how long to wait after failed attempt n (1-based)
// before the next one, at least retryAfter (the receiver's Retry-After,
// capped at an hour); ok is false when attempt n was the last.
func Backoff(n int, retryAfter time.Duration) (wait time.Duration, ok bool) {
	if n >= MaxAttempts {
		return 0, false
	}
	wait = firstBackoff
	for i := 1; i < n; i++ {
		wait *= backoffFactor
	}
	return max(wait, min(retryAfter, maxRetryAfter)), true
}

// deliveries is the part of the store the sender uses.
type deliveries interface {
	PendingNotifications(ctx context.Context) ([]store.NotificationDelivery, error)
	RecordNotificationAttempt(ctx context.Context, id string, a store.NotificationAttempt, status string, next time.Time) error
}

// result is what one attempt came to.
type result struct {
	attempt    store.NotificationAttempt
	retry      bool          // worth another attempt
	retryAfter time.Duration // the receiver's Retry-After
}

// send makes one attempt of d.
func send(ctx context.Context, client *http.Client, d store.NotificationDelivery) result {
	var p Payload
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return result{attempt: store.NotificationAttempt{Error: "the stored body is damaged: " + err.Error()}}
	}
	p.Delivery, p.SentAt = d.ID, time.Now().UTC()
	body, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return result{attempt: store.NotificationAttempt{Error: err.Error()}}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cutover-notify/1")
	req.Header.Set("X-Cutover-Event", d.Event)
	req.Header.Set("X-Cutover-Delivery", d.ID)
	req.Header.Set("X-Cutover-Timestamp", strconv.FormatInt(p.SentAt.Unix(), 10))
	if d.Secret != "" {
		req.Header.Set(SignatureHeader, Sign([]byte(d.Secret), body))
	}
	start := time.Now()
	resp, err := client.Do(req)
	a := store.NotificationAttempt{At: start.UTC(), Duration: time.Since(start)}
	if err != nil {
		a.Error = withoutURL(err)
		return result{attempt: a, retry: !errors.Is(err, errRedirect)}
	}
	// Read a little so the connection can be reused; never keep it.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return result{attempt: a}
	}
	a.Error = resp.Status
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return result{attempt: a, retry: retry, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
}

// withoutURL returns err's message without the URL net/http puts in
// it: a webhook's URL may be a credential, and attempts are shown to
// callers who may see its host only.
func withoutURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads Retry-After in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

var errRedirect = errors.New("redirected to another host; not followed")

// newClient returns the HTTP client deliveries are sent with: it follows
// a redirect only to the same scheme and host, and refuses link-local
// addresses (169.254.0.0/16, fe80::/10: cloud metadata endpoints).
func newClient() *http.Client {
	dialer := &net.Dialer{Timeout: attemptTimeout, Control: refuseLinkLocal}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.DialContext = dialer.DialContext
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			first := via[0].URL
			if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host || len(via) >= 3 {
				return errRedirect
			}
			return nil
		},
	}
}

func refuseLinkLocal(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", address, err)
	}
	if ip := ap.Addr().Unmap(); ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() {
		return fmt.Errorf("dialing %s: link-local addresses are refused", address)
	}
	return nil
}
