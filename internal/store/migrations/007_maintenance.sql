-- Apps in maintenance mode (`cutover maintenance on`): their production
-- listeners answer 503 with page and a Retry-After header. A row means
-- on; turning it off deletes the row. page '' is the default page.

CREATE TABLE app_maintenance (
	app         TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
	page        TEXT NOT NULL DEFAULT '',
	retry_after INTEGER NOT NULL CHECK (retry_after BETWEEN 0 AND 86400),
	since       TEXT NOT NULL
) STRICT;
