package emsim

import (
	"encoding/xml"
	"time"
)

// The wire types below are emsim's own copy of the EM schema (RestAPI.xsd plus the
// 12/13 documentation). emsim deliberately does not import emclient: emclient's
// tests run against emsim, and an import in the other direction would make any
// in-package emclient test an import cycle. The structure test in this package
// checks these types against the documented example bodies.
//
// Root XMLName tags carry no namespace; writeXML adds the default namespace on the
// root. Fields are in documented order because encoding/xml writes field order.

const (
	namespace   = "http://www.veeam.com/ent/v1.0"
	nsXSD       = "http://www.w3.org/2001/XMLSchema"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	contentType = "application/xml; charset=utf-8"
)

type link struct {
	Rel  string `xml:"Rel,attr"`
	Type string `xml:"Type,attr,omitempty"`
	Href string `xml:"Href,attr"`
	Name string `xml:"Name,attr,omitempty"`
}

type ref struct {
	UID   string `xml:"UID,attr"`
	Name  string `xml:"Name,attr"`
	Href  string `xml:"Href,attr"`
	Type  string `xml:"Type,attr"`
	Links []link `xml:"Links>Link"`
}

type entityReferences struct {
	XMLName xml.Name `xml:"EntityReferences"`
	Refs    []ref    `xml:"Ref"`
}

type entityRef struct {
	XMLName xml.Name `xml:"EntityRef"`
	ref
}

type enterpriseManager struct {
	XMLName           xml.Name           `xml:"EnterpriseManager"`
	Links             []link             `xml:"Links>Link"`
	SupportedVersions []supportedVersion `xml:"SupportedVersions>SupportedVersion"`
}

type supportedVersion struct {
	Name  string `xml:"Name,attr"`
	Links []link `xml:"Links>Link"`
}

type logonSessionBody struct {
	XMLName   xml.Name `xml:"LogonSession"`
	Type      string   `xml:"Type,attr"`
	Href      string   `xml:"Href,attr"`
	Links     []link   `xml:"Links>Link"`
	UserName  string   `xml:"UserName"`
	SessionID string   `xml:"SessionId"`
}

type logonSessionsBody struct {
	XMLName  xml.Name           `xml:"LogonSessions"`
	Sessions []logonSessionBody `xml:"LogonSession"`
}

type agentsService struct {
	XMLName xml.Name `xml:"Agents"`
	Href    string   `xml:"Href,attr"`
	Type    string   `xml:"Type,attr"`
	Links   []link   `xml:"Links>Link"`
}

type agentBackupJob struct {
	XMLName            xml.Name            `xml:"AgentBackupJob"`
	Type               string              `xml:"Type,attr"`
	Href               string              `xml:"Href,attr"`
	Name               string              `xml:"Name,attr"`
	UID                string              `xml:"UID,attr"`
	Links              []link              `xml:"Links>Link"`
	JobType            string              `xml:"JobType"`
	Platform           string              `xml:"Platform"`
	Description        string              `xml:"Description"`
	ScheduleConfigured bool                `xml:"ScheduleConfigured"`
	ScheduleEnabled    bool                `xml:"ScheduleEnabled"`
	NextRun            *xmlTime            `xml:"NextRun,omitempty"`
	JobScheduleOptions *jobScheduleOptions `xml:"JobScheduleOptions"`
	JobInfo            *agentJobInfo       `xml:"JobInfo"`
}

type agentBackupJobs struct {
	XMLName xml.Name         `xml:"AgentBackupJobs"`
	Jobs    []agentBackupJob `xml:"AgentBackupJob"`
}

type jobScheduleOptions struct {
	Standart scheduleOptions `xml:"Standart"`
}

type scheduleOptions struct {
	RetryOptions                      retryOptions         `xml:"RetryOptions"`
	WaitForBackupCompletion           bool                 `xml:"WaitForBackupCompletion"`
	BackupCompetitionWaitingPeriodMin int                  `xml:"BackupCompetitionWaitingPeriodMin"`
	OptionsDaily                      optionsDaily         `xml:"OptionsDaily"`
	OptionsMonthly                    optionsMonthly       `xml:"OptionsMonthly"`
	OptionsPeriodically               optionsPeriodically  `xml:"OptionsPeriodically"`
	OptionsContinuous                 optionsContinuous    `xml:"OptionsContinuous"`
	OptionsBackupWindow               optionsBackupWindow  `xml:"OptionsBackupWindow"`
	OptionsDaisyChaining              optionsDaisyChaining `xml:"OptionsDaisyChaining"`
}

type retryOptions struct {
	RetryTimes     int  `xml:"RetryTimes"`
	RetryTimeout   int  `xml:"RetryTimeout"`
	RetrySpecified bool `xml:"RetrySpecified"`
}

type optionsDaily struct {
	Enabled       bool     `xml:"Enabled,attr"`
	Kind          string   `xml:"Kind"`
	Days          []string `xml:"Days"`
	Time          string   `xml:"Time"`
	TimeOffsetUtc int      `xml:"TimeOffsetUtc"`
}

type optionsMonthly struct {
	Enabled          bool     `xml:"Enabled,attr"`
	Time             string   `xml:"Time"`
	TimeOffsetUtc    int      `xml:"TimeOffsetUtc"`
	DayNumberInMonth string   `xml:"DayNumberInMonth"`
	DayOfWeek        string   `xml:"DayOfWeek"`
	Months           []string `xml:"Months"`
	DayOfMonth       int      `xml:"DayOfMonth"`
}

type optionsPeriodically struct {
	Enabled    bool        `xml:"Enabled,attr"`
	Kind       string      `xml:"Kind"`
	FullPeriod int         `xml:"FullPeriod"`
	Schedule   timePeriods `xml:"Schedule"`
}

type optionsContinuous struct {
	Enabled  bool        `xml:"Enabled,attr"`
	Schedule timePeriods `xml:"Schedule"`
}

type optionsBackupWindow struct {
	Enabled     bool        `xml:"Enabled,attr"`
	TimePeriods timePeriods `xml:"TimePeriods"`
}

type optionsDaisyChaining struct {
	Enabled        bool   `xml:"Enabled,attr"`
	PreviousJobUID string `xml:"PreviousJobUid"`
}

type timePeriods struct {
	Days []dayHours `xml:"Day"`
}

type dayHours struct {
	Name  string `xml:"Name,attr"`
	Hours string `xml:",chardata"`
}

type agentJobInfo struct {
	Includes               []objectInAgentBackupJob `xml:"Includes>ObjectInAgentBackupJob"`
	GuestProcessingOptions *guestProcessingOptions  `xml:"GuestProcessingOptions"`
	GfsRetentionPolicy     *gfsRetentionPolicy      `xml:"GfsRetentionPolicy"`
	SimpleRetentionPolicy  *simpleRetentionPolicy   `xml:"SimpleRetentionPolicy"`
}

type objectInAgentBackupJob struct {
	XMLName                xml.Name                `xml:"ObjectInAgentBackupJob"`
	Type                   string                  `xml:"Type,attr"`
	Href                   string                  `xml:"Href,attr"`
	ObjectInJobID          string                  `xml:"ObjectInJobId"`
	HierarchyObjRef        string                  `xml:"HierarchyObjRef"`
	Name                   string                  `xml:"Name"`
	DisplayName            string                  `xml:"DisplayName"`
	GuestProcessingOptions *guestProcessingOptions `xml:"GuestProcessingOptions"`
}

type objectsInAgentBackupJob struct {
	XMLName xml.Name                 `xml:"ObjectsInAgentBackupJob"`
	Objects []objectInAgentBackupJob `xml:"ObjectInAgentBackupJob"`
}

type guestProcessingOptions struct {
	VssSnapshotOptions            vssSnapshotOptions     `xml:"VssSnapshotOptions"`
	WindowsGuestFSIndexingOptions guestFSIndexingOptions `xml:"WindowsGuestFSIndexingOptions"`
	LinuxGuestFSIndexingOptions   guestFSIndexingOptions `xml:"LinuxGuestFSIndexingOptions"`
	SQLBackupOptions              sqlBackupOptions       `xml:"SqlBackupOptions"`
	WindowsCredentialsID          string                 `xml:"WindowsCredentialsId"`
	LinuxCredentialsID            string                 `xml:"LinuxCredentialsId"`
}

type vssSnapshotOptions struct {
	VssSnapshotMode string `xml:"VssSnapshotMode"`
	IsCopyOnly      bool   `xml:"IsCopyOnly"`
}

type guestFSIndexingOptions struct {
	FileSystemIndexingMode  string `xml:"FileSystemIndexingMode"`
	IncludedIndexingFolders paths  `xml:"IncludedIndexingFolders"`
	ExcludedIndexingFolders paths  `xml:"ExcludedIndexingFolders"`
}

type paths struct {
	Paths []string `xml:"Path"`
}

type sqlBackupOptions struct {
	TransactionLogsProcessing string `xml:"TransactionLogsProcessing"`
	BackupLogsFrequencyMin    int    `xml:"BackupLogsFrequencyMin"`
	UseDbBackupRetention      bool   `xml:"UseDbBackupRetention"`
	RetainDays                int    `xml:"RetainDays"`
}

type gfsRetentionPolicy struct {
	Enabled bool      `xml:"Enabled,attr"`
	Weekly  gfsWeekly `xml:"Weekly"`
	Monthly gfsMonth  `xml:"Monthly"`
	Yearly  gfsYearly `xml:"Yearly"`
}

type gfsWeekly struct {
	Enabled         bool   `xml:"Enabled"`
	RetentionPeriod int    `xml:"RetentionPeriod"`
	SelectedDay     string `xml:"SelectedDay"`
}

type gfsMonth struct {
	Enabled         bool   `xml:"Enabled"`
	RetentionPeriod int    `xml:"RetentionPeriod"`
	SelectedWeek    string `xml:"SelectedWeek"`
}

type gfsYearly struct {
	Enabled         bool   `xml:"Enabled"`
	RetentionPeriod int    `xml:"RetentionPeriod"`
	SelectedMonth   string `xml:"SelectedMonth"`
}

type simpleRetentionPolicy struct {
	RetainCycles     int    `xml:"RetainCycles"`
	RetainDaysToKeep int    `xml:"RetainDaysToKeep"`
	RetainLimitType  string `xml:"RetainLimitType"`
}

type backupJobSession struct {
	XMLName         xml.Name `xml:"BackupJobSession"`
	Type            string   `xml:"Type,attr"`
	Href            string   `xml:"Href,attr"`
	Name            string   `xml:"Name,attr"`
	UID             string   `xml:"UID,attr"`
	Links           []link   `xml:"Links>Link"`
	JobUID          string   `xml:"JobUid"`
	JobName         string   `xml:"JobName"`
	JobType         string   `xml:"JobType"`
	CreationTimeUTC xmlTime  `xml:"CreationTimeUTC"`
	EndTimeUTC      *xmlTime `xml:"EndTimeUTC,omitempty"`
	State           string   `xml:"State"`
	Result          string   `xml:"Result"`
	Progress        int      `xml:"Progress"`
	FailureMessage  string   `xml:"FailureMessage,omitempty"`
	IsRetry         bool     `xml:"IsRetry"`
}

type backupJobSessions struct {
	XMLName  xml.Name           `xml:"BackupJobSessions"`
	Sessions []backupJobSession `xml:"BackupJobSession"`
}

type backupServerBody struct {
	XMLName     xml.Name `xml:"BackupServer"`
	Type        string   `xml:"Type,attr"`
	Href        string   `xml:"Href,attr"`
	Name        string   `xml:"Name,attr"`
	UID         string   `xml:"UID,attr"`
	Links       []link   `xml:"Links>Link"`
	Description string   `xml:"Description"`
	Port        int      `xml:"Port"`
	Version     string   `xml:"Version"`
	WcfPort     int      `xml:"WcfPort,omitempty"`
}

type backupServersBody struct {
	XMLName xml.Name           `xml:"BackupServers"`
	Servers []backupServerBody `xml:"BackupServer"`
}

type taskBody struct {
	XMLName   xml.Name    `xml:"Task"`
	Type      string      `xml:"Type,attr"`
	Href      string      `xml:"Href,attr"`
	Links     []link      `xml:"Links>Link"`
	TaskID    string      `xml:"TaskId"`
	State     string      `xml:"State"`
	Operation string      `xml:"Operation"`
	Result    *taskResult `xml:"Result,omitempty"`
}

type taskResult struct {
	Success bool   `xml:"Success,attr"`
	Message string `xml:"Message"`
}

type tasksBody struct {
	XMLName xml.Name   `xml:"Tasks"`
	Tasks   []taskBody `xml:"Task"`
}

type queryResult struct {
	XMLName    xml.Name        `xml:"QueryResult"`
	Refs       *queryRefs      `xml:"Refs,omitempty"`
	Entities   *queryEntities  `xml:"Entities,omitempty"`
	Resources  *queryResources `xml:"Resources,omitempty"`
	PagingInfo pagingInfo      `xml:"PagingInfo"`
}

type queryRefs struct {
	Refs []ref `xml:"Ref"`
}

type queryEntities struct {
	AgentBackupJobs   *agentBackupJobs   `xml:"AgentBackupJobs,omitempty"`
	BackupJobSessions *backupJobSessions `xml:"BackupJobSessions,omitempty"`
	BackupServers     *backupServersBody `xml:"BackupServers,omitempty"`
}

type queryResources struct {
	Tasks *tasksBody `xml:"Tasks,omitempty"`
}

type pagingInfo struct {
	PagesCount int    `xml:"PagesCount,attr"`
	PageSize   int    `xml:"PageSize,attr"`
	PageNum    int    `xml:"PageNum,attr"`
	Links      []link `xml:"Links>Link"`
}

// errorBody is ErrorType. The real 9.5 error (a 500) carries the exception's
// text in FirstChanceExceptionMessage; emsim writes Message there too.
type errorBody struct {
	XMLName                     xml.Name `xml:"Error"`
	Message                     string   `xml:"Message,attr"`
	StatusCode                  int      `xml:"StatusCode,attr"`
	Status                      string   `xml:"Status,attr"`
	FirstChanceExceptionMessage string   `xml:"FirstChanceExceptionMessage,omitempty"`
}

// xmlTime writes an xs:dateTime the way EM does: UTC, "Z", up to 6 fractional digits.
type xmlTime struct{ time.Time }

func (t xmlTime) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format("2006-01-02T15:04:05.999999Z")), nil
}

func (t *xmlTime) UnmarshalText(b []byte) error {
	v, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}
