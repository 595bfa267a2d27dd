-- Notifications (webhooks called on deployment and pipeline events).
-- notification_hooks are the webhooks added per app through the API;
-- those of cutover.yaml live in the app's configuration. A delivery is
-- one event to one webhook, with everything needed to send it again
-- after a restart (its body without the send time, its secret sealed);
-- each try is an attempt. notification_cursor is the last event of the
-- log the notifier has turned into deliveries.

CREATE TABLE notification_hooks (
	id         TEXT PRIMARY KEY,
	app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	number     INTEGER NOT NULL CHECK (number > 0),
	url        TEXT NOT NULL CHECK (url <> ''),
	events     TEXT NOT NULL CHECK (json_valid(events)),
	secret     TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	UNIQUE (app, number),
	UNIQUE (app, url)
) STRICT;

CREATE TABLE notification_deliveries (
	id              TEXT PRIMARY KEY,
	app             TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	hook            TEXT NOT NULL,
	url             TEXT NOT NULL,
	event_id        INTEGER NOT NULL,
	event           TEXT NOT NULL,
	subject         TEXT NOT NULL DEFAULT '',
	body            TEXT NOT NULL CHECK (json_valid(body)),
	secret          TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL,
	UNIQUE (event_id, hook)
) STRICT;

CREATE INDEX notification_deliveries_pending ON notification_deliveries (status, next_attempt_at);
CREATE INDEX notification_deliveries_app ON notification_deliveries (app, created_at);

CREATE TABLE notification_attempts (
	delivery_id TEXT NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
	n           INTEGER NOT NULL CHECK (n > 0),
	at          TEXT NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	duration_ms INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (delivery_id, n)
) STRICT;

CREATE TABLE notification_cursor (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	last_event_id INTEGER NOT NULL
) STRICT;
