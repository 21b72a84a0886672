-- Time-boxed schedule disables: the schedule comes back on at reenable_at.
-- Times are Unix microseconds (UTC). IF NOT EXISTS: databases made before each
-- package kept its own migrations already have this table.
-- +goose Up
CREATE TABLE IF NOT EXISTS schedule_holds (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id TEXT NOT NULL,
	job_name TEXT NOT NULL DEFAULT '',
	disabled_by_key TEXT NOT NULL DEFAULT '',
	disabled_by_name TEXT NOT NULL DEFAULT '',
	disabled_at INTEGER NOT NULL,
	reenable_at INTEGER NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending',
	message TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS schedule_holds_due_idx ON schedule_holds(reenable_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS schedule_holds_job_idx ON schedule_holds(job_id, state);
