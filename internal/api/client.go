package api

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
	"strings"

	"github.com/cutover/cutover/internal/store"
)

// Client calls a running cutover's API over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the API served on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// Error is an API error answer.
type Error struct {
	Status int
	Detail string
}

func (e *Error) Error() string { return e.Detail }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://cutover"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling cutover at %s (is `cutover up` running?): %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var p Problem
		if json.NewDecoder(resp.Body).Decode(&p) != nil || p.Detail == "" {
			p.Detail = resp.Status
		}
		return &Error{Status: resp.StatusCode, Detail: p.Detail}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Deploy starts a deployment of the app in req.Dir.
func (c *Client) Deploy(ctx context.Context, req DeployRequest) (store.Deployment, error) {
	var d store.Deployment
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments", req, &d)
	return d, err
}

// Deployment returns a deployment with its lifecycle and traffic history.
func (c *Client) Deployment(ctx context.Context, id string) (DeploymentDetail, error) {
	var d DeploymentDetail
	err := c.do(ctx, http.MethodGet, "/api/v1/deployments/"+url.PathEscape(id), nil, &d)
	return d, err
}

// Deployments lists the newest deployments, of app when it is not empty.
func (c *Client) Deployments(ctx context.Context, app string, limit int) ([]store.Deployment, error) {
	var ds []store.Deployment
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if app != "" {
		q.Set("app", app)
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/deployments?"+q.Encode(), nil, &ds)
	return ds, err
}

// Apps lists the apps with their status.
func (c *Client) Apps(ctx context.Context) ([]AppStatus, error) {
	var apps []AppStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/apps", nil, &apps)
	return apps, err
}

// Act calls continue, stop or rollback on a deployment.
func (c *Client) Act(ctx context.Context, id, action string) (store.Deployment, error) {
	var d store.Deployment
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/"+url.PathEscape(id)+"/"+action, nil, &d)
	return d, err
}

// Follow streams the events of one deployment, from its first, to fn
// until fn returns false, ctx ends or the stream breaks.
func (c *Client) Follow(ctx context.Context, deploymentID string, fn func(store.Event) bool) error {
	q := url.Values{"deployment": {deploymentID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://cutover/api/v1/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("following deployment %s: %w", deploymentID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("following deployment %s: %s", deploymentID, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev store.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return fmt.Errorf("reading an event: %w", err)
		}
		if !fn(ev) {
			return nil
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
