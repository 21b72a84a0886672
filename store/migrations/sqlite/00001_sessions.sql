-- Sessions (scs), read and written by SessionStore. expiry is a Julian day
-- number, as scs's sqlite3store wrote it before, so existing sessions stay valid.
-- +goose Up
CREATE TABLE IF NOT EXISTS sessions (
	token TEXT PRIMARY KEY,
	data BLOB NOT NULL,
	expiry REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions(expiry);
