package baseline

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// FloorResult is what fetching and decoding the job list cost at the least.
type FloorResult struct {
	Elapsed  time.Duration
	Bytes    int64 // XML read from EM
	Pages    int   // query pages read
	Jobs     int
	Sessions int
}

// Floor fetches what the portal's job list needs, the way the portal asks for
// it (all agent job entities and the agent sessions of the last 30 days, both
// query walks in parallel, 1,000 per page), and decodes it into minimal
// structs keeping only the newest session per job: the floor in time and
// memory a list refresh can be judged against.
func Floor(ctx context.Context, emURL, user, pass string, now time.Time) (FloorResult, error) {
	c := newEM(emURL, user, pass)
	start := time.Now()
	var (
		wg                 sync.WaitGroup
		jobs               []job
		latest             = map[string]session{}
		nJob, nSess        int64
		pJob, pSess, nSeen int
		e1, e2             error
	)
	wg.Go(func() {
		nJob, pJob, e1 = c.walk(ctx, url.Values{"type": {"AgentBackupJob"}, "format": {"Entities"}, "sortAsc": {"Name"}}, func(r *queryResult) {
			jobs = append(jobs, r.Jobs...)
		})
	})
	wg.Go(func() {
		since := now.Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		q := url.Values{"type": {"BackupJobSession"}, "format": {"Entities"}, "sortDesc": {"CreationTime"},
			"filter": {`JobType=="AgentBackup";CreationTime>="` + since + `"`}}
		nSess, pSess, e2 = c.walk(ctx, q, func(r *queryResult) {
			for _, s := range r.Sessions {
				nSeen++
				if cur, ok := latest[s.JobUID]; !ok || s.CreationTime > cur.CreationTime {
					latest[s.JobUID] = s
				}
			}
		})
	})
	wg.Wait()
	if e1 != nil || e2 != nil {
		return FloorResult{}, fmt.Errorf("baseline: floor: %w", firstErr(e1, e2))
	}
	return FloorResult{Elapsed: time.Since(start), Bytes: nJob + nSess, Pages: pJob + pSess, Jobs: len(jobs), Sessions: nSeen}, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// walk reads every page of a query, 1,000 entries each.
func (c *em) walk(ctx context.Context, q url.Values, each func(*queryResult)) (bytes int64, pages int, err error) {
	q.Set("pageSize", "1000")
	for page := 1; page <= 10000; page++ {
		q.Set("page", strconv.Itoa(page))
		var r queryResult
		n, err := c.get(ctx, "/query", q, &r)
		bytes += n
		if err != nil {
			return bytes, pages, err
		}
		pages++
		each(&r)
		if r.Paging.PagesCount <= page {
			return bytes, pages, nil
		}
	}
	return bytes, pages, fmt.Errorf("baseline: query %s has more than 10000 pages", q.Get("type"))
}
