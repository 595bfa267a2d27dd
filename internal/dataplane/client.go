package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cutover/cutover/internal/proxy/metrics"
)

// Client speaks the control protocol to the data plane on one socket.
// Each call is one request; see Conn for a connection that follows the
// data plane across restarts and hand-overs.
type Client struct {
	hc *http.Client
}

// NewClient returns a client for the data plane socket at sock.
func NewClient(sock string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 4,
		// Idle connections may belong to a data plane that handed over.
		IdleConnTimeout: 5 * time.Second,
	}
	return &Client{hc: &http.Client{Transport: tr}}
}

// CloseIdleConnections drops kept-alive connections, e.g. to a data
// plane that has handed over.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// errUnavailable marks answers worth retrying: no data plane answers,
// or it is handing over.
var errUnavailable = errors.New("data plane unavailable")

func (c *Client) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://dataplane"+path, rd)
	if err != nil {
		return 0, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusServiceUnavailable {
		io.Copy(io.Discard, res.Body)
		return res.StatusCode, fmt.Errorf("%w: %s", errUnavailable, res.Status)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("decoding the data plane's answer to %s %s: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}

// Status asks the data plane who it is and what it serves.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	code, err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("data plane status: %d", code)
	}
	return st, err
}

// Push sends a configuration and returns the acknowledgement. A refused
// push (invalid, or a port in use) is an error with the data plane's
// reason; a stale version is errStale.
func (c *Client) Push(ctx context.Context, p Push) (Ack, error) {
	var ack Ack
	code, err := c.do(ctx, http.MethodPut, "/v1/config", p, &ack)
	switch {
	case err != nil:
		return ack, err
	case code == http.StatusConflict:
		return ack, fmt.Errorf("%w: %s", errStale, ack.Error)
	case code != http.StatusOK:
		return ack, errors.New(ack.Error)
	}
	return ack, nil
}

var errStale = errors.New("stale configuration version")

// Events calls fn with every targets event until the stream ends or ctx
// does.
func (c *Client) Events(ctx context.Context, fn func(TargetsEvent)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dataplane/v1/events", nil)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: events: %s", errUnavailable, res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var ev TargetsEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("decoding a targets event: %w", err)
		}
		fn(ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: events: %w", errUnavailable, err)
	}
	return fmt.Errorf("%w: the events stream ended", errUnavailable)
}

// WaitDrained returns once the target has drained, or with an error.
func (c *Client) WaitDrained(ctx context.Context, group, target string) error {
	q := url.Values{"group": {group}, "target": {target}}
	code, err := c.do(ctx, http.MethodGet, "/v1/drained?"+q.Encode(), nil, nil)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("drained: %d", code)
	}
	return err
}

// Window returns a target group's (or, with target, a target's) request
// stats over the last d.
func (c *Client) Window(ctx context.Context, group, target string, d time.Duration) (metrics.WindowStats, error) {
	var ws metrics.WindowStats
	q := url.Values{"group": {group}, "seconds": {strconv.Itoa(max(int(d/time.Second), 1))}}
	if target != "" {
		q.Set("target", target)
	}
	code, err := c.do(ctx, http.MethodGet, "/v1/window?"+q.Encode(), nil, &ws)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("window: %d", code)
	}
	return ws, err
}

// Stop asks the data plane to drain its connections and exit; it
// returns once the data plane has drained.
func (c *Client) Stop(ctx context.Context) error {
	var ack Ack
	if _, err := c.do(ctx, http.MethodPost, "/v1/stop", nil, &ack); err != nil {
		return err
	}
	if ack.Error != "" {
		return errors.New(ack.Error)
	}
	return nil
}

// WriteMetrics copies the data plane's Prometheus text to w.
func (c *Client) WriteMetrics(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dataplane/metrics", nil)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	defer res.Body.Close()
	_, err = io.Copy(w, res.Body)
	return err
}
