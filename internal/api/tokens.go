package api

import (
	"encoding/json"
	"net/http"

	"github.com/cutover/cutover/internal/auth"
	"github.com/cutover/cutover/internal/store"
)

// TokenRequest asks for a new token.
type TokenRequest struct {
	Name string `json:"name,omitempty"` // default "token-<id>"
	Role string `json:"role"`           // "read", "deploy" or "admin"
}

// NewToken is a created token: the only time the secret is shown.
type NewToken struct {
	store.Token
	Secret string `json:"token"`
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if !decode(w, r, &req) {
		return
	}
	switch req.Role {
	case store.RoleRead, store.RoleDeploy, store.RoleAdmin:
	default:
		problem(w, http.StatusBadRequest, `"role" must be read, deploy or admin`)
		return
	}
	secret, err := auth.NewToken()
	if err != nil {
		h.fail(w, err)
		return
	}
	tk, err := h.store.CreateToken(r.Context(), store.Token{Name: req.Name, Role: req.Role, Hash: auth.Hash(secret)})
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, NewToken{Token: tk, Secret: secret})
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request) {
	tks, err := h.store.ListTokens(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	if tks == nil {
		tks = []store.Token{}
	}
	writeJSON(w, http.StatusOK, tks)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	tk, err := h.store.RevokeToken(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tk)
}

// decode reads a JSON body into v, refusing unknown fields; on a bad body
// it answers 400 and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return false
	}
	return true
}
