package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// WeightChange is one setting of a listener's traffic weights during a
// deployment.
type WeightChange struct {
	ID           int64  `json:"id"` // increasing, set by the store
	DeploymentID string `json:"deployment_id"`
	App          string `json:"app"`
	Listener     string `json:"listener"` // "production", "test"
	// Weights maps a task set ("blue", "green") or a revision to its
	// share of the listener's requests, as the proxy was told.
	Weights map[string]int `json:"weights"`
	At      time.Time      `json:"at"` // set by the store
}

const weightColumns = "w.id, w.deployment_id, d.app, w.listener, w.weights, w.at"

func scanWeightChange(row scanner) (WeightChange, error) {
	var c WeightChange
	var weights jsonValue
	var at timeValue
	if err := row.Scan(&c.ID, &c.DeploymentID, &c.App, &c.Listener, &weights, &at); err != nil {
		return WeightChange{}, err
	}
	if err := json.Unmarshal(weights.raw, &c.Weights); err != nil {
		return WeightChange{}, fmt.Errorf("decoding weights: %w", err)
	}
	c.At = at.t
	return c, nil
}

// RecordWeights records that the listener's traffic now goes by weights
// for the deployment, and appends traffic.shift. Record a shift after the
// proxy applied it, also during a rollback and after the deployment has
// ended: the history must say where traffic went.
func (s *Store) RecordWeights(ctx context.Context, deploymentID, listener string, weights map[string]int) (WeightChange, error) {
	c := WeightChange{DeploymentID: deploymentID, Listener: listener, Weights: weights}
	err := s.write(ctx, "recording traffic weights of deployment "+deploymentID, func(t *tx) error {
		if listener == "" {
			return fmt.Errorf("%w: listener is empty", ErrInvalid)
		}
		if len(weights) == 0 {
			return fmt.Errorf("%w: no weights", ErrInvalid)
		}
		for k, w := range weights {
			if w < 0 {
				return fmt.Errorf("%w: weight %d of %s is negative", ErrInvalid, w, k)
			}
		}
		d, err := t.getDeployment(ctx, deploymentID)
		if err != nil {
			return err
		}
		data, err := json.Marshal(weights)
		if err != nil {
			return err
		}
		c.App, c.At = d.App, t.now
		if err := t.QueryRowContext(ctx, "INSERT INTO traffic_weights (deployment_id, listener, weights, at) VALUES (?, ?, ?, ?) RETURNING id",
			deploymentID, listener, string(data), formatTime(c.At)).Scan(&c.ID); err != nil {
			return err
		}
		return t.emit(ctx, EventTrafficShift, d.App, d.ID, c)
	})
	if err != nil {
		return WeightChange{}, err
	}
	return c, nil
}

// WeightHistory returns the deployment's weight changes in order.
func (s *Store) WeightHistory(ctx context.Context, deploymentID string) ([]WeightChange, error) {
	cs, err := queryAll(ctx, s.r, scanWeightChange,
		"SELECT "+weightColumns+" FROM traffic_weights w JOIN deployments d ON d.id = w.deployment_id WHERE w.deployment_id = ? ORDER BY w.id",
		deploymentID)
	if err != nil {
		return nil, fmt.Errorf("listing traffic weights of deployment %s: %w", deploymentID, err)
	}
	return cs, nil
}

// CurrentWeights returns the newest weight change of each of the app's
// listeners, by listener name: how a restarted cutover routes the app's
// traffic until its controller takes over.
func (s *Store) CurrentWeights(ctx context.Context, app string) ([]WeightChange, error) {
	cs, err := queryAll(ctx, s.r, scanWeightChange, `SELECT `+weightColumns+`
		FROM traffic_weights w JOIN deployments d ON d.id = w.deployment_id
		WHERE w.id IN (
			SELECT max(w2.id) FROM traffic_weights w2 JOIN deployments d2 ON d2.id = w2.deployment_id
			WHERE d2.app = ? GROUP BY w2.listener)
		ORDER BY w.listener`, app)
	if err != nil {
		return nil, fmt.Errorf("reading current traffic weights of app %s: %w", app, err)
	}
	return cs, nil
}
