package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agentdesk/agentdesk/store/pgtest"
)

// userGroups is what handlers need from both implementations.
type userGroups interface {
	LastGroups(ctx context.Context, key string) ([]string, bool, error)
	SaveGroups(ctx context.Context, key string, groups []string) error
}

func TestUsersGroupsRoundTrip(t *testing.T) {
	ctx := context.Background()
	impls := map[string]func(t *testing.T) userGroups{
		"sqlite": func(t *testing.T) userGroups {
			db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "u.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return Users{DB: db}
		},
		"postgres": func(t *testing.T) userGroups {
			pool, err := OpenPostgres(ctx, pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return PostgresUsers{Pool: pool}
		},
	}
	for name, open := range impls {
		t.Run(name, func(t *testing.T) {
			u := open(t)
			if _, ok, err := u.LastGroups(ctx, "iss|alice"); ok || err != nil {
				t.Fatalf("unknown user: ok=%v err=%v", ok, err)
			}
			// A present but empty claim is remembered as empty, not as absent.
			for _, groups := range [][]string{{"a", "b"}, {}} {
				if err := u.SaveGroups(ctx, "iss|alice", groups); err != nil {
					t.Fatal(err)
				}
				got, ok, err := u.LastGroups(ctx, "iss|alice")
				if !ok || err != nil || !slices.Equal(got, groups) && len(got)+len(groups) > 0 {
					t.Fatalf("LastGroups = %v, %v, %v; want %v", got, ok, err, groups)
				}
			}
		})
	}
}
