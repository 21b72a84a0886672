package audit

import (
	"bufio"
	"context"
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
// time (the export is never held in memory). Times are RFC 3339 in UTC.
// Every cell is quoted, and formula starts are neutralised wherever a
// spreadsheet might begin a cell (see SafeCell), following OWASP's advice on
// CSV injection.
func (l *Log) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	bw := bufio.NewWriter(w)
	if err := writeQuoted(bw, csvHeader); err != nil {
		return err
	}
	n := 0
	err := l.store.Each(ctx, f, func(e Entry) error {
		if err := writeQuoted(bw, csvRecord(e)); err != nil {
			return err
		}
		// Flush now and then so the rows reach the client as they are read.
		if n++; n%100 == 0 {
			return bw.Flush()
		}
		return nil
	})
	if err != nil {
		_ = bw.Flush()
		return err
	}
	return bw.Flush()
}

// writeQuoted writes one CSV record (RFC 4180) with every field quoted, so
// no separator inside a cell can start a new one in any reader.
func writeQuoted(w *bufio.Writer, rec []string) error {
	for i, v := range rec {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(v, `"`, `""`))
		w.WriteByte('"')
	}
	_, err := w.WriteString("\r\n")
	return err
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
// a formula start (=, +, -, @, a tab or a carriage return, or their
// full-width forms) at the start of the cell or right after a character
// some spreadsheet may split cells on (comma, semicolon, tab, pipe, line
// breaks) gets an apostrophe in front, so the spreadsheet shows it as text
// whatever separator its locale uses: "Mozilla/5.0;=1+1;" becomes
// "Mozilla/5.0;'=1+1;".
func SafeCell(s string) string {
	var b strings.Builder
	prev := rune(-1) // start of the cell
	for _, r := range s {
		if isFormulaStart(r) && (prev == -1 || isCellSeparator(prev)) {
			b.WriteByte('\'')
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

func isFormulaStart(r rune) bool {
	return strings.ContainsRune("=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20", r)
}

func isCellSeparator(r rune) bool {
	return strings.ContainsRune(",;\t|\n\r", r)
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
