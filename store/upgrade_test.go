package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/holds"
	"github.com/agentdesk/agentdesk/lock"
	"github.com/agentdesk/agentdesk/runs"
	"github.com/agentdesk/agentdesk/store"
	"github.com/agentdesk/agentdesk/store/storetest"
)

// legacy is the schema as releases before per-package migrations made it:
// one numbered list per dialect in package store, its version in
// schema_version. Frozen here, exactly as released, to build old databases.
var legacy = map[store.Dialect][]string{
	store.SQLite: {
		`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions(expiry);`,
		`CREATE TABLE user_groups (user_key TEXT PRIMARY KEY, groups_json TEXT NOT NULL, updated_at TEXT NOT NULL);`,
		`CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL,
			user_key TEXT NOT NULL DEFAULT '', user_name TEXT NOT NULL DEFAULT '', user_email TEXT NOT NULL DEFAULT '',
			user_groups TEXT NOT NULL DEFAULT '[]', client_ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '',
			embedded INTEGER NOT NULL DEFAULT 0, action TEXT NOT NULL DEFAULT '', job_id TEXT NOT NULL DEFAULT '',
			job_uid TEXT NOT NULL DEFAULT '', job_name TEXT NOT NULL DEFAULT '', backup_server TEXT NOT NULL DEFAULT '',
			result TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', task_id TEXT NOT NULL DEFAULT '',
			session_id TEXT NOT NULL DEFAULT '', final_result TEXT NOT NULL DEFAULT '', completed_at INTEGER);
		CREATE INDEX audit_log_at_idx ON audit_log(at DESC, id DESC);
		CREATE INDEX audit_log_job_idx ON audit_log(job_id, at DESC);
		CREATE INDEX audit_log_user_idx ON audit_log(user_key, at DESC);
		CREATE INDEX audit_log_pending_idx ON audit_log(result) WHERE result IN ('pending', 'unknown');`,
		`CREATE TABLE schedule_holds (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL,
			job_name TEXT NOT NULL DEFAULT '', disabled_by_key TEXT NOT NULL DEFAULT '', disabled_by_name TEXT NOT NULL DEFAULT '',
			disabled_at INTEGER NOT NULL, reenable_at INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
			message TEXT NOT NULL DEFAULT '', updated_at INTEGER NOT NULL);
		CREATE INDEX schedule_holds_due_idx ON schedule_holds(reenable_at) WHERE state = 'pending';
		CREATE INDEX schedule_holds_job_idx ON schedule_holds(job_id, state);`,
	},
	store.Postgres: {
		`CREATE TABLE audit_log (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL,
			user_key TEXT NOT NULL DEFAULT '', user_name TEXT NOT NULL DEFAULT '', user_email TEXT NOT NULL DEFAULT '',
			user_groups JSONB NOT NULL DEFAULT '[]', client_ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '',
			embedded BOOLEAN NOT NULL DEFAULT false, action TEXT NOT NULL DEFAULT '', job_id TEXT NOT NULL DEFAULT '',
			job_uid TEXT NOT NULL DEFAULT '', job_name TEXT NOT NULL DEFAULT '', backup_server TEXT NOT NULL DEFAULT '',
			result TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', task_id TEXT NOT NULL DEFAULT '',
			session_id TEXT NOT NULL DEFAULT '', final_result TEXT NOT NULL DEFAULT '', completed_at TIMESTAMPTZ);
		CREATE INDEX audit_log_at_idx ON audit_log(at DESC, id DESC);
		CREATE INDEX audit_log_job_idx ON audit_log(job_id, at DESC);
		CREATE INDEX audit_log_user_idx ON audit_log(user_key, at DESC);
		CREATE INDEX audit_log_pending_idx ON audit_log(result) WHERE result IN ('pending', 'unknown');`,
		`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions(expiry);`,
		`CREATE TABLE job_locks (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);`,
		`CREATE TABLE user_groups (user_key TEXT PRIMARY KEY, groups_json JSONB NOT NULL, updated_at TIMESTAMPTZ NOT NULL);`,
		`CREATE TABLE schedule_holds (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id TEXT NOT NULL,
			job_name TEXT NOT NULL DEFAULT '', disabled_by_key TEXT NOT NULL DEFAULT '', disabled_by_name TEXT NOT NULL DEFAULT '',
			disabled_at TIMESTAMPTZ NOT NULL, reenable_at TIMESTAMPTZ NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
			message TEXT NOT NULL DEFAULT '', updated_at TIMESTAMPTZ NOT NULL);
		CREATE INDEX schedule_holds_due_idx ON schedule_holds(reenable_at) WHERE state = 'pending';
		CREATE INDEX schedule_holds_job_idx ON schedule_holds(job_id, state);`,
		`CREATE TABLE job_runs (job_id TEXT PRIMARY KEY, state BYTEA NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
		CREATE INDEX job_runs_updated_idx ON job_runs(updated_at);`,
	},
}

// legacyRows is one row per table as the old code wrote it.
var legacyRows = map[string]map[store.Dialect]string{
	"sessions": {
		store.SQLite:   `INSERT INTO sessions (token, data, expiry) VALUES ('tok', x'6869', julianday('now') + 1)`,
		store.Postgres: `INSERT INTO sessions (token, data, expiry) VALUES ('tok', '\x6869', now() + interval '1 day')`,
	},
	"user_groups": {
		store.SQLite:   `INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES ('iss|a', '["g1","g2"]', '2024-01-01T00:00:00Z')`,
		store.Postgres: `INSERT INTO user_groups (user_key, groups_json, updated_at) VALUES ('iss|a', '["g1","g2"]', now())`,
	},
	"audit_log": {
		store.SQLite: `INSERT INTO audit_log (at, kind, user_key, user_groups, embedded, action, job_id, result, completed_at)
			VALUES (1733400000000000, 'action', 'iss|a', '["g1"]', 1, 'start', 'job-1', 'performed', 1733400001000000)`,
		store.Postgres: `INSERT INTO audit_log (at, kind, user_key, user_groups, embedded, action, job_id, result, completed_at)
			VALUES (to_timestamp(1733400000), 'action', 'iss|a', '["g1"]', true, 'start', 'job-1', 'performed', to_timestamp(1733400001))`,
	},
	"schedule_holds": {
		store.SQLite:   `INSERT INTO schedule_holds (job_id, disabled_at, reenable_at, updated_at) VALUES ('job-1', 1733400000000000, 1733414400000000, 1733400000000000)`,
		store.Postgres: `INSERT INTO schedule_holds (job_id, disabled_at, reenable_at, updated_at) VALUES ('job-1', to_timestamp(1733400000), to_timestamp(1733414400), to_timestamp(1733400000))`,
	},
	"job_locks": {store.Postgres: `INSERT INTO job_locks (key, holder, expires_at) VALUES ('p:job-action:1', 'replica-a', now() + interval '1 hour')`},
	"job_runs":  {store.Postgres: `INSERT INTO job_runs (job_id, state, updated_at) VALUES ('job-1', '\x7b7d', now())`},
}

// TestUpgradeFromLegacySchema: a database made by the releases before
// per-package migrations, left at each of its versions with a row in every
// table it had, is brought to the current schema by the packages' stores
// without losing a row, and each row reads back through the new code.
func TestUpgradeFromLegacySchema(t *testing.T) {
	for _, d := range storetest.Dialects {
		steps := legacy[d]
		for from := 0; from <= len(steps); from++ {
			t.Run(fmt.Sprintf("%s/from_v%d", d, from), func(t *testing.T) {
				ctx := context.Background()
				db := storetest.Open(t, d)
				raw := db.SQL()
				mustExec(t, raw, `CREATE TABLE schema_version (version INTEGER NOT NULL)`)
				for i, s := range steps[:from] {
					mustExec(t, raw, s)
					mustExec(t, raw, db.Rebind(`INSERT INTO schema_version (version) VALUES (?)`), i+1)
				}
				seeded := map[string]bool{}
				for table, ins := range legacyRows {
					if ins[d] == "" || !tableExists(t, db, table) {
						continue
					}
					mustExec(t, raw, ins[d])
					seeded[table] = true
				}
				// Twice: the second start finds everything current.
				openAll(t, db)
				checkRows(t, openAll(t, db), seeded)
				for table := range legacyRows {
					if legacyRows[table][d] == "" {
						continue
					}
					want := 0
					if seeded[table] {
						want = 1
					}
					var n int
					if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil || n != want {
						t.Errorf("%s: %d rows, %v; want %d", table, n, err, want)
					}
				}
			})
		}
	}
}

type stores struct {
	sessions *store.SessionStore
	users    *store.Users
	audit    *audit.SQLStore
	holds    *holds.SQLStore
	lock     *lock.Postgres
	runs     *runs.Postgres
}

// openAll opens every package's store on db, as the portal does at start.
func openAll(t *testing.T, db *store.DB) stores {
	t.Helper()
	ctx := context.Background()
	var s stores
	var err error
	check := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	s.sessions, err = store.NewSessionStore(ctx, db, 0)
	check("sessions", err)
	s.users, err = store.NewUsers(ctx, db)
	check("users", err)
	s.audit, err = audit.NewSQLStore(ctx, db)
	check("audit", err)
	s.holds, err = holds.NewSQLStore(ctx, db)
	check("holds", err)
	if db.Dialect() == store.Postgres {
		s.lock, err = lock.NewPostgres(ctx, db, "p:")
		check("lock", err)
		s.runs, err = runs.NewPostgres(ctx, db)
		check("runs", err)
	}
	return s
}

// checkRows reads each seeded row through the package that owns its table.
func checkRows(t *testing.T, s stores, seeded map[string]bool) {
	t.Helper()
	ctx := context.Background()
	if seeded["sessions"] {
		if b, ok, err := s.sessions.Find("tok"); !ok || err != nil || string(b) != "hi" {
			t.Errorf("session: %q, %v, %v; want hi", b, ok, err)
		}
	}
	if seeded["user_groups"] {
		if g, ok, err := s.users.LastGroups(ctx, "iss|a"); !ok || err != nil || !slices.Equal(g, []string{"g1", "g2"}) {
			t.Errorf("user groups: %v, %v, %v", g, ok, err)
		}
	}
	if seeded["audit_log"] {
		var got []audit.Entry
		if err := s.audit.Each(ctx, audit.Filter{JobID: "job-1"}, func(e audit.Entry) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		want := time.Unix(1733400000, 0).UTC()
		if len(got) != 1 || !got[0].At.Equal(want) || got[0].UserKey != "iss|a" || !got[0].Embedded ||
			!slices.Equal(got[0].Groups, []string{"g1"}) || !got[0].CompletedAt.Equal(want.Add(time.Second)) {
			t.Errorf("audit entries: %+v", got)
		}
	}
	if seeded["schedule_holds"] {
		h, ok, err := s.holds.Pending(ctx, "job-1")
		if !ok || err != nil || !h.ReenableAt.Equal(time.Unix(1733414400, 0)) {
			t.Errorf("hold: %+v, %v, %v", h, ok, err)
		}
	}
	if seeded["job_locks"] {
		if ok, holder, err := s.lock.TryLock(ctx, "job-action:1", "replica-b", time.Minute); ok || err != nil || holder != "replica-a" {
			t.Errorf("lock: %v, %q, %v; want held by replica-a", ok, holder, err)
		}
	}
	if seeded["job_runs"] {
		if e, err := s.runs.Recent(ctx, time.Unix(0, 0)); err != nil || len(e) != 1 || string(e[0].State) != "{}" {
			t.Errorf("runs: %v, %v", e, err)
		}
	}
}

func tableExists(t *testing.T, db *store.DB, table string) bool {
	t.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect() == store.Postgres {
		q = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?`
	}
	var n int
	if err := db.QueryRowContext(context.Background(), q, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
