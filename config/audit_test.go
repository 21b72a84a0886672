package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuditSettings(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		env       map[string]string
		retention time.Duration
		jsonl     string
		err       string
	}{
		{nil, 400 * 24 * time.Hour, "", ""},
		{map[string]string{"AGENTDESK_AUDIT_RETENTION": "30d"}, 30 * 24 * time.Hour, "", ""},
		{map[string]string{"AGENTDESK_AUDIT_RETENTION": "48h"}, 48 * time.Hour, "", ""},
		{map[string]string{"AGENTDESK_AUDIT_RETENTION": "0"}, 0, "", ""},
		{map[string]string{"AGENTDESK_AUDIT_RETENTION": "1h"}, 0, "", "AGENTDESK_AUDIT_RETENTION: must be at least 1d"},
		{map[string]string{"AGENTDESK_AUDIT_RETENTION": "x d"}, 0, "", "AGENTDESK_AUDIT_RETENTION: want a number of days"},
		{map[string]string{"AGENTDESK_AUDIT_JSONL": "stdout"}, 400 * 24 * time.Hour, "stdout", ""},
		{map[string]string{"AGENTDESK_AUDIT_JSONL": filepath.Join(dir, "audit.jsonl")}, 400 * 24 * time.Hour, filepath.Join(dir, "audit.jsonl"), ""},
		{map[string]string{"AGENTDESK_AUDIT_JSONL": "audit.jsonl"}, 0, "", "AGENTDESK_AUDIT_JSONL: want stdout or an absolute file path"},
		{map[string]string{"AGENTDESK_AUDIT_JSONL": filepath.Join(dir, "nope", "a.jsonl")}, 0, "", "AGENTDESK_AUDIT_JSONL: the directory"},
	}
	for _, tt := range tests {
		env := map[string]string{
			"AGENTDESK_EM_URL": "https://em.example.com:9398", "AGENTDESK_EM_USER": "svc", "AGENTDESK_EM_PASSWORD": "p",
			"AGENTDESK_OIDC_ISSUER": "https://idp.example.com", "AGENTDESK_OIDC_CLIENT_ID": "c",
			"AGENTDESK_PUBLIC_URL": "https://portal.example.com/",
		}
		for k, v := range tt.env {
			env[k] = v
		}
		c, err := Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err %v, want %q", tt.env, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
			continue
		}
		if c.Audit.Retention != tt.retention || c.Audit.JSONL != tt.jsonl {
			t.Errorf("%v: retention %v jsonl %q", tt.env, c.Audit.Retention, c.Audit.JSONL)
		}
	}
}
