package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/cutover/cutover/internal/applog"
)

func TestAppLogs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reader, err := Connect(f.remote, f.secrets["reader"])
	if err != nil {
		t.Fatal(err)
	}
	rc, err := reader.AppLogs(ctx, "hello", AppLogOptions{Tail: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []applog.Line
	dec := json.NewDecoder(rc)
	for {
		var l applog.Line
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	// fileLogs serves "one two three" for hello-t1, without timestamps.
	if len(got) != 2 || got[0].Task != "hello-t1" || got[0].Text != "two" || got[1].Text != "three" || got[0].Stream != "stdout" {
		t.Errorf("app logs = %+v, want hello-t1's last two lines", got)
	}

	bad := []struct {
		app    string
		opts   AppLogOptions
		status int
	}{
		{"nope", AppLogOptions{Tail: -1}, http.StatusNotFound},
		{"hello", AppLogOptions{Tail: -1, Since: "yesterday"}, http.StatusBadRequest},
		{"hello", AppLogOptions{Tail: -1, Since: "-5m"}, http.StatusBadRequest},
		{"hello", AppLogOptions{Tail: -1, Revision: "latest"}, http.StatusBadRequest},
		{"hello", AppLogOptions{Tail: -1, Revision: "r99"}, http.StatusNotFound},
	}
	for _, b := range bad {
		_, err := reader.AppLogs(ctx, b.app, b.opts)
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != b.status {
			t.Errorf("AppLogs(%s, %+v) = %v, want %d", b.app, b.opts, err, b.status)
		}
	}
	resp, err := http.Get(f.remote + "/api/v1/apps/hello/logs?tail=-1")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %v %v, want 401", resp.StatusCode, err)
	}
}
