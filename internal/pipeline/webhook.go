package pipeline

import (
	"context"
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
	"time"

	"github.com/cutover/cutover/internal/store"
)

// maxWebhookBody bounds a webhook's body; GitHub caps payloads at 25 MB
// but push events are far smaller.
const maxWebhookBody = 5 << 20

// deliveryWindow is how long a delivery is remembered: the same delivery
// sent again within it starts nothing.
const deliveryWindow = 24 * time.Hour

// forge is a webhook sender: how it signs and names its events.
type forge struct {
	name string
	// event returns the event's type, or "" when the request is not from
	// this forge.
	event func(h http.Header) string
	// verify checks the request's signature against secret.
	verify func(h http.Header, body []byte, secret string) bool
	// parse turns an event into a Trigger, or an ignoredEvent.
	parse func(event string, body []byte) (Trigger, error)
	// signature is the header that holds the request's signature or token.
	signature string
	// deliveryIDs are the headers that may name the delivery, most
	// specific first; a forge sends the same id when it sends a delivery
	// again.
	deliveryIDs []string
}

var forges = []forge{
	{
		name:  "gitea",
		event: func(h http.Header) string { return h.Get("X-Gitea-Event") },
		verify: func(h http.Header, body []byte, secret string) bool {
			return validHMAC(h.Get("X-Gitea-Signature"), body, secret)
		},
		parse:       parseGitea,
		signature:   "X-Gitea-Signature",
		deliveryIDs: []string{"X-Gitea-Delivery"},
	},
	{
		name:  "github",
		event: func(h http.Header) string { return h.Get("X-GitHub-Event") },
		verify: func(h http.Header, body []byte, secret string) bool {
			sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
			return ok && validHMAC(sig, body, secret)
		},
		parse:       parseGitHub,
		signature:   "X-Hub-Signature-256",
		deliveryIDs: []string{"X-GitHub-Delivery"},
	},
	{
		name:  "gitlab",
		event: func(h http.Header) string { return h.Get("X-Gitlab-Event") },
		verify: func(h http.Header, _ []byte, secret string) bool {
			token := h.Get("X-Gitlab-Token")
			return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
		},
		parse:       parseGitLab,
		signature:   "X-Gitlab-Token",
		deliveryIDs: []string{"Idempotency-Key", "X-Gitlab-Event-UUID"},
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

// WebhookResponse is the body of a webhook's answer.
type WebhookResponse struct {
	Message   string `json:"message"`
	Execution string `json:"execution,omitempty"`
}

// serveWebhook handles POST /hooks/{app}: a forge's push (of a branch or
// a tag) or pull request event becomes a Trigger, which starts an
// execution of the commit it names, fetched from the app's source
// repository, when the pipeline's trigger filters let it; otherwise it
// is recorded as a trigger.skipped event with the reason. A request whose
// signature does not check out is refused with 401 before anything else
// happens.
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

	t, err := f.parse(f.event(r.Header), body)
	var ign ignoredEvent
	switch {
	case errors.As(err, &ign):
		writeWebhook(w, http.StatusAccepted, ign.msg, "")
		return
	case err != nil:
		writeWebhook(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	t.Source = "webhook:" + f.name
	p.handleDelivery(w, r, f, body, t)
}

// handleDelivery starts an execution for a delivery's trigger, or
// records why not, unless the same delivery was handled within
// deliveryWindow. A forge sending it again (a retry after a timeout, a
// redelivery) or anyone replaying it is answered 200 with the execution
// it started the first time, and nothing starts.
func (p *Pipeline) handleDelivery(w http.ResponseWriter, r *http.Request, f *forge, body []byte, t Trigger) {
	app := r.PathValue("app")
	ctx := store.WithActor(r.Context(), t.Source)
	ok, reason, err := p.admit(ctx, app, t)
	if err != nil {
		writeWebhook(w, http.StatusConflict, err.Error(), "")
		return
	}
	keys := f.deliveryKeys(r.Header, body)
	prev, fresh, err := p.store.ClaimDelivery(ctx, app, keys, deliveryWindow)
	if err != nil {
		writeWebhook(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	if !fresh {
		msg := fmt.Sprintf("delivery already received at %s: no new execution", prev.ReceivedAt.Format(time.RFC3339))
		writeWebhook(w, http.StatusOK, msg, prev.Execution)
		return
	}
	if out, handled := p.handlePreview(ctx, app, t, ""); handled {
		if out.code >= 500 {
			p.store.ReleaseDelivery(context.WithoutCancel(ctx), app, keys)
		} else if out.execution != "" {
			p.store.SetDeliveryExecution(ctx, app, keys, out.execution)
		}
		writeWebhook(w, out.code, out.msg, out.execution)
		return
	}
	if !ok {
		p.skip(ctx, app, t, reason)
		writeWebhook(w, http.StatusAccepted, reason, "")
		return
	}
	opts := t.startOptions()
	opts.Trigger = TriggerWebhook
	e, err := p.Start(ctx, app, opts)
	if err != nil {
		// Nothing started: the same delivery sent again may start it.
		if err := p.store.ReleaseDelivery(context.WithoutCancel(ctx), app, keys); err != nil {
			p.log.Error("forgetting a webhook delivery that started nothing", "app", app, "error", err)
		}
		writeWebhook(w, startStatus(err), err.Error(), "")
		return
	}
	if err := p.store.SetDeliveryExecution(ctx, app, keys, e.ID); err != nil {
		p.log.Warn("recording the execution a webhook delivery started", "execution", e.ID, "error", err)
	}
	writeWebhook(w, http.StatusCreated, "execution started: "+t.describe(), e.ID)
}

// startStatus is the webhook answer to Start's error.
func startStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotRunning):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBadCommit):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// deliveryKeys returns the keys a delivery is remembered under: always a
// hash of its signature and body, and the forge's delivery id when it
// sends one. Delivery ids are not signed, so a replay with another id
// is still known by its hash.
func (f *forge) deliveryKeys(h http.Header, body []byte) []string {
	sum := sha256.New()
	sum.Write([]byte(h.Get(f.signature)))
	sum.Write([]byte{0})
	sum.Write(body)
	keys := []string{f.name + ":sha256:" + hex.EncodeToString(sum.Sum(nil))}
	for _, name := range f.deliveryIDs {
		if id := h.Get(name); id != "" {
			keys = append(keys, f.name+":id:"+id)
			break
		}
	}
	return keys
}

func writeWebhook(w http.ResponseWriter, code int, msg, execution string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(WebhookResponse{Message: msg, Execution: execution})
}
