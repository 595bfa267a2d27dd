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
	"time"

	"github.com/cutover/cutover/internal/store"
)

// Client calls a running cutover's API, over its unix socket or over
// HTTP(S) with a token.
type Client struct {
	server string // as given, for errors
	base   string // "http://cutover" for a socket, else the URL without a trailing /
	token  string
	http   *http.Client
}

// NewClient returns a client of the API served on the unix socket at
// socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{server: socket, base: "http://cutover", http: &http.Client{Transport: tr}}
}

// Connect returns a client of the API at server: a unix socket path, or
// an http:// or https:// URL (such as http://127.0.0.1:9190). token, when
// not empty, is sent as a bearer token.
func Connect(server, token string) (*Client, error) {
	if !strings.Contains(server, "://") {
		c := NewClient(server)
		c.token = token
		return c, nil
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: give a unix socket path or an http(s)://host:port URL", server)
	}
	return &Client{
		server: server,
		base:   strings.TrimSuffix(u.String(), "/"),
		token:  token,
		http:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}, nil
}

// Error is an API error answer: its status and the problem's detail.
type Error struct {
	Status int
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// request sends a request and returns the response if its status is 2xx,
// else the problem as an *Error.
func (c *Client) request(ctx context.Context, method, path string, body any, accept string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	return c.send(ctx, method, path, rd, accept)
}

// send is request with a body read from rd, JSON at least at its start.
func (c *Client) send(ctx context.Context, method, path string, rd io.Reader, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling cutover at %s (is `cutover up` running?): %w", c.server, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var p Problem
		if json.NewDecoder(resp.Body).Decode(&p) != nil || p.Detail == "" {
			p.Detail = resp.Status
		}
		return nil, &Error{Status: resp.StatusCode, Detail: p.Detail}
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.request(ctx, method, path, body, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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

// App returns one app with its status.
func (c *Client) App(ctx context.Context, name string) (AppStatus, error) {
	var a AppStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(name), nil, &a)
	return a, err
}

// Scale sets an app's desired count.
func (c *Client) Scale(ctx context.Context, app string, count int) (store.App, error) {
	var a store.App
	err := c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(app)+"/scale", ScaleRequest{Count: count}, &a)
	return a, err
}

// Restart replaces an app's tasks; it returns once the new ones are
// healthy.
func (c *Client) Restart(ctx context.Context, app string) (store.App, error) {
	var a store.App
	err := c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(app)+"/restart", nil, &a)
	return a, err
}

// Act calls continue, stop or rollback on a deployment.
func (c *Client) Act(ctx context.Context, id, action string) (store.Deployment, error) {
	var d store.Deployment
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/"+url.PathEscape(id)+"/"+action, nil, &d)
	return d, err
}

// Tasks lists the tasks, of app when it is not empty.
func (c *Client) Tasks(ctx context.Context, app string) ([]store.Task, error) {
	var ts []store.Task
	path := "/api/v1/tasks"
	if app != "" {
		path += "?" + url.Values{"app": {app}}.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &ts)
	return ts, err
}

// TaskLogs returns a task's output: the last tail lines (all when tail is
// negative), then with follow new output until ctx ends.
func (c *Client) TaskLogs(ctx context.Context, id string, tail int, follow bool) (io.ReadCloser, error) {
	q := url.Values{}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.request(ctx, http.MethodGet, "/api/v1/tasks/"+url.PathEscape(id)+"/logs?"+q.Encode(), nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Tokens lists the API tokens.
func (c *Client) Tokens(ctx context.Context) ([]store.Token, error) {
	var ts []store.Token
	err := c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &ts)
	return ts, err
}

// CreateToken creates a token; the answer holds its secret, shown once.
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (NewToken, error) {
	var t NewToken
	err := c.do(ctx, http.MethodPost, "/api/v1/tokens", req, &t)
	return t, err
}

// RevokeToken revokes the token called name.
func (c *Client) RevokeToken(ctx context.Context, name string) (store.Token, error) {
	var t store.Token
	err := c.do(ctx, http.MethodPost, "/api/v1/tokens/"+url.PathEscape(name)+"/revoke", nil, &t)
	return t, err
}

// Follow streams the events of one deployment, from its first, and its
// app's task events from then on, to fn until fn returns false or ctx
// ends. A broken stream is resumed after
// the last event seen (Last-Event-ID), a few times.
func (c *Client) Follow(ctx context.Context, deploymentID string, fn func(store.Event) bool) error {
	var last int64
	const retries = 5
	for attempt := 0; ; attempt++ {
		done, err := c.follow(ctx, deploymentID, &last, fn)
		if done || ctx.Err() != nil {
			return ctx.Err()
		}
		var apiErr *Error
		if errors.As(err, &apiErr) || attempt == retries {
			return fmt.Errorf("following deployment %s: %w", deploymentID, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// follow reads one event stream; done says fn asked to stop.
func (c *Client) follow(ctx context.Context, deploymentID string, last *int64, fn func(store.Event) bool) (done bool, err error) {
	q := url.Values{"deployment": {deploymentID}, "tasks": {"1"}, "after": {strconv.FormatInt(*last, 10)}}
	resp, err := c.request(ctx, http.MethodGet, "/api/v1/events?"+q.Encode(), nil, "text/event-stream")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev store.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return false, fmt.Errorf("reading an event: %w", err)
		}
		*last = ev.ID
		if !fn(ev) {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, io.ErrUnexpectedEOF
}
