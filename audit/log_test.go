package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

func attempt(at time.Time, key, name, jobID, jobName string, a jobs.Action) jobs.Attempt {
	return jobs.Attempt{
		At:     at,
		Actor:  jobs.Actor{Key: key, Name: name, Email: strings.ToLower(name) + "@corp.example", Groups: []string{"g1", "g2"}, IP: "203.0.113.7", UserAgent: "Firefox/1"},
		Action: a, JobID: jobID, JobUID: "urn:veeam:AgentBackupJob:" + jobID, JobName: jobName, Server: "vbr-berlin.corp.example",
	}
}

const (
	job1 = "11111111-1111-1111-1111-111111111111"
	job2 = "22222222-2222-2222-2222-222222222222"
)

func TestBeginFinishRefusedRecord(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var sink bytes.Buffer
		now := t0.Add(time.Minute)
		l := New(s, Options{Sink: &sink, Logger: testLogger(), Now: func() time.Time { return now }})

		id, err := l.Begin(ctx, attempt(t0, "iss|alice", "Alice", job1, "Erin's laptop", jobs.Start))
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Query(ctx, Filter{})
		if err != nil || len(p.Entries) != 1 {
			t.Fatalf("after Begin: %v, %v", p.Entries, err)
		}
		e := p.Entries[0]
		want := Entry{
			ID: e.ID, At: t0.Truncate(time.Microsecond), Kind: KindAction, UserKey: "iss|alice", UserName: "Alice",
			UserEmail: "alice@corp.example", Groups: []string{"g1", "g2"}, IP: "203.0.113.7", UserAgent: "Firefox/1",
			Action: "start", JobID: job1, JobUID: "urn:veeam:AgentBackupJob:" + job1, JobName: "Erin's laptop",
			Server: "vbr-berlin.corp.example", Result: ResultPending,
		}
		if fmt.Sprint(e) != fmt.Sprint(want) {
			t.Fatalf("pending entry\n got %+v\nwant %+v", e, want)
		}
		if err := l.Finish(ctx, id, jobs.Outcome{Result: "performed", Message: "Backup finished: Success", TaskID: "task-7", SessionID: "abc", Final: "Success"}); err != nil {
			t.Fatal(err)
		}
		if err := l.Refused(ctx, attempt(t0.Add(time.Second), "iss|bob", "Bob", job1, "Erin's laptop", jobs.Start), jobs.Outcome{Result: "refused", Message: "already in progress by Alice"}); err != nil {
			t.Fatal(err)
		}
		if err := l.Record(ctx, Entry{At: t0.Add(2 * time.Second), Kind: KindSignIn, UserKey: "iss|carol", UserName: "Carol", Groups: nil}); err != nil {
			t.Fatal(err)
		}
		p, _ = l.Query(ctx, Filter{})
		if len(p.Entries) != 3 {
			t.Fatalf("%d entries, want 3", len(p.Entries))
		}
		signin, refused, done := p.Entries[0], p.Entries[1], p.Entries[2]
		if signin.Kind != KindSignIn || signin.Result != ResultPerformed || !signin.CompletedAt.Equal(signin.At) || len(signin.Groups) != 0 {
			t.Errorf("sign-in entry %+v", signin)
		}
		if refused.Result != ResultRefused || refused.UserKey != "iss|bob" || refused.Message != "already in progress by Alice" || refused.CompletedAt.IsZero() {
			t.Errorf("refused entry %+v", refused)
		}
		if done.Result != ResultPerformed || done.TaskID != "task-7" || done.SessionID != "abc" || done.Final != "Success" ||
			!done.CompletedAt.Equal(now) || done.UserName != "Alice" {
			t.Errorf("finished entry %+v", done)
		}

		// The sink saw every write, in order, after it was stored: the pending
		// entry, its completion, the refusal and the sign-in.
		var lines []Entry
		sc := bufio.NewScanner(&sink)
		for sc.Scan() {
			var e Entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("sink line %q: %v", sc.Text(), err)
			}
			lines = append(lines, e)
		}
		var got []string
		for _, e := range lines {
			got = append(got, fmt.Sprintf("%d:%s", e.ID, e.Result))
		}
		wantLines := []string{
			fmt.Sprintf("%d:pending", done.ID), fmt.Sprintf("%d:performed", done.ID),
			fmt.Sprintf("%d:refused", refused.ID), fmt.Sprintf("%d:performed", signin.ID),
		}
		if !slices.Equal(got, wantLines) {
			t.Errorf("sink lines %v, want %v", got, wantLines)
		}
		if lines[1].UserKey != "iss|alice" || lines[1].SessionID != "abc" {
			t.Errorf("the completion line lacks the whole entry: %+v", lines[1])
		}
		if l.Failures() != 0 {
			t.Errorf("Failures = %d", l.Failures())
		}
		if err := l.Finish(ctx, "999999", jobs.Outcome{Result: "performed"}); err == nil || l.Failures() != 1 {
			t.Errorf("finishing a missing entry: err %v, failures %d", err, l.Failures())
		}
	})
}

func TestQueryFiltersAndPaging(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := New(s, Options{Logger: testLogger()})
		people := []struct{ key, name string }{{"iss|alice", "Alice Admin"}, {"iss|harry", "Harry Helpdesk"}, {"other|x_1", "Percent 100%"}}
		actions := []jobs.Action{jobs.Start, jobs.Stop, jobs.Disable}
		for i := range 30 {
			p := people[i%3]
			job, name := job1, "Erin's laptop"
			if i%2 == 1 {
				job, name = job2, "SQL cluster"
			}
			at := t0.Add(time.Duration(i) * time.Minute)
			a := attempt(at, p.key, p.name, job, name, actions[i%3])
			if i%5 == 0 {
				if err := l.Refused(ctx, a, jobs.Outcome{Result: "denied", Message: "not allowed by policy"}); err != nil {
					t.Fatal(err)
				}
			} else {
				id, err := l.Begin(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.Finish(ctx, id, jobs.Outcome{Result: "performed"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Same time, different ids: keyset paging must still see both.
		l.Record(ctx, Entry{At: t0.Add(10 * time.Minute), Kind: KindSignOut, UserKey: "iss|alice", UserName: "Alice Admin"})
		l.Record(ctx, Entry{At: t0.Add(10 * time.Minute), Kind: KindSignIn, UserKey: "iss|alice", UserName: "Alice Admin"})

		count := func(f Filter) int {
			t.Helper()
			n := 0
			if err := l.Each(ctx, f, func(Entry) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			return n
		}
		tests := []struct {
			name string
			f    Filter
			want int
		}{
			{"all", Filter{}, 32},
			{"person by key", Filter{Person: "iss|harry"}, 10},
			{"person by name part, any case", Filter{Person: "harry help"}, 10},
			{"person by e-mail part", Filter{Person: "ALICE ADMIN@corp"}, 10},
			{"LIKE wildcards are literal", Filter{Person: "100%"}, 10},
			{"key is exact, not a part", Filter{Person: "x_1"}, 0},
			{"key with underscore", Filter{Person: "other|x_1"}, 10},
			{"underscore does not match any char", Filter{Person: "Harry_Helpdesk"}, 0},
			{"job by id", Filter{Job: job2}, 15},
			{"job by id, upper case", Filter{Job: strings.ToUpper(job2)}, 15},
			{"job by uid", Filter{Job: "urn:veeam:AgentBackupJob:" + job1}, 15},
			{"job by name part", Filter{Job: "erin's"}, 15},
			{"job id exact", Filter{JobID: job1}, 15},
			{"action", Filter{Action: "disable"}, 10},
			{"outcome denied", Filter{Result: ResultDenied}, 6},
			{"kind", Filter{Kind: KindSignIn}, 1},
			{"time range", Filter{From: t0.Add(5 * time.Minute), To: t0.Add(10 * time.Minute)}, 5},
			{"combined", Filter{Person: "alice", Action: "start", Result: ResultPerformed}, 8},
		}
		for _, tt := range tests {
			if got := count(tt.f); got != tt.want {
				t.Errorf("%s: %d entries, want %d", tt.name, got, tt.want)
			}
		}

		// Keyset paging walks every entry once, newest first.
		var seen []Entry
		f := Filter{Limit: 7}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			p, err := l.Query(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, p.Entries...)
			if p.Next == nil {
				break
			}
			c, err := ParseCursor(p.Next.String())
			if err != nil {
				t.Fatal(err)
			}
			f.Before = c
		}
		if len(seen) != 32 {
			t.Fatalf("paging saw %d entries, want 32", len(seen))
		}
		ids := map[int64]bool{}
		for i, e := range seen {
			ids[e.ID] = true
			if i > 0 && (e.At.After(seen[i-1].At) || (e.At.Equal(seen[i-1].At) && e.ID > seen[i-1].ID)) {
				t.Fatalf("entry %d (%v #%d) is newer than the one before (%v #%d)", i, e.At, e.ID, seen[i-1].At, seen[i-1].ID)
			}
		}
		if len(ids) != 32 {
			t.Fatalf("paging repeated entries: %d distinct", len(ids))
		}
	})
}

func TestPurge(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		now := t0
		l := New(s, Options{Logger: testLogger(), Now: func() time.Time { return now }})
		for _, age := range []time.Duration{500, 401, 399, 1} {
			l.Record(ctx, Entry{At: t0.Add(-age * 24 * time.Hour), Kind: KindSignIn})
		}
		n, err := l.Purge(ctx, 400*24*time.Hour)
		if err != nil || n != 2 {
			t.Fatalf("Purge = %d, %v; want 2", n, err)
		}
		p, _ := l.Query(ctx, Filter{})
		if len(p.Entries) != 2 {
			t.Fatalf("%d entries left, want 2", len(p.Entries))
		}
	})
}

func TestExportCSV(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := New(s, Options{Logger: testLogger()})
		evil := `=cmd|' /C calc'!A0`
		a := attempt(t0, "iss|mallory", evil, job1, "Job, with \"quotes\"\nand a newline", jobs.Stop)
		a.Actor.UserAgent = "@SUM(1+1)"
		if err := l.Refused(ctx, a, jobs.Outcome{Result: "denied", Message: "-2+3"}); err != nil {
			t.Fatal(err)
		}
		l.Record(ctx, Entry{At: t0.Add(time.Hour), Kind: KindSignIn, UserName: "+plus", UserEmail: "\tTab", UserKey: "\rcr",
			UserAgent: "Mozilla/5.0;=1+1;", Message: "a,@b|-c\n=d x=y"})
		var buf bytes.Buffer
		if err := l.ExportCSV(ctx, &buf, Filter{}); err != nil {
			t.Fatal(err)
		}
		raw := buf.String()
		for _, line := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
			if !strings.HasPrefix(line, `"`) || !strings.HasSuffix(line, `"`) {
				t.Errorf("row not quoted: %q", line)
			}
		}
		// A reader that splits on ';' and ignores quotes sees no formula.
		for _, cell := range strings.FieldsFunc(raw, func(r rune) bool { return strings.ContainsRune(",;\t|\n\r\"", r) }) {
			if strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q starts a formula after a separator", cell)
			}
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("export is not valid CSV: %v\n%s", err, buf.String())
		}
		if len(recs) != 3 || !slices.Equal(recs[0], csvHeader) {
			t.Fatalf("records %q", recs)
		}
		col := func(rec []string, name string) string { return rec[slices.Index(csvHeader, name)] }
		signin, denied := recs[1], recs[2]
		checks := []struct{ got, want string }{
			{col(denied, "user_name"), "'" + evil},
			{col(denied, "user_agent"), "'@SUM(1+1)"},
			{col(denied, "message"), "'-2+3"},
			{col(denied, "job_name"), "Job, with \"quotes\"\nand a newline"},
			{col(denied, "time"), "2025-03-14T09:26:53Z"},
			{col(denied, "groups"), "g1;g2"},
			{col(denied, "result"), "denied"},
			{col(signin, "user_name"), "'+plus"},
			{col(signin, "user_email"), "'\tTab"},
			{col(signin, "user_key"), "'\rcr"},
			{col(signin, "time"), "2025-03-14T10:26:53Z"},
			{col(signin, "user_agent"), "Mozilla/5.0;'=1+1;"},
			{col(signin, "message"), "a,'@b|'-c\n'=d x=y"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("cell %q, want %q", c.got, c.want)
			}
		}
	})
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{At: t0.Truncate(time.Microsecond), ID: 42}
	got, err := ParseCursor(c.String())
	if err != nil || !got.At.Equal(c.At) || got.ID != 42 {
		t.Fatalf("ParseCursor(%q) = %+v, %v", c.String(), got, err)
	}
	for _, bad := range []string{"", "x", "1-", "-1", "1-x", "1--2"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}
