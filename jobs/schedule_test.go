package jobs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
)

func hours(on func(h int) bool) string {
	var b strings.Builder
	for h := 0; h < 24; h++ {
		if h > 0 {
			b.WriteByte(',')
		}
		if on(h) {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

func grid(days []string, on func(h int) bool) emclient.TimePeriods {
	var tp emclient.TimePeriods
	for _, d := range []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"} {
		f := func(int) bool { return false }
		for _, x := range days {
			if x == d {
				f = on
			}
		}
		tp.Days = append(tp.Days, emclient.DayHours{Name: d, Hours: hours(f)})
	}
	return tp
}

var (
	allDays  = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	weekDays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}
	always   = func(int) bool { return true }
)

func TestDescribeSchedule(t *testing.T) {
	tests := []struct {
		name       string
		configured bool
		enabled    bool
		opts       *emclient.ScheduleOptions
		want       []string
	}{
		{"not configured", false, false, nil, []string{"No schedule: runs only when started by hand"}},
		{"daily everyday with retries (the documented example)", true, true, &emclient.ScheduleOptions{
			RetryOptions: &emclient.RetryOptions{RetryTimes: 3, RetryTimeout: 10, RetrySpecified: true},
			OptionsDaily: &emclient.OptionsDaily{Enabled: true, Kind: "Everyday", Time: emclient.TimeOfDay{Raw: "16:00:00.0000000+01:00"}},
		}, []string{"Every day at 16:00", "Times are in UTC+1, as Enterprise Manager gives them", "Retries: 3 times every 10 minutes"}},
		{"weekdays", true, true, &emclient.ScheduleOptions{
			OptionsDaily: &emclient.OptionsDaily{Enabled: true, Kind: "WeekDays", Time: emclient.TimeOfDay{Raw: "22:30:00"}},
		}, []string{"On weekdays at 22:30"}},
		{"selected days", true, true, &emclient.ScheduleOptions{
			OptionsDaily: &emclient.OptionsDaily{Enabled: true, Kind: "SelectedDays", Days: []string{"Monday", "Thursday"}, Time: emclient.TimeOfDay{Raw: "02:00:00.0000000Z"}},
		}, []string{"Every Monday and Thursday at 02:00", "Times are in UTC, as Enterprise Manager gives them"}},
		{"every 4 hours on weekdays", true, true, &emclient.ScheduleOptions{
			OptionsPeriodically: &emclient.OptionsPeriodically{Enabled: true, Kind: "Hours", FullPeriod: 4, Schedule: grid(weekDays, always)},
		}, []string{"Every 4 hours on weekdays"}},
		{"every 30 minutes in office hours", true, true, &emclient.ScheduleOptions{
			OptionsPeriodically: &emclient.OptionsPeriodically{Enabled: true, Kind: "Minutes", FullPeriod: 30, Schedule: grid(allDays, func(h int) bool { return h >= 8 && h < 18 })},
		}, []string{"Every 30 minutes 08:00–18:00"}},
		{"monthly on the last Friday", true, true, &emclient.ScheduleOptions{
			OptionsMonthly: &emclient.OptionsMonthly{Enabled: true, Time: emclient.TimeOfDay{Raw: "22:00:00.0000000+02:00"}, DayNumberInMonth: "Last", DayOfWeek: "Friday", Months: []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}},
		}, []string{"Every month on the last Friday at 22:00", "Times are in UTC+2, as Enterprise Manager gives them"}},
		{"daily and monthly in different zones keep theirs", true, true, &emclient.ScheduleOptions{
			OptionsDaily:   &emclient.OptionsDaily{Enabled: true, Kind: "Everyday", Time: emclient.TimeOfDay{Raw: "16:00:00+01:00"}},
			OptionsMonthly: &emclient.OptionsMonthly{Enabled: true, Time: emclient.TimeOfDay{Raw: "22:00:00+02:00"}, DayNumberInMonth: "OnDay", DayOfMonth: 1},
		}, []string{"Every day at 16:00 (UTC+1)", "Every month on day 1 at 22:00 (UTC+2)"}},
		{"monthly on day 15 in some months", true, true, &emclient.ScheduleOptions{
			OptionsMonthly: &emclient.OptionsMonthly{Enabled: true, Time: emclient.TimeOfDay{Raw: "01:00:00"}, DayNumberInMonth: "OnDay", DayOfMonth: 15, Months: []string{"March", "June"}},
		}, []string{"In March and June, on day 15 at 01:00"}},
		{"continuous with a backup window, disabled", true, false, &emclient.ScheduleOptions{
			OptionsContinuous:   &emclient.OptionsContinuous{Enabled: true},
			OptionsBackupWindow: &emclient.OptionsBackupWindow{Enabled: true, TimePeriods: grid(allDays, func(h int) bool { return h < 6 || h >= 20 })},
			RetryOptions:        &emclient.RetryOptions{RetrySpecified: false},
		}, []string{"Continuously", "Backup window: 00:00–06:00, 20:00–00:00", "No automatic retries", "The schedule is disabled: the job will not run by itself"}},
		{"configured but nothing enabled", true, true, &emclient.ScheduleOptions{
			OptionsDaily: &emclient.OptionsDaily{Enabled: false, Kind: "Everyday"},
		}, []string{"Scheduled, but no schedule option is enabled"}},
		{"bad time shown raw", true, true, &emclient.ScheduleOptions{
			OptionsDaily: &emclient.OptionsDaily{Enabled: true, Kind: "Everyday", Time: emclient.TimeOfDay{Raw: "soon"}},
		}, []string{"Every day at soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o *emclient.JobScheduleOptions
			if tt.opts != nil {
				o = &emclient.JobScheduleOptions{Standart: tt.opts}
			}
			got := DescribeSchedule(tt.configured, tt.enabled, o)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestTaskWords(t *testing.T) {
	for _, tt := range []struct{ name, msg, want string }{
		{`"Gold" tier`, `Job ""Gold" tier" triggered to start.`, "Enterprise Manager is starting the backup."},
		{"Erin's laptop", `Job "Erin's laptop" is already running.`, "The backup is already running."},
		{"Erin's laptop", `Job "Erin's laptop" was deleted.`, "This job was deleted."},
		{"Erin's laptop", "Access denied.", "Access denied."},
	} {
		if got := taskWords(tt.name, tt.msg); got != tt.want {
			t.Errorf("taskWords(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestDescribeHoursPerDay(t *testing.T) {
	var mon, sat [24]bool
	for h := 8; h < 18; h++ {
		mon[h] = true
	}
	for h := 10; h < 12; h++ {
		sat[h] = true
	}
	row := func(h [24]bool) string {
		s := make([]string, 24)
		for i, v := range h {
			s[i] = "0"
			if v {
				s[i] = "1"
			}
		}
		return strings.Join(s, ",")
	}
	tp := emclient.TimePeriods{Days: []emclient.DayHours{{Name: "Monday", Hours: row(mon)}, {Name: "Saturday", Hours: row(sat)}}}
	if got, want := describeHours(tp, "window"), "Monday 08:00–18:00; Saturday 10:00–12:00"; got != want {
		t.Errorf("describeHours = %q, want %q", got, want)
	}
}

// TestScheduleWordsOfAReadJob: a job read for its page carries its schedule
// in the words DescribeSchedule gives for EM's schedule, worked out when it
// was read; a job of the list snapshot (no schedule options) works them out
// when asked.
func TestScheduleWordsOfAReadJob(t *testing.T) {
	svc, sim := newSimService(t, time.Hour)
	ctx := context.Background()
	for _, sj := range sim.Jobs() {
		j, _, err := svc.Job(ctx, sj.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := DescribeSchedule(j.ScheduleConfigured, j.ScheduleEnabled, j.Entity.JobScheduleOptions)
		if got := j.ScheduleWords(); !slices.Equal(got, want) {
			t.Errorf("job %s: ScheduleWords %q, DescribeSchedule %q", j.Name, got, want)
		}
		if j.schedule == nil {
			t.Errorf("job %s: read without its schedule words", j.Name)
		}
	}
	listed := &Job{ScheduleConfigured: true, ScheduleEnabled: true, Entity: &emclient.AgentBackupJob{}}
	if got, want := listed.ScheduleWords(), DescribeSchedule(true, true, nil); !slices.Equal(got, want) {
		t.Errorf("a listed job's words %q, want %q", got, want)
	}
}
