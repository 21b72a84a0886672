package emclient

import (
	"encoding/xml"
	"time"
)

// Namespace is the default XML namespace of every Enterprise Manager document.
const Namespace = "http://www.veeam.com/ent/v1.0"

// The Go types below follow the EM RestAPI.xsd and the 12/13 documentation element
// for element. Root XMLName tags carry no namespace on purpose: encoding/xml then
// matches the element in any namespace, so a server that omits or changes the
// default namespace still decodes. Fields appear in the documented order because
// encoding/xml writes them in field order (emsim relies on that).

// Link is a LinkType: a reference plus its relation to the enclosing resource.
type Link struct {
	Rel  string `xml:"Rel,attr"`
	Type string `xml:"Type,attr,omitempty"`
	Href string `xml:"Href,attr"`
	Name string `xml:"Name,attr,omitempty"`
}

// Links is the Links element every resource may carry.
type Links []Link

// Find returns the first link with the given Rel and, when typ is not empty, Type.
func (ls Links) Find(rel, typ string) (Link, bool) {
	for _, l := range ls {
		if l.Rel == rel && (typ == "" || l.Type == typ) {
			return l, true
		}
	}
	return Link{}, false
}

// Has reports whether a link with the given Rel exists.
func (ls Links) Has(rel string) bool {
	_, ok := ls.Find(rel, "")
	return ok
}

// Ref is an EntityReferenceType (Ref and EntityRef elements).
type Ref struct {
	UID   string `xml:"UID,attr"`
	Name  string `xml:"Name,attr"`
	Href  string `xml:"Href,attr"`
	Type  string `xml:"Type,attr"`
	Links Links  `xml:"Links>Link"`
}

// EntityReferences is the reference form of a collection.
type EntityReferences struct {
	XMLName xml.Name `xml:"EntityReferences"`
	Refs    []Ref    `xml:"Ref"`
}

// EntityRef is the reference form of a single entity.
type EntityRef struct {
	XMLName xml.Name `xml:"EntityRef"`
	Ref
}

// EnterpriseManager is the entry point answered by GET /api/.
type EnterpriseManager struct {
	XMLName           xml.Name           `xml:"EnterpriseManager"`
	Links             Links              `xml:"Links>Link"`
	SupportedVersions []SupportedVersion `xml:"SupportedVersions>SupportedVersion"`
}

// SupportedVersion names a REST API version with its logon link.
type SupportedVersion struct {
	Name  string `xml:"Name,attr"`
	Links Links  `xml:"Links>Link"`
}

// LogonSession is the body of a successful logon.
type LogonSession struct {
	XMLName   xml.Name `xml:"LogonSession"`
	Type      string   `xml:"Type,attr,omitempty"`
	Href      string   `xml:"Href,attr"`
	Links     Links    `xml:"Links>Link"`
	UserName  string   `xml:"UserName"`
	SessionID string   `xml:"SessionId"`
}

// LogonSessions is GET /api/logonSessions.
type LogonSessions struct {
	XMLName  xml.Name       `xml:"LogonSessions"`
	Sessions []LogonSession `xml:"LogonSession"`
}

// AgentsService is GET /api/agents.
type AgentsService struct {
	XMLName xml.Name `xml:"Agents"`
	Href    string   `xml:"Href,attr"`
	Type    string   `xml:"Type,attr,omitempty"`
	Links   Links    `xml:"Links>Link"`
}

// AgentBackupJob is a Veeam Agent backup job entity.
type AgentBackupJob struct {
	XMLName            xml.Name            `xml:"AgentBackupJob"`
	Type               string              `xml:"Type,attr,omitempty"`
	Href               string              `xml:"Href,attr"`
	Name               string              `xml:"Name,attr"`
	UID                string              `xml:"UID,attr"`
	Links              Links               `xml:"Links>Link"`
	JobType            string              `xml:"JobType"`
	Platform           string              `xml:"Platform"`
	Description        string              `xml:"Description"`
	ScheduleConfigured bool                `xml:"ScheduleConfigured"`
	ScheduleEnabled    bool                `xml:"ScheduleEnabled"`
	NextRun            *Time               `xml:"NextRun,omitempty"`
	JobScheduleOptions *JobScheduleOptions `xml:"JobScheduleOptions,omitempty"`
	JobInfo            *AgentJobInfo       `xml:"JobInfo,omitempty"`
}

// AgentBackupJobs is the entity collection (GET /api/agents/jobs?format=Entity and
// the Entities element of a query result).
type AgentBackupJobs struct {
	XMLName xml.Name         `xml:"AgentBackupJobs"`
	Jobs    []AgentBackupJob `xml:"AgentBackupJob"`
}

// JobScheduleOptions wraps the schedule; EM 12/13 put every option under Standart (sic).
type JobScheduleOptions struct {
	Standart *ScheduleOptions `xml:"Standart,omitempty"`
}

// ScheduleOptions is ScheduleOptionsInfoType.
type ScheduleOptions struct {
	RetryOptions                      *RetryOptions         `xml:"RetryOptions,omitempty"`
	WaitForBackupCompletion           bool                  `xml:"WaitForBackupCompletion"`
	BackupCompetitionWaitingPeriodMin int                   `xml:"BackupCompetitionWaitingPeriodMin"`
	OptionsDaily                      *OptionsDaily         `xml:"OptionsDaily,omitempty"`
	OptionsMonthly                    *OptionsMonthly       `xml:"OptionsMonthly,omitempty"`
	OptionsPeriodically               *OptionsPeriodically  `xml:"OptionsPeriodically,omitempty"`
	OptionsContinuous                 *OptionsContinuous    `xml:"OptionsContinuous,omitempty"`
	OptionsBackupWindow               *OptionsBackupWindow  `xml:"OptionsBackupWindow,omitempty"`
	OptionsDaisyChaining              *OptionsDaisyChaining `xml:"OptionsDaisyChaining,omitempty"`
}

// RetryOptions is JobScheduleRetryOptionsType. RetryTimeout is in minutes.
type RetryOptions struct {
	RetryTimes     int  `xml:"RetryTimes"`
	RetryTimeout   int  `xml:"RetryTimeout"`
	RetrySpecified bool `xml:"RetrySpecified"`
}

// OptionsDaily is JobScheduleDailyOptionsType. Kind is Everyday, WeekDays or SelectedDays.
type OptionsDaily struct {
	Enabled       bool      `xml:"Enabled,attr"`
	Kind          string    `xml:"Kind"`
	Days          []string  `xml:"Days"`
	Time          TimeOfDay `xml:"Time"`
	TimeOffsetUtc int       `xml:"TimeOffsetUtc"`
}

// OptionsMonthly is JobScheduleMonthlyOptionsType.
type OptionsMonthly struct {
	Enabled          bool      `xml:"Enabled,attr"`
	Time             TimeOfDay `xml:"Time"`
	TimeOffsetUtc    int       `xml:"TimeOffsetUtc"`
	DayNumberInMonth string    `xml:"DayNumberInMonth"`
	DayOfWeek        string    `xml:"DayOfWeek"`
	Months           []string  `xml:"Months"`
	DayOfMonth       int       `xml:"DayOfMonth"`
}

// OptionsPeriodically is JobSchedulePeriodicallyOptionsType. Kind is Hours or Minutes.
type OptionsPeriodically struct {
	Enabled    bool        `xml:"Enabled,attr"`
	Kind       string      `xml:"Kind"`
	FullPeriod int         `xml:"FullPeriod"`
	Schedule   TimePeriods `xml:"Schedule"`
}

// OptionsContinuous is JobScheduleContinuousOptionsType.
type OptionsContinuous struct {
	Enabled  bool        `xml:"Enabled,attr"`
	Schedule TimePeriods `xml:"Schedule"`
}

// OptionsBackupWindow is JobScheduleBackupWindowOptionsType.
type OptionsBackupWindow struct {
	Enabled     bool        `xml:"Enabled,attr"`
	TimePeriods TimePeriods `xml:"TimePeriods"`
}

// OptionsDaisyChaining is JobScheduleDaisyChainingOptionsType.
type OptionsDaisyChaining struct {
	Enabled        bool   `xml:"Enabled,attr"`
	PreviousJobUID string `xml:"PreviousJobUid"`
}

// TimePeriods is TimePeriodsType: one Day element per weekday.
type TimePeriods struct {
	Days []DayHours `xml:"Day"`
}

// DayHours holds 24 comma-separated 0/1 flags, one per hour of the named weekday.
type DayHours struct {
	Name  string `xml:"Name,attr"`
	Hours string `xml:",chardata"`
}

// AgentJobInfo is JobInfo of an agent job: unlike VM jobs there is no BackupJobInfo wrapper.
type AgentJobInfo struct {
	Includes               []ObjectInAgentBackupJob `xml:"Includes>ObjectInAgentBackupJob"`
	GuestProcessingOptions *GuestProcessingOptions  `xml:"GuestProcessingOptions,omitempty"`
	GfsRetentionPolicy     *GfsRetentionPolicy      `xml:"GfsRetentionPolicy,omitempty"`
	SimpleRetentionPolicy  *SimpleRetentionPolicy   `xml:"SimpleRetentionPolicy,omitempty"`
}

// ObjectInAgentBackupJob is a protected computer or protection group of an agent job.
type ObjectInAgentBackupJob struct {
	XMLName                xml.Name                `xml:"ObjectInAgentBackupJob"`
	Type                   string                  `xml:"Type,attr,omitempty"`
	Href                   string                  `xml:"Href,attr"`
	ObjectInJobID          string                  `xml:"ObjectInJobId"`
	HierarchyObjRef        string                  `xml:"HierarchyObjRef,omitempty"`
	Name                   string                  `xml:"Name"`
	DisplayName            string                  `xml:"DisplayName"`
	GuestProcessingOptions *GuestProcessingOptions `xml:"GuestProcessingOptions,omitempty"`
}

// ObjectsInAgentBackupJob is GET /api/agents/jobs/{id}/includes.
type ObjectsInAgentBackupJob struct {
	XMLName xml.Name                 `xml:"ObjectsInAgentBackupJob"`
	Objects []ObjectInAgentBackupJob `xml:"ObjectInAgentBackupJob"`
}

// GuestProcessingOptions of a job or of one of its objects.
type GuestProcessingOptions struct {
	VssSnapshotOptions            *VssSnapshotOptions     `xml:"VssSnapshotOptions,omitempty"`
	WindowsGuestFSIndexingOptions *GuestFSIndexingOptions `xml:"WindowsGuestFSIndexingOptions,omitempty"`
	LinuxGuestFSIndexingOptions   *GuestFSIndexingOptions `xml:"LinuxGuestFSIndexingOptions,omitempty"`
	SqlBackupOptions              *SqlBackupOptions       `xml:"SqlBackupOptions,omitempty"`
	WindowsCredentialsID          string                  `xml:"WindowsCredentialsId"`
	LinuxCredentialsID            string                  `xml:"LinuxCredentialsId"`
}

// VssSnapshotOptions: VssSnapshotMode is RequireSuccess, IgnoreFailures or Disabled.
type VssSnapshotOptions struct {
	VssSnapshotMode string `xml:"VssSnapshotMode"`
	IsCopyOnly      bool   `xml:"IsCopyOnly"`
}

// GuestFSIndexingOptions: FileSystemIndexingMode is EveryFolders, ExceptSpecifiedFolders,
// SpecifiedFolders or Disabled.
type GuestFSIndexingOptions struct {
	FileSystemIndexingMode  string `xml:"FileSystemIndexingMode"`
	IncludedIndexingFolders Paths  `xml:"IncludedIndexingFolders"`
	ExcludedIndexingFolders Paths  `xml:"ExcludedIndexingFolders"`
}

// Paths is a list of Path elements; EM writes the empty list as an empty element.
type Paths struct {
	Paths []string `xml:"Path"`
}

// SqlBackupOptions controls SQL Server transaction log processing.
type SqlBackupOptions struct {
	TransactionLogsProcessing string `xml:"TransactionLogsProcessing"`
	BackupLogsFrequencyMin    int    `xml:"BackupLogsFrequencyMin"`
	UseDbBackupRetention      bool   `xml:"UseDbBackupRetention"`
	RetainDays                int    `xml:"RetainDays"`
}

// GfsRetentionPolicy keeps weekly, monthly and yearly full backups.
type GfsRetentionPolicy struct {
	Enabled bool       `xml:"Enabled,attr"`
	Weekly  *GfsPeriod `xml:"Weekly,omitempty"`
	Monthly *GfsPeriod `xml:"Monthly,omitempty"`
	Yearly  *GfsPeriod `xml:"Yearly,omitempty"`
}

// GfsPeriod is one GFS level; only the Selected* field of its level is set.
type GfsPeriod struct {
	Enabled         bool   `xml:"Enabled"`
	RetentionPeriod int    `xml:"RetentionPeriod"`
	SelectedDay     string `xml:"SelectedDay,omitempty"`
	SelectedWeek    string `xml:"SelectedWeek,omitempty"`
	SelectedMonth   string `xml:"SelectedMonth,omitempty"`
}

// SimpleRetentionPolicy: RetainLimitType is Cycles (restore points) or Days.
type SimpleRetentionPolicy struct {
	RetainCycles     int    `xml:"RetainCycles"`
	RetainDaysToKeep int    `xml:"RetainDaysToKeep"`
	RetainLimitType  string `xml:"RetainLimitType"`
}

// BackupJobSession is a job session entity; agent jobs have AgentBackup parent
// sessions and AgentManagement per-computer child sessions.
type BackupJobSession struct {
	XMLName         xml.Name `xml:"BackupJobSession"`
	Type            string   `xml:"Type,attr,omitempty"`
	Href            string   `xml:"Href,attr"`
	Name            string   `xml:"Name,attr"`
	UID             string   `xml:"UID,attr"`
	Links           Links    `xml:"Links>Link"`
	JobUID          string   `xml:"JobUid"`
	JobName         string   `xml:"JobName"`
	JobType         string   `xml:"JobType"`
	CreationTimeUTC Time     `xml:"CreationTimeUTC"`
	EndTimeUTC      *Time    `xml:"EndTimeUTC,omitempty"`
	State           string   `xml:"State"`
	Result          string   `xml:"Result"`
	Progress        int      `xml:"Progress"`
	FailureMessage  string   `xml:"FailureMessage,omitempty"`
	IsRetry         bool     `xml:"IsRetry"`
}

// BackupJobSessions is the entity collection of sessions.
type BackupJobSessions struct {
	XMLName  xml.Name           `xml:"BackupJobSessions"`
	Sessions []BackupJobSession `xml:"BackupJobSession"`
}

// BackupServer is a backup server entity.
type BackupServer struct {
	XMLName                  xml.Name `xml:"BackupServer"`
	Type                     string   `xml:"Type,attr,omitempty"`
	Href                     string   `xml:"Href,attr"`
	Name                     string   `xml:"Name,attr"`
	UID                      string   `xml:"UID,attr"`
	Links                    Links    `xml:"Links>Link"`
	Description              string   `xml:"Description"`
	Port                     int      `xml:"Port"`
	Version                  string   `xml:"Version"`
	WcfPort                  int      `xml:"WcfPort,omitempty"`
	VbrCertificateThumbprint string   `xml:"VbrCertificateThumbprint,omitempty"`
}

// BackupServers is the entity collection of backup servers.
type BackupServers struct {
	XMLName xml.Name       `xml:"BackupServers"`
	Servers []BackupServer `xml:"BackupServer"`
}

// AgentProtectionGroup is a protection group of agent-managed computers.
type AgentProtectionGroup struct {
	XMLName               xml.Name `xml:"AgentProtectionGroup"`
	Type                  string   `xml:"Type,attr,omitempty"`
	Href                  string   `xml:"Href,attr"`
	Name                  string   `xml:"Name,attr"`
	UID                   string   `xml:"UID,attr"`
	Links                 Links    `xml:"Links>Link"`
	RescanScheduleEnabled bool     `xml:"RescanScheduleEnabled"`
	HierarchyObjRef       string   `xml:"HierarchyObjRef"`
}

// DiscoveredComputer is a computer found by a protection group rescan.
type DiscoveredComputer struct {
	XMLName         xml.Name `xml:"DiscoveredComputer"`
	Type            string   `xml:"Type,attr,omitempty"`
	Href            string   `xml:"Href,attr"`
	Name            string   `xml:"Name,attr"`
	UID             string   `xml:"UID,attr"`
	Links           Links    `xml:"Links>Link"`
	HostStatus      string   `xml:"HostStatus"`
	AgentVersion    string   `xml:"AgentVersion"`
	AgentStatus     string   `xml:"AgentStatus"`
	OsVersion       string   `xml:"OsVersion"`
	IPAddress       string   `xml:"IpAddress"`
	HierarchyObjRef string   `xml:"HierarchyObjRef"`
}

// Task is the asynchronous operation EM returns with 202 Accepted.
type Task struct {
	XMLName   xml.Name    `xml:"Task"`
	Type      string      `xml:"Type,attr,omitempty"`
	Href      string      `xml:"Href,attr"`
	Links     Links       `xml:"Links>Link"`
	TaskID    string      `xml:"TaskId"`
	State     string      `xml:"State"`
	Operation string      `xml:"Operation"`
	Result    *TaskResult `xml:"Result,omitempty"`

	// SentAt is set by Client.JobAction to the client's clock just before the
	// action was sent; it is not part of EM's document. FollowAction uses it to
	// find the session an action created when the task itself is gone. Callers
	// that keep only the task id can rebuild a Task with TaskID, Operation and
	// SentAt.
	SentAt time.Time `xml:"-"`
	// logon is the client's logon generation the task was created in (0: unknown).
	logon int64
}

// Task states.
const (
	TaskRunning           = "Running"
	TaskOperationFinished = "OperationFinished"
	TaskFinished          = "Finished"
)

// Finished reports whether the task reached its final state.
func (t *Task) Finished() bool { return t.State == TaskFinished }

// TaskResult is TaskResultInfoType.
type TaskResult struct {
	Success            bool   `xml:"Success,attr"`
	CredentialsNeeded  bool   `xml:"CredentialsNeeded,attr,omitempty"`
	ConfirmationNeeded bool   `xml:"ConfirmationNeeded,attr,omitempty"`
	Message            string `xml:"Message"`
}

// Tasks is GET /api/tasks.
type Tasks struct {
	XMLName xml.Name `xml:"Tasks"`
	Tasks   []Task   `xml:"Task"`
}

// QueryResult is the answer of the query service. Exactly one of Refs, Entities
// or Resources is set.
type QueryResult struct {
	XMLName    xml.Name        `xml:"QueryResult"`
	Refs       *QueryRefs      `xml:"Refs,omitempty"`
	Entities   *QueryEntities  `xml:"Entities,omitempty"`
	Resources  *QueryResources `xml:"Resources,omitempty"`
	Links      Links           `xml:"Links>Link,omitempty"`
	PagingInfo PagingInfo      `xml:"PagingInfo"`
}

// QueryRefs holds references.
type QueryRefs struct {
	Refs []Ref `xml:"Ref"`
}

// QueryEntities holds the entity collections the portal asks for; other query
// types decode into an empty value rather than failing.
type QueryEntities struct {
	AgentBackupJobs       *AgentBackupJobs       `xml:"AgentBackupJobs,omitempty"`
	BackupJobSessions     *BackupJobSessions     `xml:"BackupJobSessions,omitempty"`
	BackupServers         *BackupServers         `xml:"BackupServers,omitempty"`
	AgentProtectionGroups *AgentProtectionGroups `xml:"AgentProtectionGroups,omitempty"`
	DiscoveredComputers   *DiscoveredComputers   `xml:"DiscoveredComputers,omitempty"`
	BackupTaskSessions    *BackupTaskSessions    `xml:"BackupTaskSessions,omitempty"`
}

// QueryResources holds non-key resources such as tasks.
type QueryResources struct {
	Tasks *Tasks `xml:"Tasks,omitempty"`
}

// AgentProtectionGroups is the entity collection of protection groups.
type AgentProtectionGroups struct {
	XMLName xml.Name               `xml:"AgentProtectionGroups"`
	Groups  []AgentProtectionGroup `xml:"AgentProtectionGroup"`
}

// DiscoveredComputers is the entity collection of discovered computers.
type DiscoveredComputers struct {
	XMLName   xml.Name             `xml:"DiscoveredComputers"`
	Computers []DiscoveredComputer `xml:"DiscoveredComputer"`
}

// BackupTaskSession is one machine's part of a job session.
type BackupTaskSession struct {
	XMLName         xml.Name `xml:"BackupTaskSession"`
	Type            string   `xml:"Type,attr,omitempty"`
	Href            string   `xml:"Href,attr"`
	Name            string   `xml:"Name,attr"`
	VMDisplayName   string   `xml:"VmDisplayName,attr,omitempty"`
	UID             string   `xml:"UID,attr"`
	Links           Links    `xml:"Links>Link"`
	JobSessionUID   string   `xml:"JobSessionUid"`
	CreationTimeUTC Time     `xml:"CreationTimeUTC"`
	EndTimeUTC      *Time    `xml:"EndTimeUTC,omitempty"`
	State           string   `xml:"State"`
	Result          string   `xml:"Result"`
	Reason          string   `xml:"Reason"`
	TotalSize       int64    `xml:"TotalSize"`
	VMUID           string   `xml:"VmUid"`
}

// BackupTaskSessions is the entity collection of task sessions.
type BackupTaskSessions struct {
	XMLName  xml.Name            `xml:"BackupTaskSessions"`
	Sessions []BackupTaskSession `xml:"BackupTaskSession"`
}

// PagingInfo describes the page of a query result and links to its neighbours.
type PagingInfo struct {
	PagesCount int   `xml:"PagesCount,attr"`
	PageSize   int   `xml:"PageSize,attr"`
	PageNum    int   `xml:"PageNum,attr"`
	Links      Links `xml:"Links>Link"`
}

// ErrorBody is EM's Error element (ErrorType).
type ErrorBody struct {
	XMLName                     xml.Name `xml:"Error"`
	Message                     string   `xml:"Message,attr"`
	StatusCode                  int      `xml:"StatusCode,attr"`
	Status                      string   `xml:"Status,attr,omitempty"`
	FirstChanceExceptionMessage string   `xml:"FirstChanceExceptionMessage,omitempty"`
	StackTrace                  string   `xml:"StackTrace,omitempty"`
}
