-- Pipelines: per-app pipeline settings and secret, executions and their
-- stages (CodePipeline's pipeline, executions and stage states).

CREATE TABLE pipelines (
	app        TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
	secret     TEXT NOT NULL DEFAULT '',
	settings   TEXT CHECK (settings IS NULL OR json_valid(settings)),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE pipeline_executions (
	id            TEXT PRIMARY KEY,
	app           TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	number        INTEGER NOT NULL CHECK (number > 0),
	status        TEXT NOT NULL CHECK (status IN ('InProgress', 'Stopping', 'Stopped', 'Succeeded', 'Superseded', 'Failed')),
	trigger       TEXT NOT NULL DEFAULT '',
	repo          TEXT NOT NULL DEFAULT '',
	branch        TEXT NOT NULL DEFAULT '',
	git_commit    TEXT NOT NULL DEFAULT '',
	message       TEXT NOT NULL DEFAULT '',
	variables     TEXT CHECK (variables IS NULL OR json_valid(variables)),
	artifact      TEXT NOT NULL DEFAULT '',
	deployment_id TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	ended_at      TEXT,
	UNIQUE (app, number)
) STRICT;

CREATE INDEX pipeline_executions_status ON pipeline_executions (status);

CREATE TABLE pipeline_stages (
	execution_id TEXT NOT NULL REFERENCES pipeline_executions (id) ON DELETE CASCADE,
	seq          INTEGER NOT NULL CHECK (seq > 0),
	name         TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('Pending', 'InProgress', 'Succeeded', 'Failed', 'Stopped', 'Skipped', 'Abandoned')),
	message      TEXT NOT NULL DEFAULT '',
	started_at   TEXT,
	ended_at     TEXT,
	PRIMARY KEY (execution_id, seq)
) STRICT;
