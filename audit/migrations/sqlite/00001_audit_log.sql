-- The audit log. Times are Unix microseconds (UTC), so they sort and compare
-- as integers; completed_at stays NULL while the attempt is pending.
-- IF NOT EXISTS: databases made before each package kept its own migrations
-- already have this table.
-- +goose Up
CREATE TABLE IF NOT EXISTS audit_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at INTEGER NOT NULL,
	kind TEXT NOT NULL,
	user_key TEXT NOT NULL DEFAULT '',
	user_name TEXT NOT NULL DEFAULT '',
	user_email TEXT NOT NULL DEFAULT '',
	user_groups TEXT NOT NULL DEFAULT '[]',
	client_ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	embedded INTEGER NOT NULL DEFAULT 0,
	action TEXT NOT NULL DEFAULT '',
	job_id TEXT NOT NULL DEFAULT '',
	job_uid TEXT NOT NULL DEFAULT '',
	job_name TEXT NOT NULL DEFAULT '',
	backup_server TEXT NOT NULL DEFAULT '',
	result TEXT NOT NULL,
	message TEXT NOT NULL DEFAULT '',
	task_id TEXT NOT NULL DEFAULT '',
	session_id TEXT NOT NULL DEFAULT '',
	final_result TEXT NOT NULL DEFAULT '',
	completed_at INTEGER
);
CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log(at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_log_job_idx ON audit_log(job_id, at DESC);
CREATE INDEX IF NOT EXISTS audit_log_user_idx ON audit_log(user_key, at DESC);
CREATE INDEX IF NOT EXISTS audit_log_pending_idx ON audit_log(result) WHERE result IN ('pending', 'unknown');
