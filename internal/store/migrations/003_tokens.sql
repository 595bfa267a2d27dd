-- API tokens. Only the SHA-256 of a token is kept: the token itself is
-- shown once, when it is created. Revoked tokens stay, for the audit
-- trail; their names are not reused.

CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE CHECK (name <> ''),
	role         TEXT NOT NULL CHECK (role IN ('read', 'deploy', 'admin')),
	hash         TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),
	created_at   TEXT NOT NULL,
	last_used_at TEXT,
	revoked_at   TEXT
) STRICT;
