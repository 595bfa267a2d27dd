package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// AppLogOptions select the lines of an app's merged output.
type AppLogOptions struct {
	Since    string // a duration (10m) or an RFC 3339 time; "": all
	Revision string // "": every revision
	Tail     int    // negative: all
	Follow   bool
}

// AppLogs returns the merged output of an app's tasks: one applog.Line
// as JSON a line, in time order.
func (c *Client) AppLogs(ctx context.Context, app string, o AppLogOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if o.Since != "" {
		q.Set("since", o.Since)
	}
	if o.Revision != "" {
		q.Set("revision", o.Revision)
	}
	if o.Tail >= 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	if o.Follow {
		q.Set("follow", "1")
	}
	resp, err := c.request(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(app)+"/logs?"+q.Encode(), nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
