package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// audit checks the audit log's settings.
func (r *reader) audit(c *Config) {
	if c.Audit.Retention != 0 && c.Audit.Retention < 24*time.Hour {
		r.fail("AGENTDESK_AUDIT_RETENTION", "must be at least 1d (or 0 to keep every entry)")
	}
	if p := c.Audit.JSONL; p != "" && p != "stdout" {
		if !filepath.IsAbs(p) {
			r.fail("AGENTDESK_AUDIT_JSONL", "want stdout or an absolute file path")
			return
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			r.fail("AGENTDESK_AUDIT_JSONL", "the directory "+filepath.Dir(p)+" does not exist")
		}
	}
}

// days reads a duration that may also be given in days ("400d"), the natural
// unit of a retention period.
func (r *reader) days(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 {
			r.fail(name, fmt.Sprintf("want a number of days such as 400d, got %q", v))
			return def
		}
		return time.Duration(d) * 24 * time.Hour
	}
	if v == "0" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, fmt.Sprintf("want a number of days such as 400d, or a duration such as 9600h, got %q", v))
		return def
	}
	return d
}
