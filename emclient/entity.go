package emclient

import (
	"bytes"
	"encoding/xml"

	"github.com/agentdesk/agentdesk/emclient/internal/xmltok"
)

// A cold job page reads one AgentBackupJob entity (~8 KB of XML). Decoding it
// with encoding/xml's reflection (Decoder.Decode into the tagged types) was
// the largest share of a cold page's CPU; the walk below reads the same
// tokens, fills the same model and matches fields by hand, in the style of
// the list rows (listrows.go). It reads everything the model has: the job
// page shows nearly all of it (schedule, includes, guest processing,
// retention, links). The tagged types stay: emsim writes them, and the other
// answers decode through them.
//
// The walk mirrors encoding/xml: elements and attributes are matched by
// local name in any namespace, unknown ones are skipped, a string takes the
// element's own character data, an empty number or bool is zero, a repeated
// element overwrites (a struct one merges), and whatever the tagged types
// reject (a bad number, bool or date, a document cut short, tags that do not
// match) is an error. TestAgentJobDecodersAgree holds the two to the same
// values.

// agentJobEntity is the decoding target of AgentJob.
type agentJobEntity AgentBackupJob

func (e *agentJobEntity) decodeTokens(d *xmltok.Decoder) error {
	if err := firstStart(d, "AgentBackupJob"); err != nil {
		return err
	}
	return decodeAgentJob(d, (*AgentBackupJob)(e))
}

// decodeAgentJob reads an AgentBackupJob element, its start just read.
func decodeAgentJob(d *xmltok.Decoder, j *AgentBackupJob) error {
	j.XMLName = xml.Name{Space: d.Space(), Local: "AgentBackupJob"}
	j.Type, j.Href, j.Name, j.UID = attr(d, "Type"), attr(d, "Href"), attr(d, "Name"), attr(d, "UID")
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "Links":
			ls, err := links(d, keepLink)
			j.Links = append(j.Links, ls...)
			return err
		case "JobType":
			return into(d, &j.JobType)
		case "Platform":
			return into(d, &j.Platform)
		case "Description":
			return into(d, &j.Description)
		case "ScheduleConfigured":
			return boolInto(d, "ScheduleConfigured", &j.ScheduleConfigured)
		case "ScheduleEnabled":
			return boolInto(d, "ScheduleEnabled", &j.ScheduleEnabled)
		case "NextRun":
			t, err := timeText(d)
			j.NextRun = &Time{t}
			return err
		case "JobScheduleOptions":
			j.JobScheduleOptions = alloc(j.JobScheduleOptions)
			return eachChild(d, func(name []byte) error {
				if string(name) != "Standart" {
					return d.Skip()
				}
				o := alloc(j.JobScheduleOptions.Standart)
				j.JobScheduleOptions.Standart = o
				return decodeScheduleOptions(d, o)
			})
		case "JobInfo":
			j.JobInfo = alloc(j.JobInfo)
			return decodeJobInfo(d, j.JobInfo)
		}
		return d.Skip()
	})
}

// keepLink keeps every link whole (the list keeps only some Names and Hrefs).
func keepLink(string, string) bool { return true }

func decodeScheduleOptions(d *xmltok.Decoder, o *ScheduleOptions) error {
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "RetryOptions":
			r := alloc(o.RetryOptions)
			o.RetryOptions = r
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "RetryTimes":
					return intInto(d, "RetryTimes", &r.RetryTimes)
				case "RetryTimeout":
					return intInto(d, "RetryTimeout", &r.RetryTimeout)
				case "RetrySpecified":
					return boolInto(d, "RetrySpecified", &r.RetrySpecified)
				}
				return d.Skip()
			})
		case "WaitForBackupCompletion":
			return boolInto(d, "WaitForBackupCompletion", &o.WaitForBackupCompletion)
		case "BackupCompetitionWaitingPeriodMin":
			return intInto(d, "BackupCompetitionWaitingPeriodMin", &o.BackupCompetitionWaitingPeriodMin)
		case "OptionsDaily":
			x := alloc(o.OptionsDaily)
			o.OptionsDaily = x
			if err := boolAttr(d, "Enabled", &x.Enabled); err != nil {
				return err
			}
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "Kind":
					return into(d, &x.Kind)
				case "Days":
					return appendText(d, &x.Days)
				case "Time":
					return timeOfDay(d, &x.Time)
				case "TimeOffsetUtc":
					return intInto(d, "TimeOffsetUtc", &x.TimeOffsetUtc)
				}
				return d.Skip()
			})
		case "OptionsMonthly":
			x := alloc(o.OptionsMonthly)
			o.OptionsMonthly = x
			if err := boolAttr(d, "Enabled", &x.Enabled); err != nil {
				return err
			}
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "Time":
					return timeOfDay(d, &x.Time)
				case "TimeOffsetUtc":
					return intInto(d, "TimeOffsetUtc", &x.TimeOffsetUtc)
				case "DayNumberInMonth":
					return into(d, &x.DayNumberInMonth)
				case "DayOfWeek":
					return into(d, &x.DayOfWeek)
				case "Months":
					return appendText(d, &x.Months)
				case "DayOfMonth":
					return intInto(d, "DayOfMonth", &x.DayOfMonth)
				}
				return d.Skip()
			})
		case "OptionsPeriodically":
			x := alloc(o.OptionsPeriodically)
			o.OptionsPeriodically = x
			if err := boolAttr(d, "Enabled", &x.Enabled); err != nil {
				return err
			}
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "Kind":
					return into(d, &x.Kind)
				case "FullPeriod":
					return intInto(d, "FullPeriod", &x.FullPeriod)
				case "Schedule":
					return decodeTimePeriods(d, &x.Schedule)
				}
				return d.Skip()
			})
		case "OptionsContinuous":
			x := alloc(o.OptionsContinuous)
			o.OptionsContinuous = x
			if err := boolAttr(d, "Enabled", &x.Enabled); err != nil {
				return err
			}
			return onlyChild(d, "Schedule", func() error { return decodeTimePeriods(d, &x.Schedule) })
		case "OptionsBackupWindow":
			x := alloc(o.OptionsBackupWindow)
			o.OptionsBackupWindow = x
			if err := boolAttr(d, "Enabled", &x.Enabled); err != nil {
				return err
			}
			return onlyChild(d, "TimePeriods", func() error { return decodeTimePeriods(d, &x.TimePeriods) })
		case "OptionsDaisyChaining":
			x := alloc(o.OptionsDaisyChaining)
			o.OptionsDaisyChaining = x
			if err := boolAttr(d, "Enabled", &x.Enabled); err != nil {
				return err
			}
			return onlyChild(d, "PreviousJobUid", func() error { return into(d, &x.PreviousJobUID) })
		}
		return d.Skip()
	})
}

func decodeTimePeriods(d *xmltok.Decoder, p *TimePeriods) error {
	return eachChild(d, func(name []byte) error {
		if string(name) != "Day" {
			return d.Skip()
		}
		day := DayHours{Name: attr(d, "Name")}
		err := into(d, &day.Hours)
		p.Days = append(p.Days, day)
		return err
	})
}

func decodeJobInfo(d *xmltok.Decoder, ji *AgentJobInfo) error {
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "Includes":
			return eachChild(d, func(name []byte) error {
				if string(name) != "ObjectInAgentBackupJob" {
					return d.Skip()
				}
				var inc ObjectInAgentBackupJob
				err := decodeInclude(d, &inc)
				ji.Includes = append(ji.Includes, inc)
				return err
			})
		case "GuestProcessingOptions":
			ji.GuestProcessingOptions = alloc(ji.GuestProcessingOptions)
			return decodeGuest(d, ji.GuestProcessingOptions)
		case "GfsRetentionPolicy":
			g := alloc(ji.GfsRetentionPolicy)
			ji.GfsRetentionPolicy = g
			if err := boolAttr(d, "Enabled", &g.Enabled); err != nil {
				return err
			}
			return eachChild(d, func(name []byte) error {
				var p **GfsPeriod
				switch string(name) {
				case "Weekly":
					p = &g.Weekly
				case "Monthly":
					p = &g.Monthly
				case "Yearly":
					p = &g.Yearly
				default:
					return d.Skip()
				}
				*p = alloc(*p)
				return decodeGfsPeriod(d, *p)
			})
		case "SimpleRetentionPolicy":
			s := alloc(ji.SimpleRetentionPolicy)
			ji.SimpleRetentionPolicy = s
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "RetainCycles":
					return intInto(d, "RetainCycles", &s.RetainCycles)
				case "RetainDaysToKeep":
					return intInto(d, "RetainDaysToKeep", &s.RetainDaysToKeep)
				case "RetainLimitType":
					return into(d, &s.RetainLimitType)
				}
				return d.Skip()
			})
		}
		return d.Skip()
	})
}

func decodeGfsPeriod(d *xmltok.Decoder, p *GfsPeriod) error {
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "Enabled":
			return boolInto(d, "Enabled", &p.Enabled)
		case "RetentionPeriod":
			return intInto(d, "RetentionPeriod", &p.RetentionPeriod)
		case "SelectedDay":
			return into(d, &p.SelectedDay)
		case "SelectedWeek":
			return into(d, &p.SelectedWeek)
		case "SelectedMonth":
			return into(d, &p.SelectedMonth)
		}
		return d.Skip()
	})
}

// decodeInclude reads an ObjectInAgentBackupJob element, its start just read.
func decodeInclude(d *xmltok.Decoder, inc *ObjectInAgentBackupJob) error {
	inc.XMLName = xml.Name{Space: d.Space(), Local: "ObjectInAgentBackupJob"}
	inc.Type, inc.Href = attr(d, "Type"), attr(d, "Href")
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "ObjectInJobId":
			return into(d, &inc.ObjectInJobID)
		case "HierarchyObjRef":
			return into(d, &inc.HierarchyObjRef)
		case "Name":
			return into(d, &inc.Name)
		case "DisplayName":
			return into(d, &inc.DisplayName)
		case "GuestProcessingOptions":
			inc.GuestProcessingOptions = alloc(inc.GuestProcessingOptions)
			return decodeGuest(d, inc.GuestProcessingOptions)
		}
		return d.Skip()
	})
}

func decodeGuest(d *xmltok.Decoder, g *GuestProcessingOptions) error {
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "VssSnapshotOptions":
			v := alloc(g.VssSnapshotOptions)
			g.VssSnapshotOptions = v
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "VssSnapshotMode":
					return into(d, &v.VssSnapshotMode)
				case "IsCopyOnly":
					return boolInto(d, "IsCopyOnly", &v.IsCopyOnly)
				}
				return d.Skip()
			})
		case "WindowsGuestFSIndexingOptions":
			g.WindowsGuestFSIndexingOptions = alloc(g.WindowsGuestFSIndexingOptions)
			return decodeIndexing(d, g.WindowsGuestFSIndexingOptions)
		case "LinuxGuestFSIndexingOptions":
			g.LinuxGuestFSIndexingOptions = alloc(g.LinuxGuestFSIndexingOptions)
			return decodeIndexing(d, g.LinuxGuestFSIndexingOptions)
		case "SqlBackupOptions":
			s := alloc(g.SqlBackupOptions)
			g.SqlBackupOptions = s
			return eachChild(d, func(name []byte) error {
				switch string(name) {
				case "TransactionLogsProcessing":
					return into(d, &s.TransactionLogsProcessing)
				case "BackupLogsFrequencyMin":
					return intInto(d, "BackupLogsFrequencyMin", &s.BackupLogsFrequencyMin)
				case "UseDbBackupRetention":
					return boolInto(d, "UseDbBackupRetention", &s.UseDbBackupRetention)
				case "RetainDays":
					return intInto(d, "RetainDays", &s.RetainDays)
				}
				return d.Skip()
			})
		case "WindowsCredentialsId":
			return into(d, &g.WindowsCredentialsID)
		case "LinuxCredentialsId":
			return into(d, &g.LinuxCredentialsID)
		}
		return d.Skip()
	})
}

func decodeIndexing(d *xmltok.Decoder, o *GuestFSIndexingOptions) error {
	return eachChild(d, func(name []byte) error {
		var p *Paths
		switch string(name) {
		case "FileSystemIndexingMode":
			return into(d, &o.FileSystemIndexingMode)
		case "IncludedIndexingFolders":
			p = &o.IncludedIndexingFolders
		case "ExcludedIndexingFolders":
			p = &o.ExcludedIndexingFolders
		default:
			return d.Skip()
		}
		return eachChild(d, func(name []byte) error {
			if string(name) != "Path" {
				return d.Skip()
			}
			return appendText(d, &p.Paths)
		})
	})
}

// alloc returns p, or a new T when p is nil: a struct element seen twice
// fills the same value, as encoding/xml does.
func alloc[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// boolAttr sets *dst from the named attribute when present ("" is false).
func boolAttr(d *xmltok.Decoder, name string, dst *bool) error {
	for i := range d.NumAttr() {
		_, local, value := d.AttrAt(i)
		if string(local) != name {
			continue
		}
		if len(value) == 0 {
			*dst = false
			continue
		}
		v, err := parseBool(name, bytes.TrimSpace(value))
		if err != nil {
			return err
		}
		*dst = v
	}
	return nil
}

func into(d *xmltok.Decoder, dst *string) error {
	s, err := text(d)
	*dst = s
	return err
}

func appendText(d *xmltok.Decoder, dst *[]string) error {
	s, err := text(d)
	*dst = append(*dst, s)
	return err
}

func boolInto(d *xmltok.Decoder, name string, dst *bool) error {
	v, err := boolText(d, name)
	*dst = v
	return err
}

func intInto(d *xmltok.Decoder, name string, dst *int) error {
	v, err := intText(d, name)
	*dst = v
	return err
}

func timeOfDay(d *xmltok.Decoder, dst *TimeOfDay) error {
	var a [40]byte
	b, err := scalar(d, a[:0])
	dst.Raw = string(bytes.TrimSpace(b))
	return err
}

// onlyChild reads the child element name of the element d is in with read,
// skipping every other child.
func onlyChild(d *xmltok.Decoder, child string, read func() error) error {
	return eachChild(d, func(name []byte) error {
		if string(name) == child {
			return read()
		}
		return d.Skip()
	})
}
