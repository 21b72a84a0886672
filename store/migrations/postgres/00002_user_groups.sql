-- Groups of each user's last sign-in that carried a groups claim (Users),
-- shared so that a token without the claim finds them on any replica.
-- +goose Up
CREATE TABLE IF NOT EXISTS user_groups (
	user_key TEXT PRIMARY KEY,
	groups_json JSONB NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
