-- Webhook deliveries the pipeline has acted on, so that the same signed
-- delivery sent again does not start another execution. key is the
-- forge's delivery id or a hash of the delivery's signature and body;
-- a delivery is kept under both. Rows older than the replay window are
-- deleted as new deliveries arrive.

CREATE TABLE webhook_deliveries (
	app          TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	key          TEXT NOT NULL CHECK (key <> ''),
	execution_id TEXT NOT NULL DEFAULT '',
	received_at  TEXT NOT NULL,
	PRIMARY KEY (app, key)
) STRICT;

CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
