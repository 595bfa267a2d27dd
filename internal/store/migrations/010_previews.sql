-- Preview apps: an app made from another app's cutover.yaml for one pull
-- request or branch (package pipeline, preview.go). A row exists from the
-- moment the preview is admitted (before its app is registered by its
-- first deployment) until it is destroyed; updated_at is its last
-- activity, which idle expiry counts from.

CREATE TABLE previews (
	app          TEXT PRIMARY KEY,
	parent       TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	source_key   TEXT NOT NULL,
	pull_request INTEGER NOT NULL DEFAULT 0,
	branch       TEXT NOT NULL DEFAULT '',
	host         TEXT NOT NULL,
	url          TEXT NOT NULL DEFAULT '',
	git_commit   TEXT NOT NULL DEFAULT '',
	status       TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	UNIQUE (parent, source_key)
) STRICT;
