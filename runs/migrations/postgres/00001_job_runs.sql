-- The state of actions in progress, so that any replica answers a status poll
-- about an action another replica follows. IF NOT EXISTS: databases made
-- before each package kept its own migrations already have this table.
-- +goose Up
CREATE TABLE IF NOT EXISTS job_runs (
	job_id TEXT PRIMARY KEY,
	state BYTEA NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS job_runs_updated_idx ON job_runs(updated_at);
