package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/applog"
	"github.com/cutover/cutover/internal/store"
)

func TestAppPage(t *testing.T) {
	f := newFixture(t)
	c := f.browser(t)
	if resp, _ := get(t, c, f.srv.URL, "/apps/hello"); resp.StatusCode == http.StatusOK {
		t.Errorf("an app's page without a session: %s, want the sign-in", resp.Status)
	}
	f.signIn(t, c, f.token(t, "rita", store.RoleRead))
	resp, body := get(t, c, f.srv.URL, "/apps/hello")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<h1>hello</h1>") || !strings.Contains(body, "serves no task logs") {
		t.Errorf("app page: %s\n%s", resp.Status, body)
	}
	if resp, _ := get(t, c, f.srv.URL, "/apps/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("page of an unknown app: %s, want 404", resp.Status)
	}
	if resp, _ := get(t, c, f.srv.URL, "/apps/hello/logs/live"); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("live logs without a runtime: %s, want 501", resp.Status)
	}
	if _, body := get(t, c, f.srv.URL, "/"); !strings.Contains(body, `href="/apps/hello"`) {
		t.Errorf("the overview does not link the app's page:\n%s", body)
	}
}

func TestLogHTML(t *testing.T) {
	got := logHTML([]applog.Line{
		{Time: time.Now(), Task: "hello-r1-1", Stream: "stdout", Text: "GET / 200"},
		{Task: "hello-r1-2", Stream: "stderr", Text: "<script>alert(1)</script>"},
	})
	want := `<span class="line line-out" data-task="hello-r1-1"><span class="task">hello-r1-1</span> <span class="stream">out</span> | GET / 200</span>
<span class="line line-err" data-task="hello-r1-2"><span class="task">hello-r1-2</span> <span class="stream">err</span> | &lt;script&gt;alert(1)&lt;/script&gt;</span>
`
	if got != want {
		t.Errorf("logHTML =\n%s\nwant\n%s", got, want)
	}
}
