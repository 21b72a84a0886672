package jobs

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/policy"
)

// TestLazyLRU: a value is computed once per key however many ask at once,
// at most max are kept, and the one dropped is the least recently used.
func TestLazyLRU(t *testing.T) {
	c := newLazyLRU[int](3)
	var computed atomic.Int64
	get := func(key string) int {
		return c.get(key, func() int { computed.Add(1); return len(key) })
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if v := get("aa"); v != 2 {
				t.Errorf("aa: %d", v)
			}
		})
	}
	wg.Wait()
	if n := computed.Load(); n != 1 {
		t.Fatalf("aa computed %d times", n)
	}
	get("b")
	get("ccc")
	get("aa") // aa is now newer than b
	get("dddd")
	if len(c.m) != 3 {
		t.Fatalf("%d entries kept, want 3", len(c.m))
	}
	if _, ok := c.m["b"]; ok {
		t.Errorf("b, the least recently used, was kept")
	}
	for _, k := range []string{"aa", "ccc", "dddd"} {
		if _, ok := c.m[k]; !ok {
			t.Errorf("%s was dropped", k)
		}
	}
	before := computed.Load()
	get("b")
	if computed.Load() != before+1 {
		t.Errorf("b was not computed again after it was dropped")
	}
}

// TestSelection: a selection's length and pages over a snapshot, against the
// jobs listed by hand, in both directions, with an order of its own, past the
// end and on a snapshot not made by NewSnapshot.
func TestSelection(t *testing.T) {
	var js []*Job
	for i := range 10 {
		js = append(js, &Job{ID: fmt.Sprint(i), Name: fmt.Sprintf("job %d", 9-i), Server: []string{"b", "a"}[i%2]})
	}
	snap := NewSnapshot(js, time.Time{}) // by name: 9, 8, ... 0
	odd := Filter{Key: "odd", Match: func(j *Job) bool { return (j.ID[0]-'0')%2 == 1 }}
	byServer := func(a, b *Job) int { return strings.Compare(a.Server, b.Server) }
	ids := func(js []*Job) string {
		s := ""
		for _, j := range js {
			s += j.ID
		}
		return s
	}
	tests := []struct {
		name  string
		snap  *Snapshot
		q     Query
		lo, n int
		want  string
		total int
	}{
		{"all by name", snap, Query{}, 0, 20, "9876543210", 10},
		{"by name descending", snap, Query{Desc: true}, 0, 20, "0123456789", 10},
		{"a page", snap, Query{}, 3, 4, "6543", 10},
		{"past the end", snap, Query{}, 10, 5, "", 10},
		{"filtered", snap, Query{Filters: []Filter{odd}}, 1, 2, "75", 5},
		{"by server, ties by name", snap, Query{SortKey: "server", Compare: byServer}, 0, 10, "9753186420", 10},
		{"by server descending, ties by name descending", snap, Query{SortKey: "server", Compare: byServer, Desc: true}, 0, 10, "0246813579", 10},
		{"filtered and sorted", snap, Query{Filters: []Filter{odd}, SortKey: "server", Compare: byServer, Desc: true}, 2, 10, "579", 5},
		{"without an index", &Snapshot{Jobs: snap.Jobs}, Query{Filters: []Filter{odd}}, 0, 3, "975", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.snap.VisibleTo(policy.Unrestricted("test")).Select(tt.q)
			if s.Len() != tt.total {
				t.Errorf("Len %d, want %d", s.Len(), tt.total)
			}
			if got := ids(s.Page(tt.lo, tt.n)); got != tt.want {
				t.Errorf("Page(%d, %d) = %s, want %s", tt.lo, tt.n, got, tt.want)
			}
		})
	}
	if n := snap.VisibleTo(nil).Select(Query{}).Len(); n != 0 {
		t.Errorf("no grant sees %d jobs", n)
	}
}
