package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WebhookDelivery is a webhook delivery the pipeline acted on, recorded
// so that the same delivery sent again is not acted on twice.
type WebhookDelivery struct {
	App        string    `json:"app"`
	Key        string    `json:"key"`                 // the delivery id or a hash of the delivery
	Execution  string    `json:"execution,omitempty"` // the execution it started, once known
	ReceivedAt time.Time `json:"received_at"`
}

// ClaimDelivery records a webhook delivery of app under each of keys (its
// delivery id, a hash of its content) unless one of them was recorded
// less than window ago: then it returns that earlier record and false,
// and records nothing. Records older than window are deleted first.
//
// Deliveries are bookkeeping, not changes anyone follows: ClaimDelivery,
// SetDeliveryExecution and ReleaseDelivery append no event.
func (s *Store) ClaimDelivery(ctx context.Context, app string, keys []string, window time.Duration) (WebhookDelivery, bool, error) {
	var prev WebhookDelivery
	claimed := false
	err := s.write(ctx, "recording a webhook delivery of "+app, func(t *tx) error {
		if err := validDeliveryKeys(keys); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE received_at < ?", formatTime(t.now.Add(-window))); err != nil {
			return err
		}
		for _, key := range keys {
			d, err := scanDelivery(t.QueryRowContext(ctx,
				"SELECT app, key, execution_id, received_at FROM webhook_deliveries WHERE app = ? AND key = ?", app, key))
			if err == nil {
				prev = d
				return nil
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		for _, key := range keys {
			if _, err := t.ExecContext(ctx,
				"INSERT INTO webhook_deliveries (app, key, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
				app, key, formatTime(t.now)); err != nil {
				return err
			}
		}
		claimed = true
		return nil
	})
	if err != nil {
		return WebhookDelivery{}, false, err
	}
	return prev, claimed, nil
}

// SetDeliveryExecution records the execution that the delivery claimed
// under keys started.
func (s *Store) SetDeliveryExecution(ctx context.Context, app string, keys []string, execution string) error {
	return s.write(ctx, "recording the execution of a webhook delivery of "+app, func(t *tx) error {
		if err := validDeliveryKeys(keys); err != nil {
			return err
		}
		for _, key := range keys {
			if _, err := t.ExecContext(ctx,
				"UPDATE webhook_deliveries SET execution_id = ? WHERE app = ? AND key = ?", execution, app, key); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReleaseDelivery forgets the delivery claimed under keys, so that the
// same delivery sent again is acted on: for a delivery that could not
// start an execution.
func (s *Store) ReleaseDelivery(ctx context.Context, app string, keys []string) error {
	return s.write(ctx, "forgetting a webhook delivery of "+app, func(t *tx) error {
		for _, key := range keys {
			if _, err := t.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE app = ? AND key = ?", app, key); err != nil {
				return err
			}
		}
		return nil
	})
}

func validDeliveryKeys(keys []string) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: a webhook delivery needs a key", ErrInvalid)
	}
	for _, key := range keys {
		if key == "" {
			return fmt.Errorf("%w: a webhook delivery key is empty", ErrInvalid)
		}
	}
	return nil
}

func scanDelivery(row scanner) (WebhookDelivery, error) {
	var d WebhookDelivery
	var received timeValue
	if err := row.Scan(&d.App, &d.Key, &d.Execution, &received); err != nil {
		return WebhookDelivery{}, err
	}
	d.ReceivedAt = received.t
	return d, nil
}
