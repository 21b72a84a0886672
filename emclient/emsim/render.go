package emsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// base builds absolute Hrefs from the request's scheme and host.
type base string

func baseOf(r *http.Request) base {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return base(scheme + "://" + r.Host + "/api")
}

func (b base) url(path string) string { return string(b) + path }

func (b base) jobRef(j *job) ref {
	return ref{
		UID: j.uid(), Name: j.name, Href: b.url("/agents/jobs/" + j.id), Type: "AgentBackupJobReference",
		Links: []link{
			{Rel: "Up", Type: "BackupServerReference", Href: b.url("/backupServers/" + j.srv.id), Name: j.srv.name},
			{Rel: "Alternate", Type: "Job", Href: b.url("/agents/jobs/" + j.id + "?format=Entity"), Name: j.name},
			{Rel: "Down", Type: "BackupJobSessionReferenceList", Href: b.url("/agents/jobs/" + j.id + "/backupSessions")},
		},
	}
}

func (b base) jobEntity(j *job, now time.Time) agentBackupJob {
	jp := "/agents/jobs/" + j.id
	links := []link{
		{Rel: "Up", Type: "BackupServerReference", Href: b.url("/backupServers/" + j.srv.id), Name: j.srv.name},
		{Rel: "Alternate", Type: "JobReference", Href: b.url(jp), Name: j.name},
		{Rel: "Down", Type: "ObjectInJobList", Href: b.url(jp + "/includes")},
		{Rel: "ToggleScheduleEnabled", Href: b.url(jp + "?action=toggleScheduleEnabled")},
		{Rel: "Down", Type: "BackupJobSessionReferenceList", Href: b.url(jp + "/backupSessions")},
		{Rel: "Start", Href: b.url(jp + "?action=start")},
		{Rel: "Stop", Href: b.url(jp + "?action=stop")},
		// Every documented entity carries all eight links whatever the job's
		// state or kind; EM answers "not now" by refusing the action.
		{Rel: "Retry", Href: b.url(jp + "?action=retry")},
	}
	e := agentBackupJob{
		Type: "AgentBackupJob", Href: b.url(jp + "?format=Entity"), Name: j.name, UID: j.uid(), Links: links,
		JobType: "AgentBackup", Platform: j.platform(), Description: j.desc,
		ScheduleConfigured: j.sched.configured, ScheduleEnabled: j.enabled,
		JobScheduleOptions: renderSchedule(j.sched),
	}
	if nr := j.nextRun(now); !nr.IsZero() {
		e.NextRun = &xmlTime{nr}
	}
	// Job-level options carry no folder lists (as in the documented example);
	// each include has its own.
	gp := j.guestProcessing()
	gp.WindowsGuestFSIndexingOptions.ExcludedIndexingFolders = paths{}
	gp.LinuxGuestFSIndexingOptions.ExcludedIndexingFolders = paths{}
	info := &agentJobInfo{GuestProcessingOptions: gp}
	for _, in := range j.includes {
		info.Includes = append(info.Includes, b.includeEntity(j, in))
	}
	info.GfsRetentionPolicy = &gfsRetentionPolicy{
		Enabled: j.gfs,
		Weekly:  gfsWeekly{Enabled: j.gfs, RetentionPeriod: 4, SelectedDay: "Sunday"},
		Monthly: gfsMonth{Enabled: j.gfs, RetentionPeriod: 12, SelectedWeek: "Last"},
		Yearly:  gfsYearly{Enabled: false, RetentionPeriod: 1, SelectedMonth: "January"},
	}
	info.SimpleRetentionPolicy = &simpleRetentionPolicy{RetainCycles: j.retain, RetainDaysToKeep: 7, RetainLimitType: "Cycles"}
	if j.retainDays {
		info.SimpleRetentionPolicy.RetainCycles, info.SimpleRetentionPolicy.RetainDaysToKeep = 7, j.retain
		info.SimpleRetentionPolicy.RetainLimitType = "Days"
	}
	e.JobInfo = info
	return e
}

func (b base) includeEntity(j *job, in *include) objectInAgentBackupJob {
	return objectInAgentBackupJob{
		Type: "ObjectInAgentBackupJob", Href: b.url("/agents/jobs/" + j.id + "/includes/" + in.oid),
		ObjectInJobID: in.oid, HierarchyObjRef: in.hierRef, Name: in.name, DisplayName: in.name,
		GuestProcessingOptions: j.guestProcessing(),
	}
}

func (j *job) guestProcessing() *guestProcessingOptions {
	gp := &guestProcessingOptions{
		VssSnapshotOptions: vssSnapshotOptions{VssSnapshotMode: j.vssMode},
		WindowsGuestFSIndexingOptions: guestFSIndexingOptions{
			FileSystemIndexingMode:  j.indexMode,
			ExcludedIndexingFolders: paths{Paths: []string{"%windir%", "%ProgramFiles%", "%ProgramFiles(x86)%", "%ProgramW6432%", "%TEMP%"}},
		},
		LinuxGuestFSIndexingOptions: guestFSIndexingOptions{
			FileSystemIndexingMode:  j.indexMode,
			ExcludedIndexingFolders: paths{Paths: []string{"/cdrom", "/dev", "/media", "/mnt", "/proc", "/tmp", "/lost+found"}},
		},
		SQLBackupOptions: sqlBackupOptions{TransactionLogsProcessing: "OnlyOnSuccessJob", BackupLogsFrequencyMin: 15, UseDbBackupRetention: true, RetainDays: 15},
	}
	if !j.windows {
		gp.VssSnapshotOptions.VssSnapshotMode = "Disabled"
	}
	if j.sql {
		gp.SQLBackupOptions.TransactionLogsProcessing = "Backup"
	}
	return gp
}

func allHours(v string) timePeriods {
	tp := timePeriods{}
	for _, d := range weekdays {
		tp.Days = append(tp.Days, dayHours{Name: d, Hours: v})
	}
	return tp
}

func clockText(h, m int) string { return fmt.Sprintf("%02d:%02d:00.0000000+01:00", h, m) }

func renderSchedule(s schedule) *jobScheduleOptions {
	ones := strings.TrimSuffix(strings.Repeat("1,", 24), ",")
	so := scheduleOptions{
		RetryOptions:                      retryOptions{RetryTimes: s.retryTimes, RetryTimeout: s.retryTimeout, RetrySpecified: s.retry},
		WaitForBackupCompletion:           true,
		BackupCompetitionWaitingPeriodMin: 180,
		OptionsDaily:                      optionsDaily{Kind: "Everyday", Days: weekdays, Time: clockText(22, 0), TimeOffsetUtc: 1},
		OptionsMonthly: optionsMonthly{
			Time: clockText(22, 0), TimeOffsetUtc: 1, DayNumberInMonth: "Fourth", DayOfWeek: "Saturday",
			Months: months, DayOfMonth: 1,
		},
		OptionsPeriodically:  optionsPeriodically{Kind: "Hours", FullPeriod: 1, Schedule: allHours(ones)},
		OptionsContinuous:    optionsContinuous{Schedule: allHours(ones)},
		OptionsBackupWindow:  optionsBackupWindow{TimePeriods: allHours(ones)},
		OptionsDaisyChaining: optionsDaisyChaining{},
	}
	if !s.configured {
		return &jobScheduleOptions{Standart: so}
	}
	switch s.kind {
	case schedDaily:
		so.OptionsDaily = optionsDaily{Enabled: true, Kind: "Everyday", Days: weekdays, Time: clockText(s.hour, s.minute), TimeOffsetUtc: 1}
	case schedWeekdays:
		so.OptionsDaily = optionsDaily{Enabled: true, Kind: "WeekDays", Days: weekdays[1:6], Time: clockText(s.hour, s.minute), TimeOffsetUtc: 1}
	case schedSelected:
		var days []string
		for _, d := range s.days {
			days = append(days, weekdays[d])
		}
		so.OptionsDaily = optionsDaily{Enabled: true, Kind: "SelectedDays", Days: days, Time: clockText(s.hour, s.minute), TimeOffsetUtc: 1}
	case schedMonthly:
		so.OptionsDaily.Enabled = false
		so.OptionsMonthly.Enabled = true
		so.OptionsMonthly.Time = clockText(s.hour, s.minute)
		so.OptionsMonthly.DayNumberInMonth = s.nthWeek
		so.OptionsMonthly.DayOfWeek = weekdays[s.monthDay]
	case schedPeriodic:
		so.OptionsPeriodically.Enabled = true
		so.OptionsPeriodically.FullPeriod = s.periodHours
	case schedContinuous:
		so.OptionsContinuous.Enabled = true
	}
	if s.window {
		// 1 = backups permitted in that hour; working hours on weekdays are blocked.
		blocked := "1,1,1,1,1,1,1,1,0,0,0,0,0,0,0,0,0,0,1,1,1,1,1,1"
		tp := allHours(ones)
		for i := 1; i <= 5; i++ {
			tp.Days[i].Hours = blocked
		}
		so.OptionsBackupWindow = optionsBackupWindow{Enabled: true, TimePeriods: tp}
		if s.kind == schedContinuous {
			so.OptionsContinuous.Schedule = tp
		} else {
			so.OptionsPeriodically.Schedule = tp
		}
	}
	return &jobScheduleOptions{Standart: so}
}

func (b base) serverRef(s *backupServer) ref {
	return ref{
		UID: "urn:veeam:BackupServer:" + s.id, Name: s.name, Href: b.url("/backupServers/" + s.id), Type: "BackupServerReference",
		Links: []link{
			{Rel: "Alternate", Type: "BackupServer", Href: b.url("/backupServers/" + s.id + "?format=Entity"), Name: s.name},
			{Rel: "Down", Type: "JobReferenceList", Href: b.url("/backupServers/" + s.id + "/jobs")},
		},
	}
}

func (b base) serverEntity(s *backupServer) backupServerBody {
	p := b.url("/backupServers/" + s.id)
	return backupServerBody{
		Type: "BackupServer", Href: p + "?format=Entity", Name: s.name, UID: "urn:veeam:BackupServer:" + s.id,
		Links: []link{
			{Rel: "Alternate", Type: "BackupServerReference", Href: p, Name: s.name},
			{Rel: "Edit", Type: "BackupServerReference", Href: p},
			{Rel: "Delete", Type: "BackupServerReference", Href: p},
			{Rel: "Down", Type: "JobReferenceList", Href: p + "/jobs"},
			{Rel: "Down", Type: "ManagedServerReferenceList", Href: p + "/managedServers"},
			{Rel: "Down", Type: "RepositoryReferenceList", Href: p + "/repositories"},
			{Rel: "Down", Type: "CredentialsList", Href: p + "/credentials"},
			{Rel: "Create", Href: p + "/credentials?action=create"},
			{Rel: "Down", Type: "PasswordKeyList", Href: p + "/passwords"},
			{Rel: "Create", Href: p + "/passwords?action=create"},
			{Rel: "VeeamZip", Href: p + "?action=veeamzip"},
			{Rel: "QuickBackup", Href: p + "?action=quickbackup"},
			{Rel: "Start", Href: p + "?action=collect"},
		},
		Description: s.desc, Port: 9392, Version: s.version, WcfPort: 9405,
	}
}

// logonLinks is the v1_7 link set of a LogonSession, in documented order.
var logonLinks = []struct{ rel, typ, path string }{
	{"Up", "EnterpriseManager", "/"},
	{"Down", "BackupServerReferenceList", "/backupServers"},
	{"Down", "ManagedServerReferenceList", "/managedServers"},
	{"Down", "JobReferenceList", "/jobs"},
	{"Down", "FailoverPlanReferenceList", "/failoverPlans"},
	{"Down", "HierarchyRootReferenceList", "/hierarchyRoots"},
	{"Down", "RepositoryReferenceList", "/repositories"},
	{"Down", "BackupReferenceList", "/backups"},
	{"Down", "RestorePointReferenceList", "/restorePoints"},
	{"Down", "VmRestorePointReferenceList", "/vmRestorePoints"},
	{"Down", "VAppRestorePointReferenceList", "/vAppRestorePoints"},
	{"Down", "ReplicaReferenceList", "/replicas"},
	{"Down", "VmReplicaPointReferenceList", "/vmReplicaPoints"},
	{"Down", "CatalogVmReferenceList", "/catalog/vms"},
	{"Down", "BackupJobSessionReferenceList", "/backupSessions"},
	{"Down", "RestoreSessionReferenceList", "/restoreSessions"},
	{"Down", "ReplicaJobSessionReferenceList", "/replicaSessions"},
	{"Down", "BackupTaskSessionReferenceList", "/backupTaskSessions"},
	{"Down", "ReplicaTaskSessionReferenceList", "/replicaTaskSessions"},
	{"Down", "EnterpriseSecuritySettings", "/security"},
	{"Down", "WanAcceleratorReferenceList", "/wanAccelerators"},
	{"Down", "BackupFileReferenceList", "/backupFiles"},
	{"Down", "ExternalRepositoryReferenceList", "/externalRepositories"},
	{"Down", "TaskList", "/tasks"},
	{"Down", "QueryService", "/querySvc"},
	{"Down", "LookupService", "/lookupSvc"},
	{"Down", "Report", "/reports/summary"},
	{"Down", "BackupServerList", "/backupServers?format=Entity"},
	{"Down", "ManagedServerList", "/managedServers?format=Entity"},
	{"Create", "", "/backupServers?action=create"},
	{"Down", "JobList", "/jobs?format=Entity"},
	{"Down", "FailoverPlanList", "/failoverPlans?format=Entity"},
	{"Down", "HierarchyRootList", "/hierarchyRoots?format=Entity"},
	{"Down", "RepositoryList", "/repositories?format=Entity"},
	{"Down", "BackupList", "/backups?format=Entity"},
	{"Down", "RestorePointList", "/restorePoints?format=Entity"},
	{"Down", "VmRestorePointList", "/vmRestorePoints?format=Entity"},
	{"Down", "VAppRestorePointList", "/vAppRestorePoints?format=Entity"},
	{"Down", "ReplicaList", "/replicas?format=Entity"},
	{"Down", "VmReplicaPointList", "/vmReplicaPoints?format=Entity"},
	{"Down", "CatalogVmList", "/catalog/vms?format=Entity"},
	{"Down", "BackupJobSessionList", "/backupSessions?format=Entity"},
	{"Down", "RestoreSessionList", "/restoreSessions?format=Entity"},
	{"Down", "ReplicaJobSessionList", "/replicaSessions?format=Entity"},
	{"Down", "BackupTaskSessionList", "/backupTaskSessions?format=Entity"},
	{"Down", "ReplicaTaskSessionList", "/replicaTaskSessions?format=Entity"},
	{"Down", "WanAcceleratorList", "/wanAccelerators?format=Entity"},
	{"Down", "VCloudService", "/vCloud"},
	{"Down", "BackupFileList", "/backupFiles?format=Entity"},
	{"Down", "AgentsService", "/agents"},
	{"Down", "VSphereSelfService", "/selfService/vSphere"},
	{"Down", "ExternalRepositoryList", "/externalRepositories?format=Entity"},
	{"Down", "NasService", "/nas"},
}

func (b base) logonBody(l *logon) logonSessionBody {
	links := make([]link, 0, len(logonLinks)+1)
	for _, ll := range logonLinks {
		lk := link{Rel: ll.rel, Type: ll.typ, Href: b.url(ll.path)}
		if ll.typ == "Report" {
			lk.Name = "Summary"
		}
		links = append(links, lk)
	}
	links = append(links, link{Rel: "Delete", Href: b.url("/logonSessions/" + l.id)})
	return logonSessionBody{
		Type: "LogonSession", Href: b.url("/logonSessions/" + l.id), Links: links,
		UserName: l.userName, SessionID: l.id,
	}
}

func (b base) agentsBody() agentsService {
	kinds := []struct{ path, refType, listType string }{
		{"jobs", "JobReferenceList", "JobList"},
		{"agentRestorePoints", "AgentRestorePointReferenceList", "AgentRestorePointList"},
		{"backups", "BackupReferenceList", "BackupList"},
		{"restorePoints", "RestorePointReferenceList", "RestorePointList"},
		{"backupFiles", "RestorePointReferenceList", "RestorePointList"},
		{"backupSessions", "BackupJobSessionReferenceList", "BackupJobSessionList"},
		{"protectionGroups", "AgentProtectionGroupReferenceList", "AgentProtectionGroupList"},
		{"discoveredComputers", "DiscoveredComputerReferenceList", "DiscoveredComputerList"},
	}
	a := agentsService{Href: b.url("/agents"), Type: "AgentsService"}
	for _, k := range kinds {
		a.Links = append(a.Links, link{Rel: "Down", Type: k.refType, Href: b.url("/agents/" + k.path)})
	}
	for _, k := range kinds {
		a.Links = append(a.Links, link{Rel: "Down", Type: k.listType, Href: b.url("/agents/" + k.path + "?format=Entity")})
	}
	return a
}

func (b base) entryPoint() enterpriseManager {
	em := enterpriseManager{Links: []link{
		{Rel: "Down", Type: "LogonSessionList", Href: b.url("/logonSessions")},
		{Rel: "Create", Type: "LogonSession", Href: b.url("/sessionMngr/?v=latest")},
	}}
	for _, v := range supportedVersions {
		em.SupportedVersions = append(em.SupportedVersions, supportedVersion{
			Name:  v,
			Links: []link{{Rel: "Create", Type: "LogonSession", Href: b.url("/sessionMngr/?v=" + v)}},
		})
	}
	return em
}

var supportedVersions = []string{"v1_5", "v1_6", "v1_7"}
