package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cutover/cutover/internal/store"
)

// Pipeline returns an app's pipeline settings and push URL.
func (c *Client) Pipeline(ctx context.Context, app string) (PipelineInfo, error) {
	var p PipelineInfo
	err := c.do(ctx, http.MethodGet, "/api/v1/pipelines/"+url.PathEscape(app), nil, &p)
	return p, err
}

// SetPipeline replaces an app's pipeline settings.
func (c *Client) SetPipeline(ctx context.Context, app string, s PipelineSettings) (PipelineInfo, error) {
	var p PipelineInfo
	err := c.do(ctx, http.MethodPut, "/api/v1/pipelines/"+url.PathEscape(app), s, &p)
	return p, err
}

// PipelineSecret returns an app's pipeline secret (admin).
func (c *Client) PipelineSecret(ctx context.Context, app string) (PipelineSecret, error) {
	var s PipelineSecret
	err := c.do(ctx, http.MethodGet, "/api/v1/pipelines/"+url.PathEscape(app)+"/secret", nil, &s)
	return s, err
}

// StartExecution starts an execution of an app's pipeline.
func (c *Client) StartExecution(ctx context.Context, app string, req StartRequest) (store.Execution, error) {
	var e store.Execution
	err := c.do(ctx, http.MethodPost, "/api/v1/pipelines/"+url.PathEscape(app)+"/executions", req, &e)
	return e, err
}

// Executions lists the newest executions, of app when it is not empty.
func (c *Client) Executions(ctx context.Context, app string, limit int) ([]store.Execution, error) {
	var es []store.Execution
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if app != "" {
		q.Set("app", app)
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/executions?"+q.Encode(), nil, &es)
	return es, err
}

// Execution returns an execution with its stages.
func (c *Client) Execution(ctx context.Context, id string) (store.Execution, error) {
	var e store.Execution
	err := c.do(ctx, http.MethodGet, "/api/v1/executions/"+url.PathEscape(id), nil, &e)
	return e, err
}

// ActOnExecution calls stop, approve or reject on an execution.
func (c *Client) ActOnExecution(ctx context.Context, id, action, comment string) (store.Execution, error) {
	var e store.Execution
	err := c.do(ctx, http.MethodPost, "/api/v1/executions/"+url.PathEscape(id)+"/"+action, CommentRequest{Comment: comment}, &e)
	return e, err
}

// ExecutionLogs returns an execution's log; with follow it goes on
// until the execution ends or ctx does.
func (c *Client) ExecutionLogs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	path := "/api/v1/executions/" + url.PathEscape(id) + "/logs"
	if follow {
		path += "?follow=1"
	}
	resp, err := c.request(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
