package pipeline

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cutover/cutover/internal/store"
)

// maxWebhookBody bounds a webhook's body; GitHub caps payloads at 25 MB
// but push events are far smaller.
const maxWebhookBody = 5 << 20

// forge is a webhook sender: how it signs and names its events.
type forge struct {
	name string
	// event returns the event's type, or "" when the request is not from
	// this forge.
	event func(h http.Header) string
	// verify checks the request's signature against secret.
	verify    func(h http.Header, body []byte, secret string) bool
	pushEvent string
}

var forges = []forge{
	{
		name:  "gitea",
		event: func(h http.Header) string { return h.Get("X-Gitea-Event") },
		verify: func(h http.Header, body []byte, secret string) bool {
			return validHMAC(h.Get("X-Gitea-Signature"), body, secret)
		},
		pushEvent: "push",
	},
	{
		name:  "github",
		event: func(h http.Header) string { return h.Get("X-GitHub-Event") },
		verify: func(h http.Header, body []byte, secret string) bool {
			sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
			return ok && validHMAC(sig, body, secret)
		},
		pushEvent: "push",
	},
	{
		name:  "gitlab",
		event: func(h http.Header) string { return h.Get("X-Gitlab-Event") },
		verify: func(h http.Header, _ []byte, secret string) bool {
			token := h.Get("X-Gitlab-Token")
			return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
		},
		pushEvent: "Push Hook",
	},
}

// validHMAC reports whether sig is the hex HMAC-SHA256 of body.
func validHMAC(sig string, body []byte, secret string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// pushPayload is the part of a push event the pipeline reads; GitHub,
// GitLab and Gitea name these fields alike.
type pushPayload struct {
	Ref   string `json:"ref"`
	After string `json:"after"`
}

// WebhookResponse is the body of a webhook's answer.
type WebhookResponse struct {
	Message   string `json:"message"`
	Execution string `json:"execution,omitempty"`
}

// serveWebhook handles POST /hooks/{app}: a forge's push event for the
// app's branch starts an execution of the commit it names, fetched from
// the app's source repository. A request whose signature does not check
// out is refused with 401 before anything else happens.
func (p *Pipeline) serveWebhook(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		writeWebhook(w, http.StatusRequestEntityTooLarge, "reading the body: "+err.Error(), "")
		return
	}
	var f *forge
	for i := range forges {
		if forges[i].event(r.Header) != "" {
			f = &forges[i]
			break
		}
	}
	if f == nil {
		writeWebhook(w, http.StatusBadRequest, "not a GitHub, GitLab or Gitea event (no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header)", "")
		return
	}
	// An unknown app answers like a bad signature, so that the endpoint
	// does not tell which apps exist.
	row, err := p.store.GetPipeline(r.Context(), app)
	if err != nil || row.Secret == "" || !f.verify(r.Header, body, row.Secret) {
		writeWebhook(w, http.StatusUnauthorized, "signature missing or invalid", "")
		return
	}

	if event := f.event(r.Header); event != f.pushEvent {
		writeWebhook(w, http.StatusAccepted, fmt.Sprintf("%s event %q ignored: only push events start executions", f.name, event), "")
		return
	}
	var push pushPayload
	if err := json.Unmarshal(body, &push); err != nil {
		writeWebhook(w, http.StatusBadRequest, "decoding the push event: "+err.Error(), "")
		return
	}
	cfg, err := p.appConfig(r.Context(), app)
	if err != nil {
		writeWebhook(w, http.StatusConflict, err.Error(), "")
		return
	}
	branch, isBranch := strings.CutPrefix(push.Ref, "refs/heads/")
	switch {
	case !isBranch || branch != cfg.Source.Branch:
		writeWebhook(w, http.StatusAccepted, fmt.Sprintf("push to %s ignored: the pipeline follows branch %s", push.Ref, cfg.Source.Branch), "")
		return
	case strings.Trim(push.After, "0") == "":
		writeWebhook(w, http.StatusAccepted, "branch deletion ignored", "")
		return
	}
	ctx := store.WithActor(r.Context(), "webhook:"+f.name)
	e, err := p.Start(ctx, app, StartOptions{Branch: branch, Commit: push.After, Trigger: TriggerWebhook})
	if errors.Is(err, ErrNotRunning) {
		writeWebhook(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	if err != nil {
		writeWebhook(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	writeWebhook(w, http.StatusCreated, "execution started", e.ID)
}

func writeWebhook(w http.ResponseWriter, code int, msg, execution string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(WebhookResponse{Message: msg, Execution: execution})
}
