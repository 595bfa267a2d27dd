package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cutover/cutover/internal/store"
)

// System is cutover itself: what runs, and its upgrade.
type System interface {
	Info(ctx context.Context) (SystemInfo, error)
	// Upgrade replaces the data plane with a process of the binary now on
	// disk, hitless, and has the control plane restart into that binary
	// once the answer is sent.
	Upgrade(ctx context.Context) (UpgradeResult, error)
}

// SystemInfo describes the running control plane and data plane.
type SystemInfo struct {
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	Executable string    `json:"executable"`
	Version    string    `json:"version"` // of the binary the control plane runs
	// Instance changes at every start of the control plane, upgrades
	// included (the pid stays the same across those).
	Instance  string        `json:"instance"`
	DataPlane DataPlaneInfo `json:"data_plane"`
	Sandbox   SandboxInfo   `json:"sandbox"`
}

// SandboxInfo says how builds, command hooks and process-runtime tasks
// are isolated: mode full, namespaces or off (package sandbox), and why
// it is less than full.
type SandboxInfo struct {
	Mode   string `json:"mode"`
	Reason string `json:"reason,omitempty"`
}

// DataPlaneInfo describes the data plane process.
type DataPlaneInfo struct {
	PID           int               `json:"pid"`
	Started       time.Time         `json:"started"`
	Executable    string            `json:"executable"`
	Version       string            `json:"version"` // of the binary it runs
	ConfigVersion uint64            `json:"config_version"`
	Listeners     map[string]string `json:"listeners"`
	Error         string            `json:"error,omitempty"`
}

// UpgradeResult says what an upgrade did.
type UpgradeResult struct {
	Executable   string `json:"executable"`
	DataPlaneOld int    `json:"data_plane_old_pid"`
	DataPlaneNew int    `json:"data_plane_new_pid"`
	// Instance is the control plane's instance before its restart.
	Instance string `json:"instance"`
}

// EventUpgrade records a `cutover upgrade`; its actor is the caller.
// Data: UpgradeResult.
const EventUpgrade = "system.upgrade"

var errNoSystem = errors.New("this server does not manage cutover itself")

func (h *Handler) systemInfo(w http.ResponseWriter, r *http.Request) {
	if h.system == nil {
		problem(w, http.StatusNotImplemented, errNoSystem.Error())
		return
	}
	info, err := h.system.Info(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request) {
	if h.system == nil {
		problem(w, http.StatusNotImplemented, errNoSystem.Error())
		return
	}
	res, err := h.system.Upgrade(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	data, _ := json.Marshal(res)
	if _, err := h.store.Append(r.Context(), store.Event{Type: EventUpgrade, Data: data}); err != nil {
		h.log.Error("recording an upgrade", "error", err)
	}
	writeJSON(w, http.StatusOK, res)
}

// System returns what runs: the control plane and the data plane.
func (c *Client) System(ctx context.Context) (SystemInfo, error) {
	var info SystemInfo
	err := c.do(ctx, http.MethodGet, "/api/v1/system", nil, &info)
	return info, err
}

// Upgrade asks cutover to replace itself with the binary on disk.
func (c *Client) Upgrade(ctx context.Context) (UpgradeResult, error) {
	var res UpgradeResult
	err := c.do(ctx, http.MethodPost, "/api/v1/system/upgrade", nil, &res)
	return res, err
}
