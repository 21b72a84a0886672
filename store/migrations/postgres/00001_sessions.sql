-- Sessions (scs) shared by replicas, read and written by SessionStore; the
-- table scs's pgxstore used before.
-- +goose Up
CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions(expiry);
