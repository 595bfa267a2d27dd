-- An app's config vars (`cutover env set`): given to its tasks (scope
-- 'run') or its builds (scope 'build'), merged over cutover.yaml's
-- environment. A secret's value is sealed (see seal.go); the others are
-- kept in clear.
--
-- app_scale keeps a `cutover scale` count for later deployments, with
-- cutover.yaml's service.count at the time (base_count): a deployment
-- whose cutover.yaml asks for another count takes that one instead.

CREATE TABLE config_vars (
	app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	scope      TEXT NOT NULL CHECK (scope IN ('run', 'build')),
	name       TEXT NOT NULL CHECK (name <> ''),
	value      TEXT NOT NULL,
	secret     INTEGER NOT NULL CHECK (secret IN (0, 1)),
	updated_at TEXT NOT NULL,
	PRIMARY KEY (app, scope, name)
) STRICT;

CREATE TABLE app_scale (
	app        TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
	count      INTEGER NOT NULL CHECK (count > 0),
	base_count INTEGER NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;
