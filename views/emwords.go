package views

// Plain words for the values Enterprise Manager sends. Every EM value the
// portal shows goes through this one table, so a helpdesk person never has to
// know EM's vocabulary ("IgnoreFailures", "Stopped") and the same value reads
// the same on every page. A value the table lacks is shown as EM sent it,
// marked, rather than guessed at; TestEMWordsCoverEM fails when EM's
// documented examples, emclient's types or the simulator use a value that is
// missing here.

// EM fields whose values are translated (the XML element names).
const (
	EMSessionState      = "State"                     // BackupJobSession
	EMSessionResult     = "Result"                    // BackupJobSession
	EMVssMode           = "VssSnapshotMode"           // GuestProcessingOptions
	EMIndexingMode      = "FileSystemIndexingMode"    // Windows/LinuxGuestFSIndexingOptions
	EMLogsProcessing    = "TransactionLogsProcessing" // SqlBackupOptions
	EMRetainLimitType   = "RetainLimitType"           // SimpleRetentionPolicy
	EMGfsSelectedWeek   = "SelectedWeek"              // GfsRetentionPolicy/Monthly
	EMGfsSelectedDay    = "SelectedDay"               // GfsRetentionPolicy/Weekly
	EMGfsSelectedMonth  = "SelectedMonth"             // GfsRetentionPolicy/Yearly
	EMDayNumberInMonth  = "DayNumberInMonth"          // OptionsMonthly
	EMDailyKind         = "OptionsDaily.Kind"         // OptionsDaily
	EMPeriodicallyKind  = "OptionsPeriodically.Kind"  // OptionsPeriodically
	EMIncludeObjectType = "HierarchyObjRef"           // the object type inside an include's reference
)

var weekdayWords = map[string]string{
	"Monday": "Monday", "Tuesday": "Tuesday", "Wednesday": "Wednesday", "Thursday": "Thursday",
	"Friday": "Friday", "Saturday": "Saturday", "Sunday": "Sunday",
}

// emWords maps field → EM value → plain words. The words complete a sentence
// or a "key: value" line; they never repeat the key.
var emWords = map[string]map[string]string{
	EMSessionState: {
		"Starting": "Starting",
		"Working":  "Running",
		"Pausing":  "Pausing",
		"Resuming": "Resuming",
		"Stopping": "Stopping",
		// EM says "Stopped" for every session that is over, whatever ended it.
		"Stopped": "Finished",
	},
	EMSessionResult: {
		"Success": "Success",
		"Warning": "Warning",
		"Failed":  "Failed",
		"None":    "No result yet",
	},
	EMVssMode: {
		"RequireSuccess": "On; the backup fails when it cannot be done",
		"IgnoreFailures": "On; the backup goes on without it when it fails",
		"Disabled":       "Off",
	},
	EMIndexingMode: {
		"EveryFolders":           "Every folder",
		"ExceptSpecifiedFolders": "Every folder except the ones listed",
		"SpecifiedFolders":       "Only the folders listed",
		"Disabled":               "Off",
	},
	EMLogsProcessing: {
		"OnlyOnSuccessJob": "Cleared after each successful backup",
		"Backup":           "Backed up on their own",
	},
	EMRetainLimitType: {
		"Cycles": "restore points",
		"Days":   "days",
	},
	EMGfsSelectedWeek: {
		"First":  "the first week of each month",
		"Second": "the second week of each month",
		"Third":  "the third week of each month",
		"Fourth": "the fourth week of each month",
		"Last":   "the last week of each month",
	},
	EMGfsSelectedDay: weekdayWords,
	EMGfsSelectedMonth: {
		"January": "January", "February": "February", "March": "March", "April": "April",
		"May": "May", "June": "June", "July": "July", "August": "August",
		"September": "September", "October": "October", "November": "November", "December": "December",
	},
	EMDayNumberInMonth: {
		"First":  "first",
		"Second": "second",
		"Third":  "third",
		"Fourth": "fourth",
		"Last":   "last",
		"OnDay":  "on a day number",
	},
	EMDailyKind: {
		"Everyday":     "every day",
		"WeekDays":     "on weekdays",
		"SelectedDays": "on the days chosen",
	},
	EMPeriodicallyKind: {
		"Hours":   "hours",
		"Minutes": "minutes",
	},
	EMIncludeObjectType: {
		"AgentProtectionGroup": "Protection group",
		"VeeamAgent":           "Computer",
	},
}

// EMWord is the plain words for an EM value, and whether the table knows it.
func EMWord(field, value string) (string, bool) {
	w, ok := emWords[field][value]
	return w, ok
}

// PlainEM is EMWord for display: a value the table lacks is shown as EM sent
// it, marked as EM's own word, so nothing is hidden and nothing is guessed.
// The empty value stays empty.
func PlainEM(field, value string) string {
	if value == "" {
		return ""
	}
	if w, ok := EMWord(field, value); ok {
		return w
	}
	return value + " (Enterprise Manager's term)"
}

// EMValues lists the values the table knows for field (for tests and docs).
func EMValues(field string) []string {
	var out []string
	for v := range emWords[field] {
		out = append(out, v)
	}
	return out
}
