package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Store keeps entries durably. Insert must not return before the entry is
// committed: the action it describes is sent to EM only afterwards.
type Store interface {
	// Insert writes a new entry and returns its id.
	Insert(ctx context.Context, e Entry) (int64, error)
	// Complete sets the outcome of entry id and returns the whole entry.
	Complete(ctx context.Context, id int64, o Completion) (Entry, error)
	// Each calls fn for the selected entries, newest first, streaming.
	Each(ctx context.Context, f Filter, fn func(Entry) error) error
	// Purge deletes entries older than before and returns how many.
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Completion is the outcome part of an entry.
type Completion struct {
	Result    Result
	Message   string
	TaskID    string
	SessionID string
	Final     string
	At        time.Time
}

// columns are read and written in this order by both stores.
const columns = `id, at, kind, user_key, user_name, user_email, user_groups, client_ip, user_agent, embedded,
	action, job_id, job_uid, job_name, backup_server, result, message, task_id, session_id, final_result, completed_at`

const insertColumns = `at, kind, user_key, user_name, user_email, user_groups, client_ip, user_agent, embedded,
	action, job_id, job_uid, job_name, backup_server, result, message, task_id, session_id, final_result, completed_at`

// dialect is what differs between the stores' SQL.
type dialect struct {
	placeholder func(n int) string // 1-based
	like        string             // case-insensitive LIKE
	time        func(time.Time) any
}

// where builds the WHERE clause (with leading " WHERE ", or "") and its
// arguments for f.
func where(f Filter, d dialect) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.placeholder(len(args))
	}
	if p := strings.TrimSpace(f.Person); p != "" {
		like := "%" + escapeLike(p) + "%"
		conds = append(conds, fmt.Sprintf(`(user_key = %s OR user_name %s %s ESCAPE '\' OR user_email %s %s ESCAPE '\')`,
			arg(p), d.like, arg(like), d.like, arg(like)))
	}
	if j := strings.TrimSpace(f.Job); j != "" {
		conds = append(conds, fmt.Sprintf(`(job_id = %s OR job_uid = %s OR job_name %s %s ESCAPE '\')`,
			arg(strings.ToLower(j)), arg(j), d.like, arg("%"+escapeLike(j)+"%")))
	}
	if f.JobID != "" {
		conds = append(conds, "job_id = "+arg(strings.ToLower(f.JobID)))
	}
	if f.Action != "" {
		conds = append(conds, "action = "+arg(f.Action))
	}
	if f.Result != "" {
		conds = append(conds, "result = "+arg(string(f.Result)))
	}
	if f.Kind != "" {
		conds = append(conds, "kind = "+arg(string(f.Kind)))
	}
	if !f.From.IsZero() {
		conds = append(conds, "at >= "+arg(d.time(f.From)))
	}
	if !f.To.IsZero() {
		conds = append(conds, "at < "+arg(d.time(f.To)))
	}
	if f.Before != nil {
		at := d.time(f.Before.At)
		conds = append(conds, fmt.Sprintf("(at < %s OR (at = %s AND id < %s))", arg(at), arg(at), arg(f.Before.ID)))
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// selectSQL is the query of Each.
func selectSQL(cols string, f Filter, d dialect) (string, []any) {
	w, args := where(f, d)
	q := "SELECT " + cols + " FROM audit_log" + w + " ORDER BY at DESC, id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT " + d.placeholder(len(args))
	}
	return q, args
}
