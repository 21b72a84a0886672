package audit

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the export's columns.
var csvHeader = []string{
	"id", "time", "kind", "user_key", "user_name", "user_email", "groups", "client_ip", "user_agent", "embedded",
	"action", "job_id", "job_uid", "job_name", "backup_server", "result", "message", "em_task_id",
	"backup_session_id", "session_result", "completed_at",
}

// ExportCSV writes the entries f selects as CSV, newest first, one row at a
// time (the export is never held in memory). Times are RFC 3339 in UTC. Cells
// a spreadsheet would take for a formula are prefixed with an apostrophe.
func (l *Log) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	n := 0
	err := l.store.Each(ctx, f, func(e Entry) error {
		if err := cw.Write(csvRecord(e)); err != nil {
			return err
		}
		// Flush now and then so the rows reach the client as they are read.
		if n++; n%100 == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

func csvRecord(e Entry) []string {
	rec := []string{
		strconv.FormatInt(e.ID, 10), csvTime(e.At), string(e.Kind), e.UserKey, e.UserName, e.UserEmail,
		strings.Join(e.Groups, ";"), e.IP, e.UserAgent, strconv.FormatBool(e.Embedded),
		e.Action, e.JobID, e.JobUID, e.JobName, e.Server, string(e.Result), e.Message, e.TaskID,
		e.SessionID, e.Final, csvTime(e.CompletedAt),
	}
	for i, v := range rec {
		rec[i] = SafeCell(v)
	}
	return rec
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// SafeCell neutralises spreadsheet formula injection (OWASP "CSV injection"):
// a cell that starts with =, +, -, @, a tab or a carriage return is prefixed
// with an apostrophe, so spreadsheets show it as text instead of evaluating it.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// OpenSink opens the JSON-lines output: "stdout", or a file path (appended to,
// created with mode 0600). The caller closes it after the log's last write.
func OpenSink(spec string) (io.WriteCloser, error) {
	if spec == "stdout" || spec == "-" {
		return nopCloser{os.Stdout}, nil
	}
	f, err := os.OpenFile(spec, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit sink: %w", err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
