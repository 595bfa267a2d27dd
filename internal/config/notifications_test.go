package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAppNotifications(t *testing.T) {
	base := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"
	app, err := ParseApp("cutover.yaml", []byte(base+`notifications:
  - url: https://hooks.example.com/T1/B2
    events: [deployment.failed, deployment.rolled_back]
    secret_env: CUTOVER_HOOK_SECRET
  - url: http://127.0.0.1:9999/
    events: pipeline.*
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Notification{
		{URL: "https://hooks.example.com/T1/B2", Events: []string{"deployment.failed", "deployment.rolled_back"}, SecretEnv: "CUTOVER_HOOK_SECRET"},
		{URL: "http://127.0.0.1:9999/", Events: []string{"pipeline.*"}},
	}
	if !reflect.DeepEqual(app.Notifications, want) {
		t.Errorf("notifications = %+v\nwant %+v", app.Notifications, want)
	}
}

func TestParseAppNotificationErrors(t *testing.T) {
	base := "name: a\nservice: {command: x, port: 80}\nlisteners: {production: ':1'}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"not a list", "notifications: {url: http://x/}", "notifications: must be a list"},
		{"no url", "notifications: [{events: [deployment.failed]}]", "notifications[0].url: missing"},
		{"ftp url", "notifications: [{url: 'ftp://x/'}]", "is not an http or https URL"},
		{"relative url", "notifications: [{url: /hook}]", "is not an http or https URL"},
		{"password in url", "notifications: [{url: 'https://u:p@x/'}]", "has a user or password"},
		{"unknown event", "notifications: [{url: 'https://x/', events: [deployment.exploded]}]",
			`notifications[0].events[0]: "deployment.exploded" is not a notification event; valid: deployment.started`},
		{"secret in clear", "notifications: [{url: 'https://x/', secret: hunter2}]", "a secret is not written in cutover.yaml"},
		{"bad env name", "notifications: [{url: 'https://x/', secret_env: 1ABC}]", "not a valid environment variable name"},
		{"unknown field", "notifications: [{url: 'https://x/', retries: 3}]", "notifications[0].retries: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseApp("cutover.yaml", []byte(base+tt.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}
