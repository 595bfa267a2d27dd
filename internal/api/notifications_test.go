package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestNotificationsBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, app, body string
		status          int
		want            string
	}{
		{"no url", "hello", `{"events": ["deployment.failed"]}`, 400, "url: missing"},
		{"ftp url", "hello", `{"url": "ftp://example.com/x"}`, 400, "is not an http or https URL"},
		{"no host", "hello", `{"url": "http:///x"}`, 400, "has no host"},
		{"password in url", "hello", `{"url": "https://u:p@example.com/"}`, 400, "has a user or password"},
		{"unknown event", "hello", `{"url": "https://example.com/", "events": ["deployment.exploded"]}`, 400,
			`events[0]: \"deployment.exploded\" is not a notification event; valid: deployment.started`},
		{"unknown field", "hello", `{"url": "https://example.com/", "retries": 3}`, 400, "unknown field"},
		{"unknown app", "nope", `{"url": "https://example.com/"}`, 404, "not found"},
		{"same url twice", "hello", `{"url": "http://127.0.0.1:1/hook"}`, 409, "already has a webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.state(t)
			req, _ := http.NewRequest("POST", f.remote+"/api/v1/apps/"+tt.app+"/notifications", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+f.secrets["deployer"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("%d %s; want %d with %q", resp.StatusCode, body, tt.status, tt.want)
			}
			if after := f.state(t); after != before {
				t.Errorf("a refused call changed state: %+v -> %+v", before, after)
			}
		})
	}
}

func TestNotificationsURLAndSecretVisibility(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	deployer, err := Connect(f.remote, f.secrets["deployer"])
	if err != nil {
		t.Fatal(err)
	}
	hk, err := deployer.AddNotification(ctx, "hello", NotificationRequest{URL: "https://hooks.example.com/T1/B2/XYZ", Secret: "webhook-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if hk.URL != "https://hooks.example.com/…" || !hk.HasSecret {
		t.Errorf("added %+v; a deploy token sees the host only, and that there is a secret", hk)
	}
	for who, want := range map[string]string{"reader": "https://hooks.example.com/…", "admin": "https://hooks.example.com/T1/B2/XYZ"} {
		c, err := Connect(f.remote, f.secrets[who])
		if err != nil {
			t.Fatal(err)
		}
		ans, err := c.Notifications(ctx, "hello")
		if err != nil {
			t.Fatal(err)
		}
		if len(ans.Webhooks) != 2 || ans.Webhooks[1].URL != want {
			t.Errorf("%s sees %+v; want the second URL %s", who, ans.Webhooks, want)
		}
	}
	resp, err := f.local.request(ctx, "GET", "/api/v1/events", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "webhook-secret") || strings.Contains(string(body), "T1/B2/XYZ") {
		t.Errorf("the event log carries the secret or the whole URL: %s", body)
	}
	if _, err := deployer.RemoveNotification(ctx, "hello", "https://hooks.example.com/T1/B2/XYZ"); err != nil {
		t.Fatalf("removing by URL: %v", err)
	}
	if _, err := deployer.RemoveNotification(ctx, "hello", "hello-n9"); err == nil || !strings.Contains(err.Error(), "has no webhook hello-n9") {
		t.Errorf("removing a missing webhook: %v", err)
	}
}
