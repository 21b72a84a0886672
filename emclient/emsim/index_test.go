package emsim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	sessionUIDRe = regexp.MustCompile(`UID="(urn:veeam:BackupJobSession:[0-9a-f-]+)"`)
	jobUIDRe     = regexp.MustCompile(`<JobUid>urn:veeam:AgentBackupJob:([0-9a-f-]+)</JobUid>`)
)

// sessionUIDs lists the session UIDs of a query answer in order.
func sessionUIDs(t *testing.T, r reply) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out []string
	for _, m := range sessionUIDRe.FindAllSubmatch(r.body, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// TestSessionQueryByJobUidMatchesScan checks that a query naming jobs by
// JobUid (answered from the per-job index) returns exactly what the same
// query answered by scanning the fleet returns, in the same order, ties
// included: a range on JobUid selects the same sessions but is not indexed.
func TestSessionQueryByJobUidMatchesScan(t *testing.T) {
	for _, n := range []int{48, largeFleet + 20} {
		e := newEnv(t, Config{Jobs: n})
		tok := e.logon("svc", "secret")
		jobs := e.s.Jobs()
		// Sessions started now tie on CreationTime with their children.
		for _, j := range jobs[:3] {
			if r := e.do(http.MethodPost, "/api/agents/jobs/"+j.ID+"?action=start", tok, nil); r.status != http.StatusAccepted {
				t.Fatalf("start: %d %s", r.status, r.body)
			}
		}
		children := e.get(q("type", "BackupJobSession", "format", "Entities", "filter", `JobType=="AgentManagement"`, "pageSize", "3"), tok)
		var childIDs []string
		for _, m := range jobUIDRe.FindAllSubmatch(children.body, -1) {
			childIDs = append(childIDs, string(m[1]))
		}
		if len(childIDs) == 0 {
			t.Fatalf("no child sessions in %s", children.body)
		}
		ids := []string{jobs[0].ID, jobs[1].ID, jobs[len(jobs)-1].ID, childIDs[0], strings.ToUpper(childIDs[len(childIDs)-1])}
		for _, sort := range []string{"CreationTime", "State", "JobType"} {
			for i, id := range ids {
				other := ids[(i+1)%len(ids)]
				cases := []struct{ indexed, scanned string }{
					{`JobUid=="urn:veeam:AgentBackupJob:` + id + `"`, `JobUid>=` + id + `;JobUid<=` + id},
					{`(JobUid=="urn:veeam:AgentBackupJob:` + id + `",JobUid=="urn:veeam:Job:` + id + `");JobType=="AgentBackup"`,
						`JobUid>=` + id + `;JobUid<=` + id + `;JobType=="AgentBackup"`},
					{`JobUid==` + id + `,JobUid==` + other, `(JobUid>=` + id + `;JobUid<=` + id + `),(JobUid>=` + other + `;JobUid<=` + other + `)`},
				}
				for k, c := range cases {
					got := sessionUIDs(t, e.get(q("type", "BackupJobSession", "format", "Entities", "filter", c.indexed, "sortDesc", sort, "pageSize", "1000"), tok))
					want := sessionUIDs(t, e.get(q("type", "BackupJobSession", "format", "Entities", "filter", c.scanned, "sortDesc", sort, "pageSize", "1000"), tok))
					// Every id has sessions; a child id has none of JobType AgentBackup.
					if k != 1 && len(want) == 0 || !slices.Equal(got, want) {
						t.Errorf("jobs=%d sortDesc=%s filter %s:\n got %v\nwant %v", n, sort, c.indexed, got, want)
					}
				}
			}
		}
	}
}

// TestConcurrentReadsAndActions runs queries and reads beside job actions;
// under -race it guards the shared lock on reads.
func TestConcurrentReadsAndActions(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	jobs := e.s.Jobs()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				j := jobs[(g*20+i)%len(jobs)]
				paths := []string{
					q("type", "BackupJobSession", "format", "Entities", "filter", `JobUid=="urn:veeam:AgentBackupJob:`+j.ID+`"`, "sortDesc", "CreationTime"),
					"/api/agents/jobs/" + j.ID + "?format=Entity",
					"/api/agents/jobs/" + j.ID + "/backupSessions",
					"/api/tasks",
				}
				for _, p := range paths {
					req, _ := http.NewRequest(http.MethodGet, e.ts.URL+p, nil)
					req.Header.Set(tokenName, tok)
					resp, err := e.ts.Client().Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("GET %s: %d", p, resp.StatusCode)
					}
				}
			}
		}()
	}
	for _, j := range jobs[:10] {
		if r := e.do(http.MethodPost, "/api/agents/jobs/"+j.ID+"?action=start", tok, nil); r.status != http.StatusAccepted {
			t.Errorf("start: %d %s", r.status, r.body)
		}
		e.s.SetRefusal(Refusal{})
	}
	wg.Wait()
}
