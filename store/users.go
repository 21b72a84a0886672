package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

//go:embed migrations
var migrations embed.FS

// Tables is the schema of the tables package store owns: sessions and
// user_groups.
var Tables = Schema{Name: "store", FS: migrations}

// Users remembers each user's groups from the last sign-in that carried a groups
// claim: a later token without the claim must not strip (or grant) roles.
type Users struct{ db *DB }

// NewUsers migrates store's tables in db and returns the users on it.
func NewUsers(ctx context.Context, db *DB) (*Users, error) {
	if err := db.Migrate(ctx, Tables); err != nil {
		return nil, err
	}
	return &Users{db: db}, nil
}

// LastGroups returns the groups saved for the user key (issuer|subject).
func (u *Users) LastGroups(ctx context.Context, key string) ([]string, bool, error) {
	var raw []byte
	err := u.db.QueryRowContext(ctx, `SELECT groups_json FROM user_groups WHERE user_key = ?`, key).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read user groups: %w", err)
	}
	var groups []string
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, false, fmt.Errorf("read user groups: %w", err)
	}
	return groups, true, nil
}

// SaveGroups stores the groups of a sign-in that carried the claim.
func (u *Users) SaveGroups(ctx context.Context, key string, groups []string) error {
	if groups == nil {
		groups = []string{}
	}
	b, _ := json.Marshal(groups)
	// updated_at is RFC 3339 text, which SQLite keeps as it is and
	// PostgreSQL reads as a timestamptz.
	_, err := u.db.ExecContext(ctx, `INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_key) DO UPDATE SET groups_json = excluded.groups_json, updated_at = excluded.updated_at`,
		key, string(b), time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("save user groups: %w", err)
	}
	return nil
}
