package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

func TestUsersGroupsRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := store.NewUsers(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
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
