package store

import (
	"context"
	"fmt"
)

// RevisionHistory is a revision with the newest deployment to it: what
// `cutover releases` lists.
type RevisionHistory struct {
	Revision
	// Deployment is the newest deployment to the revision; its ID is ""
	// when none was recorded (it never was deployed).
	Deployment Deployment `json:"deployment"`
	// Actor is who started that deployment (its deployment.created
	// event's actor), "" when not recorded.
	Actor string `json:"actor,omitempty"`
}

// ReleaseHistory returns the app's revisions, newest first, each with the
// newest deployment to it and that deployment's actor.
func (s *Store) ReleaseHistory(ctx context.Context, app string) ([]RevisionHistory, error) {
	const query = `SELECT r.id, r.app, r.number, r.git_commit, r.artifact, r.config, r.created_at,
		coalesce(d.id, ''), coalesce(d.number, 0), d.from_revision, coalesce(d.status, ''), coalesce(d.error, ''),
		d.created_at, d.ended_at,
		coalesce((SELECT e.actor FROM events e WHERE e.deployment = d.id AND e.type = ? ORDER BY e.id LIMIT 1), '')
	FROM revisions r
	LEFT JOIN deployments d ON d.id = (SELECT id FROM deployments WHERE to_revision = r.id ORDER BY number DESC LIMIT 1)
	WHERE r.app = ?
	ORDER BY r.number DESC`
	hist, err := queryAll(ctx, s.r, scanRevisionHistory, query, EventDeploymentCreated, app)
	if err != nil {
		return nil, fmt.Errorf("listing the releases of app %s: %w", app, err)
	}
	return hist, nil
}

func scanRevisionHistory(row scanner) (RevisionHistory, error) {
	var h RevisionHistory
	var config jsonValue
	var created, dCreated, dEnded timeValue
	var from stringValue
	d := &h.Deployment
	err := row.Scan(&h.ID, &h.App, &h.Number, &h.Commit, &h.Artifact, &config, &created,
		&d.ID, &d.Number, &from, &d.Status, &d.Error, &dCreated, &dEnded, &h.Actor)
	if err != nil {
		return RevisionHistory{}, err
	}
	h.Config, h.CreatedAt = config.raw, created.t
	if d.ID != "" {
		d.App, d.ToRevision, d.FromRevision = h.App, h.ID, from.s
		d.CreatedAt, d.EndedAt = dCreated.t, dEnded.t
	}
	return h, nil
}
