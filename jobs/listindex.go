package jobs

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"

	"github.com/agentdesk/agentdesk/policy"
)

// listIndex is what the jobs list works out once per snapshot rather than on
// every request: which jobs each grant sees (with their servers), which jobs
// pass each filter, and the jobs in each sort order. A request then only
// intersects sets and walks one presorted order as far as its page. A
// snapshot never changes once loaded (a refresh makes a new one, with a new,
// empty index), so nothing here can go stale; what an action changed since
// the snapshot is merged into each row by the handlers (RunStates, Live), as
// it was before the index.
type listIndex struct {
	jobs    []*Job
	visible lazyLRU[*Visibility] // by policy.Grant.VisibilityKey
	filters lazyLRU[bitset]      // by Filter.Key
	orders  lazyLRU[[]int32]     // by Query.SortKey: positions in jobs
}

// The bounds of a snapshot's caches. Past one, the least recently used entry
// is dropped and worked out again when asked for. A grant's or a filter's
// entry is a bit per job (1.25 KB for 10,000 jobs). Visibility is per role
// set, not per user, so a portal rarely has more grants than this; filters
// are a few per column plus whatever people search for. An order is 4 bytes
// per job, and there are as many as sortable columns.
const (
	maxVisibilities = 64
	maxFilters      = 128
	maxOrders       = 16
)

func newListIndex(jobs []*Job) *listIndex {
	return &listIndex{jobs: jobs,
		visible: newLazyLRU[*Visibility](maxVisibilities),
		filters: newLazyLRU[bitset](maxFilters),
		orders:  newLazyLRU[[]int32](maxOrders),
	}
}

// index is the snapshot's list index. A Snapshot not made by NewSnapshot
// has none and gets a fresh one, computing everything on every call.
func (s *Snapshot) index() *listIndex {
	if s.idx == nil {
		return newListIndex(s.Jobs)
	}
	return s.idx
}

// Visibility is the part of a snapshot one grant may see (Visible). It is
// shared by every request whose grant has the same policy.Grant.VisibilityKey:
// read only.
type Visibility struct {
	idx     *listIndex
	bits    bitset // Jobs[i] is visible
	count   int
	servers []string
}

// VisibleTo returns what g may see of the snapshot, worked out on the first
// call for g's visibility key and kept with the snapshot.
func (s *Snapshot) VisibleTo(g *policy.Grant) *Visibility {
	x := s.index()
	return x.visible.get(g.VisibilityKey(), func() *Visibility {
		v := &Visibility{idx: x, bits: newBitset(len(x.jobs))}
		servers := map[string]bool{}
		for i, j := range x.jobs {
			if !Visible(g, j) {
				continue
			}
			v.bits.set(i)
			v.count++
			if !servers[j.Server] {
				servers[j.Server] = true
				v.servers = append(v.servers, j.Server)
			}
		}
		sort.Strings(v.servers)
		return v
	})
}

// Len is how many jobs are visible.
func (v *Visibility) Len() int { return v.count }

// Servers lists the backup servers of the visible jobs, sorted.
func (v *Visibility) Servers() []string { return slices.Clone(v.servers) }

// Query is what the list asks of the visible jobs.
type Query struct {
	// Filters are the tests a job must pass, all of them.
	Filters []Filter
	// SortKey names the order Compare defines; it must always come with
	// the same Compare, since the order is sorted once per snapshot and
	// key. Compare nil is the snapshot's own (name) order.
	SortKey string
	Compare func(a, b *Job) int
	// Desc reverses the order: greatest first, ties by name descending.
	Desc bool
}

// Filter is one test of a query. Which of the snapshot's jobs pass it is
// worked out once per snapshot and Key, so Key must name the test exactly:
// the same Key always with the same Match.
type Filter struct {
	Key   string
	Match func(*Job) bool
}

// Selection is the jobs a query selects, in its order.
type Selection struct {
	jobs []*Job
	want bitset  // positions in jobs selected
	pos  []int32 // the order, nil: positions in order
	desc bool
	n    int
}

// Select returns the visible jobs that pass every filter of q, in q's order:
// sorted by Compare, equal jobs in the snapshot's name order.
func (v *Visibility) Select(q Query) *Selection {
	x := v.idx
	s := &Selection{jobs: x.jobs, want: v.bits, desc: q.Desc}
	if q.Compare != nil {
		s.pos = x.order(q.SortKey, q.Compare)
	}
	if len(q.Filters) > 0 {
		s.want = slices.Clone(v.bits)
		for _, f := range q.Filters {
			pass := x.filter(f)
			for w := range s.want {
				s.want[w] &= pass[w]
			}
		}
	}
	for _, w := range s.want {
		s.n += bits.OnesCount64(w)
	}
	return s
}

// Len is how many jobs are selected.
func (s *Selection) Len() int { return s.n }

// Page returns up to n selected jobs from the lo-th on (0-based) in order,
// walking the order only as far as the page.
func (s *Selection) Page(lo, n int) []*Job {
	out := make([]*Job, 0, max(0, min(n, s.n-lo)))
	if len(out) == cap(out) {
		return out
	}
	all, seen := len(s.jobs), 0
	for k := range all {
		p := k
		if s.desc {
			p = all - 1 - k
		}
		i := p
		if s.pos != nil {
			i = int(s.pos[p])
		}
		if !s.want.has(i) {
			continue
		}
		if seen >= lo {
			out = append(out, s.jobs[i])
			if len(out) == cap(out) {
				break
			}
		}
		seen++
	}
	return out
}

func (x *listIndex) filter(f Filter) bitset {
	return x.filters.get(f.Key, func() bitset {
		b := newBitset(len(x.jobs))
		for i, j := range x.jobs {
			if f.Match(j) {
				b.set(i)
			}
		}
		return b
	})
}

func (x *listIndex) order(key string, cmp func(a, b *Job) int) []int32 {
	return x.orders.get(key, func() []int32 {
		pos := make([]int32, len(x.jobs))
		for i := range pos {
			pos[i] = int32(i)
		}
		// Equal keys in name order (the positions' order): a stable sort,
		// done as an unstable one with the position breaking ties, which
		// sorts 10,000 jobs several times faster.
		slices.SortFunc(pos, func(a, b int32) int {
			if c := cmp(x.jobs[a], x.jobs[b]); c != 0 {
				return c
			}
			return int(a - b)
		})
		return pos
	})
}

// bitset is a set of positions in a snapshot's jobs.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

// lazyLRU keeps up to max values by key, each computed once, on first use:
// a request asking for a value being computed waits for it, while requests
// for other keys go on. Past max the least recently used is dropped.
type lazyLRU[V any] struct {
	mu   sync.Mutex
	max  int
	m    map[string]*lazyEntry[V]
	tick uint64 // the clock of lazyEntry.used
}

type lazyEntry[V any] struct {
	once sync.Once
	v    V
	used uint64
}

func newLazyLRU[V any](max int) lazyLRU[V] {
	return lazyLRU[V]{max: max, m: make(map[string]*lazyEntry[V])}
}

func (c *lazyLRU[V]) get(key string, compute func() V) V {
	c.mu.Lock()
	c.tick++
	e := c.m[key]
	if e == nil {
		if len(c.m) >= c.max {
			oldest, at := "", uint64(math.MaxUint64)
			for k, x := range c.m {
				if x.used < at {
					oldest, at = k, x.used
				}
			}
			delete(c.m, oldest)
		}
		e = &lazyEntry[V]{}
		c.m[key] = e
	}
	e.used = c.tick
	c.mu.Unlock()
	e.once.Do(func() { e.v = compute() })
	return e.v
}
