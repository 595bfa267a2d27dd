-- The initial schema. Times are UTC text in a fixed-width RFC 3339 form
-- ("2006-01-02T15:04:05.000000000Z"), so they sort as text. JSON columns
-- hold JSON text or NULL.

CREATE TABLE apps (
	name             TEXT PRIMARY KEY,
	spec             TEXT CHECK (spec IS NULL OR json_valid(spec)),
	desired_count    INTEGER NOT NULL DEFAULT 0 CHECK (desired_count >= 0),
	current_revision TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL
) STRICT;

CREATE TABLE revisions (
	id         TEXT PRIMARY KEY,
	app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	number     INTEGER NOT NULL CHECK (number > 0),
	git_commit TEXT NOT NULL DEFAULT '',
	artifact   TEXT NOT NULL DEFAULT '',
	config     TEXT CHECK (config IS NULL OR json_valid(config)),
	created_at TEXT NOT NULL,
	UNIQUE (app, number)
) STRICT;

CREATE TABLE tasks (
	id            TEXT PRIMARY KEY,
	app           TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	revision      TEXT NOT NULL REFERENCES revisions (id) ON DELETE CASCADE,
	task_set      TEXT NOT NULL DEFAULT '',
	driver        TEXT NOT NULL DEFAULT '',
	address       TEXT NOT NULL DEFAULT '',
	state         TEXT NOT NULL CHECK (state IN ('pending', 'running', 'healthy', 'unhealthy', 'draining', 'stopped')),
	desired_state TEXT NOT NULL DEFAULT '',
	handle        TEXT NOT NULL DEFAULT '',
	started_at    TEXT,
	stopped_at    TEXT,
	exit          TEXT CHECK (exit IS NULL OR json_valid(exit)),
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
) STRICT;

CREATE INDEX tasks_app_state ON tasks (app, state);
CREATE INDEX tasks_revision ON tasks (revision);

CREATE TABLE deployments (
	id            TEXT PRIMARY KEY,
	app           TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	number        INTEGER NOT NULL CHECK (number > 0),
	from_revision TEXT REFERENCES revisions (id) ON DELETE CASCADE,
	to_revision   TEXT NOT NULL REFERENCES revisions (id) ON DELETE CASCADE,
	strategy      TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL CHECK (status IN ('Created', 'InProgress', 'Succeeded', 'Failed', 'Stopped', 'RolledBack')),
	step          TEXT NOT NULL DEFAULT '',
	config        TEXT CHECK (config IS NULL OR json_valid(config)),
	error         TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	ended_at      TEXT,
	UNIQUE (app, number)
) STRICT;

-- At most one active deployment per app. CreateDeployment checks this in
-- its transaction; the index makes it hold for any writer.
CREATE UNIQUE INDEX deployments_one_active ON deployments (app)
	WHERE status IN ('Created', 'InProgress');
CREATE INDEX deployments_to_revision ON deployments (to_revision);
CREATE INDEX deployments_from_revision ON deployments (from_revision);

CREATE TABLE lifecycle_events (
	deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
	seq           INTEGER NOT NULL CHECK (seq > 0),
	name          TEXT NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('Pending', 'InProgress', 'Succeeded', 'Failed', 'Skipped')),
	message       TEXT NOT NULL DEFAULT '',
	started_at    TEXT,
	ended_at      TEXT,
	PRIMARY KEY (deployment_id, seq)
) STRICT;

CREATE TABLE traffic_weights (
	id            INTEGER PRIMARY KEY,
	deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
	listener      TEXT NOT NULL,
	weights       TEXT NOT NULL CHECK (json_valid(weights)),
	at            TEXT NOT NULL
) STRICT;

CREATE INDEX traffic_weights_deployment ON traffic_weights (deployment_id, id);

-- The append-only event log. AUTOINCREMENT: an id is never reused, also
-- after the newest rows are deleted, so it can serve as an SSE
-- Last-Event-ID. No foreign keys: the log outlives what it talks about.
CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         TEXT NOT NULL,
	type       TEXT NOT NULL,
	app        TEXT NOT NULL DEFAULT '',
	deployment TEXT NOT NULL DEFAULT '',
	actor      TEXT NOT NULL DEFAULT '',
	data       TEXT CHECK (data IS NULL OR json_valid(data))
) STRICT;

CREATE INDEX events_app ON events (app, id);
CREATE INDEX events_deployment ON events (deployment, id);
