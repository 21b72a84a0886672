package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/views"
)

// TestJobSettingsInWords: guest processing and retention read as sentences,
// never as EM's enum values ("IgnoreFailures", "EveryFolders",
// "OnlyOnSuccessJob", "(Last week)").
func TestJobSettingsInWords(t *testing.T) {
	g := &emclient.GuestProcessingOptions{
		VssSnapshotOptions:            &emclient.VssSnapshotOptions{VssSnapshotMode: "IgnoreFailures"},
		WindowsGuestFSIndexingOptions: &emclient.GuestFSIndexingOptions{FileSystemIndexingMode: "ExceptSpecifiedFolders", ExcludedIndexingFolders: emclient.Paths{Paths: []string{"%TEMP%"}}},
		LinuxGuestFSIndexingOptions:   &emclient.GuestFSIndexingOptions{FileSystemIndexingMode: "EveryFolders"},
		SqlBackupOptions:              &emclient.SqlBackupOptions{TransactionLogsProcessing: "OnlyOnSuccessJob", BackupLogsFrequencyMin: 15, UseDbBackupRetention: true},
	}
	ji := &emclient.AgentJobInfo{
		SimpleRetentionPolicy: &emclient.SimpleRetentionPolicy{RetainCycles: 14, RetainLimitType: "Cycles"},
		GfsRetentionPolicy:    &emclient.GfsRetentionPolicy{Enabled: true, Monthly: &emclient.GfsPeriod{Enabled: true, RetentionPeriod: 12, SelectedWeek: "Last"}},
	}
	got := map[string]string{}
	for _, kv := range append(guestKVs(g), retentionKVs(ji)...) {
		got[kv.Key] = kv.Value
	}
	want := map[string]string{
		"Application-aware processing (VSS)": "On; the backup goes on without it when it fails",
		"Windows file indexing":              "Every folder except %TEMP%",
		"Linux file indexing":                "Every folder",
		"SQL Server transaction logs":        "Cleared after each successful backup",
		"Keep":                               "14 restore points",
		"Monthly fulls":                      "Keep 12 months, taken in the last week of each month",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	for k, v := range got {
		for _, raw := range []string{"IgnoreFailures", "EveryFolders", "OnlyOnSuccessJob", "Last week", "ExceptSpecified"} {
			if strings.Contains(v, raw) {
				t.Errorf("%s = %q shows EM's value %q", k, v, raw)
			}
		}
	}
	if k := includeKind("urn:AgentForWindows:AgentProtectionGroup:0.1"); k != "Protection group" {
		t.Errorf("include kind = %q", k)
	}
	if k := includeKind("urn:AgentForLinux:SomethingNew:0.1"); k != "SomethingNew (Enterprise Manager's term)" {
		t.Errorf("an unknown include kind = %q, want it raw and marked", k)
	}
	r := sessionRow(&jobs.Session{State: "Stopped", Result: views.ResultFailed, FailureMessage: "Disk full"}, time.Now())
	if r.State != "Finished" || r.Reason != "Disk full" {
		t.Errorf("a failed session reads %q, reason %q", r.State, r.Reason)
	}
}
