-- Groups of each user's last sign-in that carried a groups claim (Users).
-- +goose Up
CREATE TABLE IF NOT EXISTS user_groups (
	user_key TEXT PRIMARY KEY,
	groups_json TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
