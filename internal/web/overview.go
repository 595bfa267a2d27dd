package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/cutover/cutover/internal/store"
)

// appRow is one app on the overview.
type appRow struct {
	Name            string
	CurrentRevision string
	Healthy         int
	Desired         int
	Split           []share // production traffic, by target group
	Last            *store.Deployment
	Active          bool
	Maintenance     store.Maintenance
}

// share is a target group's part of a listener's traffic.
type share struct {
	Group   string // "blue", "green"
	Percent int
	New     bool // the group of the app's newest deployment's revision
}

type overviewData struct {
	Apps        []appRow
	Deployments []store.Deployment // the latest, of all apps
	Previews    []store.Preview    // preview apps of pull requests and branches
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	rows, err := h.appRows(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	deps, err := h.store.ListDeployments(r.Context(), "", 10)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	previews, err := h.store.ListPreviews(r.Context(), "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "overview", "Apps", overviewData{Apps: rows, Deployments: deps, Previews: previews})
}

func (h *Handler) appRows(ctx context.Context) ([]appRow, error) {
	apps, err := h.store.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]appRow, 0, len(apps))
	for _, a := range apps {
		row := appRow{Name: a.Name, CurrentRevision: a.CurrentRevision, Desired: a.DesiredCount}
		tasks, err := h.store.ListTasks(ctx, store.TaskFilter{App: a.Name})
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			if t.State == store.TaskHealthy && t.Revision == a.CurrentRevision {
				row.Healthy++
			}
		}
		if row.Maintenance, err = h.store.GetMaintenance(ctx, a.Name); err != nil {
			return nil, err
		}
		deps, err := h.store.ListDeployments(ctx, a.Name, 1)
		if err != nil {
			return nil, err
		}
		newGroup := ""
		if len(deps) > 0 {
			row.Last = &deps[0]
			row.Active = deps[0].Active()
			newGroup = groupsOf(deps[0]).New
		}
		weights, err := h.store.CurrentWeights(ctx, a.Name)
		if err != nil {
			return nil, err
		}
		for _, wc := range weights {
			if wc.Listener == "production" {
				row.Split = shares(wc.Weights, newGroup)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// shares turns weights into percentages, in a stable order.
func shares(weights map[string]int, newGroup string) []share {
	total := 0
	for _, w := range weights {
		total += w
	}
	out := make([]share, 0, len(weights))
	for g, w := range weights {
		p := 0
		if total > 0 {
			p = w * 100 / total
		}
		out = append(out, share{Group: g, Percent: p, New: g == newGroup})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// groups are the target groups of a deployment: Old serves the revision
// it replaces, New the revision it deploys. A rolling deployment has one
// group for both.
type groups struct {
	Old, New string
}

func (g groups) rolling() bool { return g.New != "" && g.New == g.Old }

// groupsOf reads the target groups the controller recorded in the
// deployment's config (see internal/deploy's runRecord).
func groupsOf(d store.Deployment) groups {
	var rec struct {
		Blue  string `json:"blue"`
		Green string `json:"green"`
	}
	if json.Unmarshal(d.Config, &rec) != nil {
		return groups{}
	}
	return groups{Old: rec.Blue, New: rec.Green}
}
