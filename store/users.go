package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Users remembers each user's groups from the last sign-in that carried a groups
// claim: a later token without the claim must not strip (or grant) roles.
type Users struct{ DB *sql.DB }

// LastGroups returns the groups saved for the user key (issuer|subject).
func (u Users) LastGroups(ctx context.Context, key string) ([]string, bool, error) {
	var raw string
	err := u.DB.QueryRowContext(ctx, `SELECT groups_json FROM user_groups WHERE user_key = ?`, key).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read user groups: %w", err)
	}
	var groups []string
	if err := json.Unmarshal([]byte(raw), &groups); err != nil {
		return nil, false, fmt.Errorf("read user groups: %w", err)
	}
	return groups, true, nil
}

// SaveGroups stores the groups of a sign-in that carried the claim.
func (u Users) SaveGroups(ctx context.Context, key string, groups []string) error {
	if groups == nil {
		groups = []string{}
	}
	b, _ := json.Marshal(groups)
	_, err := u.DB.ExecContext(ctx, `INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(user_key) DO UPDATE SET groups_json = excluded.groups_json, updated_at = excluded.updated_at`,
		key, string(b), time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("save user groups: %w", err)
	}
	return nil
}

// PostgresUsers is Users in PostgreSQL, for replicas that share a database.
type PostgresUsers struct{ Pool *pgxpool.Pool }

// LastGroups returns the groups saved for the user key (issuer|subject).
func (u PostgresUsers) LastGroups(ctx context.Context, key string) ([]string, bool, error) {
	var groups []string
	err := u.Pool.QueryRow(ctx, `SELECT groups_json FROM user_groups WHERE user_key = $1`, key).Scan(&groups)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read user groups: %w", err)
	}
	return groups, true, nil
}

// SaveGroups stores the groups of a sign-in that carried the claim.
func (u PostgresUsers) SaveGroups(ctx context.Context, key string, groups []string) error {
	if groups == nil {
		groups = []string{}
	}
	_, err := u.Pool.Exec(ctx, `INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (user_key) DO UPDATE SET groups_json = excluded.groups_json, updated_at = excluded.updated_at`, key, groups)
	if err != nil {
		return fmt.Errorf("save user groups: %w", err)
	}
	return nil
}
