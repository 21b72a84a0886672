-- Per-job action locks shared by replicas (AGENTDESK_LOCK_STORE=postgres).
-- IF NOT EXISTS: databases made before each package kept its own migrations
-- already have this table.
-- +goose Up
CREATE TABLE IF NOT EXISTS job_locks (
	key TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
