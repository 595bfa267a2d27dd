package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// TestPreviewSettingsAndField: PUT /api/v1/pipelines/{app} takes the
// preview settings and refuses wrong ones with the field, changing
// nothing; a read token sees the previews' env masked; an app that is a
// preview has a preview field in GET /api/v1/apps.
func TestPreviewSettingsAndField(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.local.SetPipeline(ctx, "hello", PipelineSettings{Preview: &PipelinePreview{Domain: "*.hello.example.com", Idle: "24h", Limit: 3,
		Env: map[string]string{"DATABASE_URL": "postgres://preview:hunter2@db/hello"}}})
	if err != nil || got.Settings.Preview == nil || got.Settings.Preview.Idle != "24h" || got.Settings.Preview.Limit != 3 {
		t.Fatalf("PUT with preview: %+v, %v", got.Settings.Preview, err)
	}
	if s := f.p.settings["hello"]; s.Preview == nil || s.Preview.Domain != "*.hello.example.com" || s.Preview.Idle.Hours() != 24 {
		t.Errorf("the pipeline got %+v", s.Preview)
	}
	for _, b := range []struct{ body, detail string }{
		{`{"preview": {"domain": "hello.example.com"}}`, `preview.domain "hello.example.com": valid: a wildcard`},
		{`{"preview": {"domain": "*.hello.example.com", "idle": "3 days"}}`, `preview.idle "3 days" is not a duration`},
		{`{"preview": {"domain": "*.hello.example.com", "limit": -1}}`, `preview.limit -1: valid: 1-100`},
		{`{"preview": {"domain": "*.hello.example.com", "hosts": []}}`, `unknown field "hosts"`},
	} {
		before := f.state(t)
		_, err := f.local.request(ctx, http.MethodPut, "/api/v1/pipelines/hello", json.RawMessage(b.body), "")
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Detail, b.detail) {
			t.Errorf("PUT %s: %v; want 400 saying %q", b.body, err, b.detail)
		}
		if f.state(t) != before {
			t.Errorf("PUT %s changed state", b.body)
		}
	}
	body := f.previewGet(t, "/api/v1/pipelines/hello", f.secrets["reader"])
	if strings.Contains(body, "hunter2") || !strings.Contains(body, `"DATABASE_URL"`) {
		t.Errorf("a read token's view of the preview env:\n%s", body)
	}

	if _, _, err := f.st.PutPreview(ctx, store.Preview{App: "hello-pr-7", Parent: "hello", SourceKey: "pr:7", PullRequest: 7,
		Host: "pr-7.hello.example.com", URL: "http://pr-7.hello.example.com", Status: store.PreviewDeployed}, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutApp(ctx, store.App{Name: "hello-pr-7"}); err != nil {
		t.Fatal(err)
	}
	apps, err := f.local.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		switch {
		case a.Name == "hello" && a.Preview != nil:
			t.Errorf("hello is marked a preview: %+v", a.Preview)
		case a.Name == "hello-pr-7" && (a.Preview == nil || a.Preview.Parent != "hello" || a.Preview.PullRequest != 7 || a.Preview.URL != "http://pr-7.hello.example.com"):
			t.Errorf("hello-pr-7's preview field: %+v", a.Preview)
		}
	}
}

// previewGet is a GET of path with the token secret through the TCP listener.
func (f *fixture) previewGet(t *testing.T, path, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.remote+path, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	return string(b)
}
